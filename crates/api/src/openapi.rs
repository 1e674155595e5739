//! The OpenAPI 3.1 document, generated from the route tables so it cannot miss a route, and
//! from the field catalogue and the core's enumerations (operators, channels, lead stages,
//! search ranks) so its schemas name what the code accepts.

use contacts_core::bulk;
use contacts_core::contacts::access::Role;
use contacts_core::import::mapping::{Policy, MAX_TAGS as MAX_IMPORT_TAGS};
use contacts_core::kernel::fields::{Catalogue, Field, FieldType};
use contacts_core::kernel::values::{Channel, LeadStage};
use contacts_core::merge::duplicates::{self, Reason};
use contacts_core::merge::MAX_CONTACTS;
use contacts_core::query::filter::Op;
use contacts_core::query::page::{DEFAULT_LIMIT, MAX_LIMIT};
use contacts_core::search::{Rank, MAX_QUERY_CHARS};
use serde_json::{json, Map, Value as Json};

use crate::routes::{self, Access, Answer, RouteDoc};

pub fn document() -> Json {
    let mut paths: Map<String, Json> = Map::new();
    for (component, table) in routes::all() {
        for r in table {
            let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
            entry[r.method.to_lowercase()] = operation(component, r);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Contacts",
            "version": "1",
            "description": "Contact management of an omnichannel customer-service platform. \
                Errors are RFC 9457 application/problem+json with a stable `type`; \
                `field` names the offending field (`custom.<key>` for custom fields, the \
                JSON path within a filter)."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
        "paths": paths,
    })
}

fn operation(component: &str, r: &RouteDoc) -> Json {
    let path_params = r
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
    let query_params = r.query.iter().map(|name| query_parameter(name));
    let mut op = json!({
        "summary": r.summary,
        "tags": [component],
        "parameters": path_params.chain(query_params).collect::<Vec<_>>(),
        "responses": {
            "4XX": {"description": "A problem", "content": {"application/problem+json": {"schema": schema_ref("Problem")}}}
        }
    });
    let (status, success) = success_response(r.answer);
    op["responses"][status] = success;
    if let Some(body) = r.body {
        op["requestBody"] = json!({
            "required": true,
            "content": {r.body_media: {"schema": schema_ref(body)}}
        });
    }
    op["security"] = match r.access {
        Access::Public | Access::Signed => json!([]),
        Access::Agent | Access::Admin => json!([{"bearer": []}]),
    };
    if r.access == Access::Admin {
        op["description"] = json!("Admin role only.");
    }
    // Who may call it, machine-readable: the console shows a role only what it may do, and
    // the access walk (tests/tests/access.rs) calls every route as each role.
    op["x-access"] = json!(r.access.as_str());
    op
}

fn success_response(answer: Answer) -> (String, Json) {
    match answer {
        Answer::Json(status, schema) => (
            status.to_string(),
            json!({"description": "Success", "content": {"application/json": {"schema": schema_ref(schema)}}}),
        ),
        Answer::Text => (
            "200".into(),
            json!({"description": "Success", "content": {"text/plain": {"schema": {"type": "string"}}}}),
        ),
        Answer::Csv => (
            "200".into(),
            json!({"description": "Success", "content": {"text/csv": {"schema": {"type": "string"}}}}),
        ),
        Answer::NoContent => ("204".into(), json!({"description": "Done"})),
    }
}

