//! The OpenAPI 3.1 document, generated from the route tables so it cannot miss a route.

use serde_json::{json, Map, Value as Json};

use crate::routes::{self, Access};

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
                Errors are RFC 9457 application/problem+json with a stable `type`."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": problem_schema()}
        },
        "paths": paths,
    })
}

fn operation(component: &str, r: &routes::RouteDoc) -> Json {
    let params: Vec<Json> = r
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    let mut op = json!({
        "summary": r.summary,
        "tags": [component],
        "parameters": params,
        "responses": {
            "2XX": {"description": "Success"},
            "4XX": {"description": "A problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        }
    });
    op["security"] = match r.access {
        Access::Public | Access::Signed => json!([]),
        Access::Agent | Access::Admin => json!([{"bearer": []}]),
    };
    if r.access == Access::Admin {
        op["description"] = json!("Admin role only.");
    }
    op
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
