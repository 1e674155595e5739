//! Which contacts a bulk action is for (SPEC §8): `{"ids": [..]}`, `{"segment": ..}`,
//! `{"filter": {..}}` (within segment `all`, or the `segment` sent beside it), or nothing:
//! every contact of segment `all`. Each is resolved to a [`Where`] through the same
//! `segments` and `filter` compilers as list, query and search, in the [`Reading::Every`]
//! shape, the one built for set-wide work.

use serde_json::Value as Json;

use crate::contacts::contact::type_mismatch;
use crate::hooks::blocks::parse_id_list;
use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::store::{placeholders, Sql, Value};
use crate::kernel::values::ContactId;
use crate::query::filter::{Clock, Filter, Reading};
use crate::query::page::Where;
use crate::query::segments::{self, SegmentId};

/// Contact IDs one request may list (the console sends its selection).
pub const MAX_IDS: usize = 10_000;

const MEMBERS: [&str; 3] = ["ids", "segment", "filter"];

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// These contacts, blocked or not.
    Ids(Vec<ContactId>),
    Segment(SegmentId),
    /// A filter within a segment (`all` unless the target names one).
    Filter {
        filter: Filter,
        within: SegmentId,
    },
}

impl Target {
    /// Parses the `target` member; absent or `null` is segment `all`. Errors name
    /// `target…` (a filter's JSON path as `target.filter.all[0].op`).
    pub fn parse(value: Option<&Json>, catalogue: &Catalogue) -> Result<Target> {
        let obj = match value {
            None | Some(Json::Null) => return Ok(Target::Segment(SegmentId::All)),
            Some(Json::Object(o)) => o,
            Some(_) => {
                return Err(type_mismatch(
                    "target",
                    "an object {ids} | {segment} | {filter, segment?}",
                ))
            }
        };
        if let Some(extra) = obj.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            let name: String = extra.chars().take(60).collect();
            return Err(Error::invalid(
                format!("target.{name}"),
                "is not a member of a target (ids, segment, filter)",
            ));
        }
        let segment = obj
            .get("segment")
            .map(|v| SegmentId::from_json(v, "target.segment").map_err(unknown_segment))
            .transpose()?;
        match (obj.get("ids"), obj.get("filter"), segment) {
            (Some(_), None, None) => parse_id_list(&Json::Object(obj.clone()), MAX_IDS)
                .map(Target::Ids)
                .map_err(|e| e.within("target")),
            (Some(_), _, _) => Err(Error::invalid(
                "target.ids",
                "selected ids cannot be combined with a segment or a filter",
            )),
            (None, Some(f), within) => Ok(Target::Filter {
                filter: Filter::parse(f, catalogue).map_err(|e| e.within("target"))?,
                within: within.unwrap_or(SegmentId::All),
            }),
            (None, None, within) => Ok(Target::Segment(within.unwrap_or(SegmentId::All))),
        }
    }

    /// The target's condition over `contacts c`. Unknown ids and segments are 422s on
    /// `target.ids` / `target.segment`.
    pub fn resolve(&self, db: &dyn Sql, catalogue: &Catalogue, clock: &Clock) -> Result<Where> {
        match self {
            Target::Ids(ids) => ids_scope(db, ids),
            Target::Segment(id) => segment_scope(db, catalogue, clock, *id),
            Target::Filter { filter, within } => Ok(segment_scope(db, catalogue, clock, *within)?
                .and(filter.compile(clock, Reading::Every))),
        }
    }
}

fn segment_scope(
    db: &dyn Sql,
    catalogue: &Catalogue,
    clock: &Clock,
    id: SegmentId,
) -> Result<Where> {
    segments::scope_for(db, catalogue, clock, id, Reading::Every)
        .map_err(unknown_segment)
        .map_err(|e| match e {
            // A saved segment whose filter no longer checks names `segment`.
            Error::Invalid { field, detail } if field == "segment" => {
                Error::invalid("target.segment", detail)
            }
            other => other,
        })
}

fn unknown_segment(e: Error) -> Error {
    match e {
        Error::NotFound(what) => Error::invalid("target.segment", format!("{what} does not exist")),
        other => other,
    }
}

/// `contact_id IN (…)`, once every id is known to name a contact: all or nothing, like
/// a block request.
fn ids_scope(db: &dyn Sql, ids: &[ContactId]) -> Result<Where> {
    let params: Vec<Value> = ids.iter().map(|id| id.as_str().into()).collect();
    let condition = format!("c.contact_id IN ({})", placeholders(params.len()));
    let known = db.execute(
        &format!("SELECT c.contact_id FROM contacts c WHERE {condition}"),
        &params,
    )?;
    if known.rows.len() < ids.len() {
        let found: std::collections::HashSet<&str> = known
            .rows
            .iter()
            .filter_map(|r| r.first().and_then(Value::as_str))
            .collect();
        let unknown: Vec<&str> = ids
            .iter()
            .map(ContactId::as_str)
            .filter(|id| !found.contains(id))
            .take(20)
            .collect();
        return Err(Error::invalid(
            "target.ids",
            format!("no contact has the Contact ID {}", unknown.join(", ")),
        ));
    }
    Ok(Where::new(condition, params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Json) -> Result<Target> {
        Target::parse(Some(&v), &Catalogue::with_custom(vec![]))
    }

    fn field_of(r: Result<Target>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            Err(Error::Malformed { field, .. }) => field.unwrap_or_default(),
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn targets_parse_with_segment_all_as_the_default() {
        assert_eq!(
            Target::parse(None, &Catalogue::with_custom(vec![])).unwrap(),
            Target::Segment(SegmentId::All)
        );
        assert_eq!(parse(json!({})).unwrap(), Target::Segment(SegmentId::All));
        assert_eq!(
            parse(json!({"segment": "blocked"})).unwrap(),
            Target::Segment(SegmentId::Blocked)
        );
        assert_eq!(
            parse(json!({"segment": 4})).unwrap(),
            Target::Segment(SegmentId::Saved(4))
        );
        assert!(matches!(
            parse(json!({"ids": ["A", "B", "A"]})).unwrap(),
            Target::Ids(ids) if ids.len() == 2
        ));
        assert!(matches!(
            parse(json!({"filter": {"all": [{"field": "city", "op": "eq", "value": "Lyon"}]}, "segment": "blocked"})).unwrap(),
            Target::Filter { within: SegmentId::Blocked, .. }
        ));
    }

    #[test]
    fn bad_targets_name_the_member_at_fault() {
        let many: Vec<String> = (0..=MAX_IDS).map(|i| format!("C{i}")).collect();
        for (target, field) in [
            (json!([]), "target"),
            (json!({"ids": []}), "target.ids"),
            (json!({"ids": many}), "target.ids"),
            (json!({"ids": ["ok", "a/b"]}), "target.ids[1]"),
            (json!({"ids": ["A"], "segment": "all"}), "target.ids"),
            (json!({"segment": "nope"}), "target.segment"),
            (json!({"segment": true}), "target.segment"),
            (
                json!({"filter": {"all": [{"field": "nope", "op": "eq", "value": 1}]}}),
                "target.filter.all[0].field",
            ),
            (json!({"everyone": true}), "target.everyone"),
        ] {
            assert_eq!(field_of(parse(target.clone())), field, "{target}");
        }
    }
}