/// Every query parameter a route table names, described once.
fn query_parameter(name: &str) -> Json {
    let (schema, required, description) = match name {
        "limit" => (
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
            false,
            "Page size.",
        ),
        "cursor" => (
            json!({"type": "string"}),
            false,
            "The `next_cursor` of the previous page.",
        ),
        "fields" => (
            json!({"type": "string"}),
            false,
            "Comma-separated field keys shown in each item, instead of the caller's table view.",
        ),
        "sort" => (
            json!({"type": "string"}),
            false,
            "Comma-separated sortable field keys, `-` before a key for descending.",
        ),
        "segment" => (
            json!({"type": "string", "default": "all"}),
            false,
            "`all`, `blocked` or a saved segment's id.",
        ),
        "q" => (
            json!({"type": "string", "maxLength": MAX_QUERY_CHARS}),
            true,
            "The words to search for; every word must match.",
        ),
        "hub.mode" => (json!({"const": "subscribe"}), true, "Set by Meta."),
        "hub.verify_token" => (
            json!({"type": "string"}),
            true,
            "Must equal the app's `meta_verify_token`.",
        ),
        "hub.challenge" => (
            json!({"type": "string", "maxLength": 256}),
            true,
            "Echoed back as the body.",
        ),
        // Caught by the tests below, which document every route.
        other => (json!({}), false, other),
    };
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

fn schema_ref(name: &str) -> Json {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn page_of(item: Json) -> Json {
    json!({
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next_cursor": {"type": ["string", "null"], "description": "null on the last page."}
        }
    })
}

/// An object whose one member, `member`, is an array of `schema`.
fn list_of(member: &str, schema: &str) -> Json {
    json!({
        "type": "object",
        "required": [member],
        "properties": {member: {"type": "array", "items": schema_ref(schema)}}
    })
}

fn strings(values: impl IntoIterator<Item = impl Into<String>>) -> Json {
    Json::Array(values.into_iter().map(|v| Json::String(v.into())).collect())
}

fn schemas() -> Map<String, Json> {
    let problem = ("Problem", problem_schema());
    std::iter::once(problem)
        .chain(crud_schemas())
        .chain(filter_schemas())
        .chain(search_and_block_schemas())
        .chain(hook_schemas())
        .chain(console_schemas())
        .chain(merge_schemas())
        .chain(bulk_schemas())
        .chain(import_schemas())
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect()
}

/// What the web console needs beyond the contract: who the caller is.
fn console_schemas() -> Vec<(&'static str, Json)> {
    let role = json!({"enum": strings([Role::Admin.as_str(), Role::Agent.as_str()])});
    vec![(
        "Principal",
        json!({
            "type": "object",
            "required": ["login", "role"],
            "properties": {"login": {"type": "string"}, "role": role}
        }),
    )]
}

fn problem_schema() -> Json {
    json!({
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "field": {"type": "string"},
            "existing_contact_id": {"type": "string"}
        }
    })
}

/// A page's item: `contact_id` and the columns shown.
fn list_item() -> Json {
    json!({
        "type": "object",
        "required": ["contact_id"],
        "description": "`contact_id` and the columns shown (the table view or `fields`).",
        "additionalProperties": true
    })
}

fn channel_schema() -> Json {
    json!({"enum": strings(Channel::ALL.map(Channel::as_str))})
}

/// The crud component's bodies: contacts, history, fields, table views, tokens, settings.
fn crud_schemas() -> Vec<(&'static str, Json)> {
    let catalogue = Catalogue::with_custom(Vec::new());
    let system = catalogue.fields();
    let role = json!({"enum": strings([Role::Admin.as_str(), Role::Agent.as_str()])});
    let lead_stage = json!({"enum": strings(LeadStage::ALL.map(LeadStage::as_str))});
    vec![
        ("Contact", contact_schema(system)),
        ("ContactInput", contact_input_schema(system)),
        ("ContactPage", page_of(list_item())),
        (
            "HistoryPage",
            page_of(json!({
                "type": "object",
                "required": ["at", "action", "actor", "fields"],
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "action": {"enum": ["create", "update", "merge", "block", "unblock", "import", "delete"]},
                    "actor": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                    "merged": {
                        "type": "array", "items": {"type": "string"},
                        "description": "On a merge item: the Contact IDs merged into this contact."
                    }
                }
            })),
        ),
        (
            "Field",
            json!({
                "type": "object",
                "required": ["key", "label", "type", "system", "filterable", "sortable", "searchable", "importable"],
                "properties": {
                    "key": {"type": "string", "description": "`custom.<key>` for custom fields."},
                    "label": {"type": "string"},
                    "type": {"type": "string"},
                    "system": {"type": "boolean"},
                    "options": {"type": "array", "items": {"type": "string"}},
                    "filterable": {"type": "boolean"},
                    "sortable": {"type": "boolean"},
                    "searchable": {"type": "boolean"},
                    "importable": {"type": "boolean"},
                    "writable": {"type": "boolean", "description": "Whether a create or update may set it."},
                    "operators": {"type": "array", "items": {"enum": strings(Op::ALL.map(Op::name))}, "description": "The filter operators this field takes (filterable fields only)."}
                }
            }),
        ),
        ("FieldList", list_of("items", "Field")),
        (
            "FieldInput",
            json!({
                "type": "object",
                "required": ["key", "label", "type"],
                "properties": {
                    "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 40},
                    "label": {"type": "string"},
                    "type": {"enum": strings(FieldType::CUSTOM.map(type_name))},
                    "options": {"type": "array", "items": {"type": "string"}, "description": "single_select and multi_select only."}
                }
            }),
        ),
        (
            "FieldPatch",
            json!({
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "options": {"type": "array", "items": {"type": "string"}}
                }
            }),
        ),
        (
            "TableView",
            json!({
                "type": "object",
                "required": ["columns"],
                "properties": {"columns": {"type": "array", "items": {"type": "string"}}}
            }),
        ),
        (
            "TokenRequest",
            json!({
                "type": "object",
                "required": ["login", "role"],
                "properties": {"login": {"type": "string"}, "role": role}
            }),
        ),
        (
            "Token",
            json!({
                "type": "object",
                "required": ["token", "login", "role"],
                "properties": {"token": {"type": "string"}, "login": {"type": "string"}, "role": role}
            }),
        ),
        (
            "AutocreateSettings",
            json!({
                "type": "object",
                "required": ["channels"],
                "properties": {"channels": {
                    "type": "object",
                    "propertyNames": channel_schema(),
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "enabled": {"type": "boolean"},
                            "match": {"type": "array", "items": {"enum": ["email", "phone"]}},
                            "lead_stage": lead_stage
                        }
                    }
                }}
            }),
        ),
        (
            "OpenApi",
            json!({"type": "object", "description": "This document."}),
        ),
    ]
}

/// The filter component's bodies: the filter language, queries, segments.
fn filter_schemas() -> Vec<(&'static str, Json)> {
    vec![
        (
            "Filter",
            json!({
                "description": "A group: `{\"all\": [..]}` or `{\"any\": [..]}`, whose items are groups or conditions.",
                "oneOf": [
                    {"type": "object", "required": ["all"], "additionalProperties": false,
                     "properties": {"all": {"type": "array", "items": {"anyOf": [schema_ref("Filter"), schema_ref("Condition")]}}}},
                    {"type": "object", "required": ["any"], "additionalProperties": false,
                     "properties": {"any": {"type": "array", "items": {"anyOf": [schema_ref("Filter"), schema_ref("Condition")]}}}}
                ]
            }),
        ),
        (
            "Condition",
            json!({
                "type": "object",
                "required": ["field", "op"],
                "properties": {
                    "field": {"type": "string", "description": "A filterable field key; `custom.<key>` for custom fields."},
                    "op": {"enum": strings(Op::ALL.map(Op::name))},
                    "value": {"description": "As the operator needs: none, one value, `[low, high]` for between, a list for in / has_*."}
                }
            }),
        ),
        ("QueryRequest", query_request_schema()),
        (
            "QueryPage",
            json!({
                "allOf": [page_of(list_item()), {"type": "object", "required": ["total"], "properties": {"total": {"type": "integer"}}}]
            }),
        ),
        (
            "Segment",
            json!({
                "type": "object",
                "required": ["id", "name", "filter", "count", "system"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "filter": schema_ref("Filter"),
                    "count": {"type": "integer"},
                    "system": {"type": "boolean"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "created_by": {"type": "string"},
                    "updated_at": {"type": "string", "format": "date-time"}
                }
            }),
        ),
        ("SegmentList", list_of("items", "Segment")),
        (
            "SegmentInput",
            json!({
                "type": "object",
                "required": ["name", "filter"],
                "properties": {"name": {"type": "string"}, "filter": schema_ref("Filter")}
            }),
        ),
        (
            "SegmentPatch",
            json!({
                "type": "object",
                "properties": {"name": {"type": "string"}, "filter": schema_ref("Filter")}
            }),
        ),
    ]
}

/// The search and block components' bodies.
fn search_and_block_schemas() -> Vec<(&'static str, Json)> {
    let mut search_item = list_item();
    search_item["properties"] = json!({"match": {"enum": strings(Rank::ALL.map(Rank::as_str))}});
    vec![
        ("SearchPage", page_of(search_item)),
        (
            "BlockRequest",
            json!({
                "type": "object",
                "required": ["ids"],
                "properties": {"ids": {"type": "array", "items": {"type": "string"}, "minItems": 1}}
            }),
        ),
        (
            "BlockResult",
            json!({
                "type": "object",
                "required": ["blocked", "already_blocked"],
                "properties": {
                    "blocked": {"type": "array", "items": {"type": "string"}},
                    "already_blocked": {"type": "array", "items": {"type": "string"}}
                }
            }),
        ),
    ]
}

/// The merge component's bodies: duplicates per contact and as groups, merge request and
/// answer.
fn merge_schemas() -> Vec<(&'static str, Json)> {
    let reasons =
        json!({"type": "array", "items": {"enum": strings(Reason::ALL.map(Reason::as_str))}});
    let ids = json!({"type": "array", "items": {"type": "string"}});
    let summary = json!({
        "type": "object",
        "required": ["contact_id", "display_name"],
        "description": "What a duplicate prompt and the merge dialog show of a contact.",
        "properties": {
            "contact_id": {"type": "string"}, "display_name": {"type": "string"},
            "email": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
            "company": {"type": ["string", "null"]}, "lead_stage": {"type": "string"},
            "owner": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "last_activity_at": {"type": ["string", "null"], "format": "date-time"},
            "conversation_count": {"type": "integer"}, "blocked": {"type": "boolean"}
        }
    });
    let mut candidate = summary.clone();
    candidate["required"] = json!(["contact_id", "reasons", "display_name"]);
    candidate["properties"]["reasons"] = reasons.clone();
    vec![
        (
            "DuplicateList",
            json!({
                "type": "object",
                "required": ["items"],
                "properties": {"items": {
                    "type": "array", "items": candidate, "maxItems": duplicates::MAX_CANDIDATES,
                    "description": "Strongest evidence first. A contact read's possible_duplicates counts them all."
                }}
            }),
        ),
        (
            "DuplicateGroupPage",
            page_of(json!({
                "type": "object",
                "required": ["contact_ids", "reasons", "size", "contacts"],
                "properties": {
                    "contact_ids": ids.clone(),
                    "reasons": reasons,
                    "size": {"type": "integer", "description": "How many contacts share the group's evidence; contact_ids lists at most the first 100."},
                    "contacts": {"type": "array", "items": summary}
                }
            })),
        ),
        (
            "MergeRequest",
            json!({
                "type": "object",
                "required": ["primary", "secondaries"],
                "properties": {
                    "primary": {"type": "string"},
                    "secondaries": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                    "maxItems": MAX_CONTACTS - 1, "uniqueItems": true},
                    "dry_run": {"type": "boolean", "default": false}
                }
            }),
        ),
        (
            "MergeResult",
            json!({
                "type": "object",
                "required": ["contact"],
                "properties": {
                    "contact": schema_ref("Contact"),
                    "merged": {"description": "The secondaries' Contact IDs (absent on a dry run).", "type": "array", "items": {"type": "string"}}
                }
            }),
        ),
    ]
}

/// The bulk component's bodies.
fn bulk_schemas() -> Vec<(&'static str, Json)> {
    let job = json!({
        "type": "object",
        "required": ["id", "state", "total", "processed"],
        "properties": {
            "id": {"type": "string"},
            "state": {"enum": ["running", "done"]},
            "total": {"type": "integer", "description": "Contacts in the target set, frozen when the job started."},
            "processed": {"type": "integer", "description": "Targets done so far."},
            "action": {"enum": strings(bulk::ACTIONS)},
            "changed": {"type": "integer", "description": "Targets the action changed (those already as asked are left alone)."},
            "conflicts": {
                "type": "array",
                "description": "recheck_phones only (empty otherwise): contacts whose primary phone, read again, is another contact's primary phone (`holder`). Their primary phone keeps its old key; merge each pair, then run recheck_phones again. At most 1,000.",
                "items": {"type": "object", "properties": {"contact_id": {"type": "string"}, "holder": {"type": "string"}}}
            },
            "created_by": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"}
        }
    });
    vec![
        (
            "BulkRequest",
            json!({
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"enum": strings(bulk::ACTIONS)},
                    "params": {
                        "type": "object",
                        "description": "assign_owner {owner: login | null}; add_tags / remove_tags {tags}; \
                            set_field {field, value} (a writable system field or `custom.<key>`, \
                            checked as a PATCH checks it; null clears); set_lead_stage {stage}; \
                            block, unblock, delete: none; recheck_phones (none): reads \
                            every phone number written with a country code again and sets its \
                            match key by today's rules (the repair for keys stored before \
                            2026-12-05, when such a number was read by the default region's rules)."
                    },
                    "target": {
                        "type": "object",
                        "description": "One of {ids}, {segment}, {filter, segment?} (a filter within segment `all` unless one is named); absent: every contact of segment `all`.",
                        "properties": {
                            "ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": bulk::MAX_IDS},
                            "segment": {"type": "string", "description": "`all`, `blocked` or a saved segment's id."},
                            "filter": schema_ref("Filter")
                        }
                    },
                    "dry_run": {"type": "boolean"},
                    "confirm_count": {"type": "integer", "description": "Required by delete: the number of contacts the target holds now."}
                }
            }),
        ),
        (
            "BulkAnswer",
            json!({
                "oneOf": [
                    {"type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}},
                    {"type": "object", "required": ["job"], "properties": {"job": schema_ref("BulkJob")}}
                ]
            }),
        ),
        ("BulkJob", job),
        (
            "BulkJobAnswer",
            json!({"type": "object", "required": ["job"], "properties": {"job": schema_ref("BulkJob")}}),
        ),
    ]
}

/// The auto-create hooks' bodies.
fn hook_schemas() -> Vec<(&'static str, Json)> {
    vec![
        (
            "GenericEvent",
            json!({
                "type": "object",
                "required": ["event_id", "channel", "external_id"],
                "properties": {
                    "event_id": {"type": "string"},
                    "channel": channel_schema(),
                    "external_id": {"type": "string"},
                    "name": {"type": "string"},
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "email": {"type": "string"},
                    "phone": {"type": "string"},
                    "conversation_id": {"type": "string"},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "visitor": {"type": "object", "properties": {
                        "ip": {"type": "string"}, "browser": {"type": "string"},
                        "os": {"type": "string"}, "page_url": {"type": "string"}
                    }}
                }
            }),
        ),
        (
            "MetaDelivery",
            json!({
                "type": "object",
                "description": "A WhatsApp Cloud API, Messenger or Instagram webhook delivery, as Meta sends it.",
            }),
        ),
        (
            "TelegramUpdate",
            json!({
                "type": "object",
                "description": "A Telegram Bot API update, as Telegram sends it.",
            }),
        ),
        (
            "HookResult",
            json!({
                "type": "object",
                "required": ["contact_id", "created", "dropped", "duplicate"],
                "properties": {
                    "contact_id": {"type": ["string", "null"]},
                    "created": {"type": "boolean"},
                    "dropped": {"type": "boolean"},
                    "duplicate": {"type": "boolean"}
                }
            }),
        ),
        ("HookResults", list_of("results", "HookResult")),
    ]
}

/// `POST /api/query`'s body. Every member is optional, and null means absent.
fn query_request_schema() -> Json {
    let sort_key = json!({
        "type": "object",
        "required": ["field"],
        "properties": {"field": {"type": "string"}, "dir": {"enum": ["asc", "desc"]}}
    });
    let members = [
        ("filter", schema_ref("Filter")),
        (
            "segment",
            json!({"type": ["string", "integer"], "default": "all"}),
        ),
        (
            "sort",
            json!({"oneOf": [{"type": "string"}, {"type": "array", "items": sort_key}]}),
        ),
        (
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        ),
        ("cursor", json!({"type": "string"})),
        (
            "fields",
            json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
        ),
    ];
    let properties: Map<String, Json> = members
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), nullable(schema)))
        .collect();
    json!({"type": "object", "additionalProperties": false, "properties": properties})
}

/// A contact as read: every system field, `custom`, `identities` and how many possible
/// duplicates it has.
fn contact_schema(system: &[Field]) -> Json {
    const NEVER_NULL: &[&str] = &["contact_id", "display_name", "created_at", "updated_at"];
    let mut properties: Map<String, Json> = system
        .iter()
        .map(|f| {
            let schema = value_schema(f);
            let schema = if NEVER_NULL.contains(&f.key.as_str()) {
                schema
            } else {
                nullable(schema)
            };
            (f.key.clone(), schema)
        })
        .collect();
    properties.insert(
        "custom".into(),
        json!({"type": "object", "description": "Custom field values by key."}),
    );
    properties.insert("identities".into(), identities_schema());
    properties.insert("possible_duplicates".into(), json!({"type": "integer"}));
    json!({
        "type": "object",
        "required": ["contact_id", "display_name", "created_at", "updated_at", "tags", "custom", "identities"],
        "properties": properties
    })
}

/// What create and update take: the writable system fields (null or "" clears one), `tags`,
/// `custom` (by key; null clears), `identities`; `contact_id` on create only (generated when
/// absent). Any other key is a 422.
fn contact_input_schema(system: &[Field]) -> Json {
    let mut properties: Map<String, Json> = system
        .iter()
        .filter(|f| f.writable)
        .map(|f| (f.key.clone(), nullable(value_schema(f))))
        .collect();
    properties.insert(
        "contact_id".into(),
        json!({"type": "string", "description": "Create only."}),
    );
    properties.insert(
        "custom".into(),
        json!({"type": "object", "description": "Custom field values by key."}),
    );
    properties.insert("identities".into(), identities_schema());
    json!({
        "type": "object",
        "description": "A new contact needs at least one of email, phone or contact_id.",
        "additionalProperties": false,
        "properties": properties
    })
}

fn identities_schema() -> Json {
    json!({
        "type": "array",
        "items": {
            "type": "object",
            "required": ["channel", "external_id"],
            "properties": {"channel": {"type": "string"}, "external_id": {"type": "string"}}
        }
    })
}

/// The JSON a field's value takes (SPEC §9).
fn value_schema(f: &Field) -> Json {
    let strings_of = |items: Json| json!({"type": "array", "items": items});
    match f.ty {
        FieldType::Text | FieldType::LongText | FieldType::Link | FieldType::Phone => {
            json!({"type": "string"})
        }
        FieldType::Owner => json!({"type": "string", "description": "An agent's login."}),
        FieldType::Email => json!({"type": "string", "format": "email"}),
        FieldType::Number => json!({"type": "number"}),
        FieldType::Checkbox => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Datetime => json!({"type": "string", "format": "date-time"}),
        FieldType::SingleSelect => match &f.options {
            Some(options) => json!({"enum": options}),
            None => json!({"type": "string"}),
        },
        FieldType::MultiSelect | FieldType::Tags | FieldType::PhoneList => {
            strings_of(json!({"type": "string"}))
        }
        FieldType::EmailList => strings_of(json!({"type": "string", "format": "email"})),
    }
}

fn nullable(schema: Json) -> Json {
    json!({"anyOf": [schema, {"type": "null"}]})
}

fn type_name(t: FieldType) -> String {
    json!(t).as_str().unwrap_or_default().to_owned()
}

/// The import component's bodies and answers.
fn import_schemas() -> Vec<(&'static str, Json)> {
    let policies = strings(Policy::ALL.map(Policy::as_str));
    let count = json!({"type": "integer", "minimum": 0});
    vec![
        (
            "CsvText",
            json!({
                "type": "string",
                "description": "CSV text: UTF-8 (with or without BOM) or Latin-1; comma, semicolon, tab or pipe \
                    delimited. Chunks carry whole lines, the header in chunk 1 only, at most 10 MB."
            }),
        ),
        (
            "ImportPreview",
            json!({
                "type": "object",
                "required": ["encoding", "delimiter", "header", "suggested_mapping", "sample_rows", "row_count"],
                "properties": {
                    "encoding": {"enum": ["utf-8", "utf-8-bom", "latin-1"]},
                    "delimiter": {"enum": [",", ";", "\t", "|"]},
                    "header": {"type": "array", "items": {"type": "string"}},
                    "suggested_mapping": {
                        "type": "object",
                        "description": "Column name → the field key it matches (key or label, case and spaces ignored), or null.",
                        "additionalProperties": {"type": ["string", "null"]}
                    },
                    "sample_rows": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                    "row_count": {"type": "integer", "description": "Data rows (after the header) in what was sent."}
                }
            }),
        ),
        (
            "ImportRequest",
            json!({
                "type": "object",
                "required": ["mapping"],
                "properties": {
                    "mapping": {
                        "type": "object",
                        "description": "Column name → field key (`custom.<key>` for custom fields), or null to skip \
                            the column. One of contact_id, email, phone must be mapped.",
                        "additionalProperties": {"type": ["string", "null"]}
                    },
                    "policies": {
                        "type": "object",
                        "description": "Field key → conflict policy; default update_blank_only. append: text and multi-value fields only.",
                        "additionalProperties": {"enum": policies}
                    },
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_IMPORT_TAGS},
                    "default_region": {"type": "string", "description": "ISO 3166 region for phones without a country code; default the app's."}
                }
            }),
        ),
        (
            "ImportJob",
            json!({
                "type": "object",
                "required": ["id", "state", "processed", "counts", "next_seq"],
                "properties": {
                    "id": {"type": "string"},
                    "state": {"enum": ["open", "finished"]},
                    "processed": {"type": "integer", "description": "Data rows read so far."},
                    "counts": {
                        "type": "object",
                        "required": ["created", "updated", "skipped", "failed"],
                        "properties": {"created": count, "updated": count, "skipped": count, "failed": count}
                    },
                    "next_seq": {"type": "integer", "description": "The chunk the job expects next."},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"}
                }
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in the document, wherever it is.
    fn refs(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Object(m) => {
                if let Some(Json::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Json::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_names_a_schema() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 30);
        for r in found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} is not defined"
            );
        }
    }

    #[test]
    fn every_query_parameter_is_described() {
        for (_, table) in routes::all() {
            for r in table {
                for name in r.query {
                    let p = query_parameter(name);
                    assert_ne!(p["schema"], json!({}), "{} {}: ?{name}", r.method, r.path);
                }
            }
        }
    }

    #[test]
    fn every_operation_has_one_success_response() {
        let doc = document();
        for (_, table) in routes::all() {
            for r in table {
                let responses = doc["paths"][r.path][r.method.to_lowercase()]["responses"]
                    .as_object()
                    .expect("responses");
                let successes = responses.keys().filter(|k| k.starts_with('2')).count();
                assert_eq!(successes, 1, "{} {}", r.method, r.path);
            }
        }
    }

    #[test]
    fn contact_input_lists_only_writable_fields() {
        let doc = document();
        let input = &doc["components"]["schemas"]["ContactInput"]["properties"];
        assert!(input["first_name"].is_object());
        assert!(input["custom"].is_object());
        assert!(input["created_at"].is_null(), "created_at is read-only");
        assert!(input["display_name"].is_null(), "display_name is derived");
        let contact = &doc["components"]["schemas"]["Contact"]["properties"];
        assert!(contact["created_at"].is_object());
        assert_eq!(
            contact["lead_stage"]["anyOf"][0]["enum"],
            json!(["lead", "contact", "customer"])
        );
    }
}
