use std::cell::Cell;

use super::*;
use crate::import::report;
use crate::kernel::native::NativeSql;
use crate::kernel::store::{DbError, Rows};
use crate::{contacts::repo, kernel::schema};

fn db() -> NativeSql {
    let db = NativeSql::open_in_memory();
    schema::ensure(&db).unwrap();
    db
}

fn job(db: &dyn Sql, body: Json) -> JobId {
    let spec = Spec::parse(&body, &Catalogue::load(db).unwrap(), "US").unwrap();
    open(db, "admin", &spec).unwrap().id
}

fn simple_job(db: &dyn Sql) -> JobId {
    job(
        db,
        json!({"mapping": {"Id": "contact_id", "Email": "email", "Phone": "phone", "Name": "first_name", "Owner": "owner"},
               "tags": ["imported"]}),
    )
}

fn counts(job: &Job) -> Counts {
    Counts::of(job)
}

fn count(db: &dyn Sql, sql: &str) -> i64 {
    db.execute(sql, &[]).unwrap().scalar_i64().unwrap()
}

fn errors(db: &dyn Sql, id: &JobId) -> String {
    String::from_utf8(report::errors_csv(db, id).unwrap()).unwrap()
}

const CHUNK1: &str = "Id,Email,Phone,Name,Owner\n\
    ,ana@x.com,+1 212 555 0100,Ana,\n\
    C-2,bo@x.com,,Bo,admin\n";

#[test]
fn a_chunk_creates_contacts_with_keys_tags_history_and_search() {
    let db = db();
    let id = simple_job(&db);
    let job = put(&db, &id, 1, CHUNK1.as_bytes()).unwrap();
    assert_eq!(job.step, 1);
    assert_eq!(job.processed, 2);
    assert_eq!(
        counts(&job),
        Counts {
            created: 2,
            ..Counts::default()
        }
    );
    let bo = repo::load(&db, "C-2").unwrap();
    assert_eq!(bo.text("owner"), Some("admin"));
    assert_eq!(bo.tags, vec!["imported"]);
    assert_eq!(count(&db, "SELECT count(*) FROM contact_keys"), 3);
    assert_eq!(
        count(&db, "SELECT count(*) FROM history WHERE action = 'import'"),
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM search_words WHERE search_words MATCH 'ana'"
        ),
        1
    );
}

#[test]
fn a_re_sent_chunk_changes_nothing_and_a_chunk_ahead_is_a_conflict() {
    let db = db();
    let id = simple_job(&db);
    let first = put(&db, &id, 1, CHUNK1.as_bytes()).unwrap();
    let again = put(&db, &id, 1, CHUNK1.as_bytes()).unwrap();
    assert_eq!(again, first);
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 2);
    match put(&db, &id, 3, b"C-9,z@x.com,,Z,\n") {
        Err(Error::Conflict { detail, field, .. }) => {
            assert_eq!(field.as_deref(), Some("seq"));
            assert!(detail.contains("seq 2"), "{detail}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 2);
    assert!(matches!(put(&db, &id, 0, b""), Err(Error::Invalid { .. })));
}

#[test]
fn later_chunks_use_chunk_one_header_and_format() {
    let db = db();
    let id = simple_job(&db);
    put(
        &db,
        &id,
        1,
        "Id;Email;Phone;Name;Owner\n;a@x.com;;Zoë;\n".as_bytes(),
    )
    .unwrap();
    let job = put(&db, &id, 2, b";b@x.com;;Bj\xF6rn;\n").unwrap();
    assert_eq!(
        counts(&job).failed,
        1,
        "chunk 1 was UTF-8, this line is not"
    );
    assert!(errors(&db, &id).contains("UTF-8"));
    let job = put(&db, &id, 3, ";c@x.com;;Cy;\n".as_bytes()).unwrap();
    assert_eq!(counts(&job).created, 2);
    assert_eq!(job.processed, 3);
}

#[test]
fn a_latin1_file_imports_its_accents() {
    let db = db();
    let id = simple_job(&db);
    put(
        &db,
        &id,
        1,
        b"Id,Email,Phone,Name,Owner\n,a@x.com,,Zo\xEB,\n",
    )
    .unwrap();
    put(&db, &id, 2, b",b@x.com,,Ren\xE9e,\n").unwrap();
    let names = db
        .execute("SELECT group_concat(first_name, '|') FROM contacts", &[])
        .unwrap();
    assert_eq!(names.scalar().and_then(Value::as_str), Some("Zoë|Renée"));
}

#[test]
fn rows_match_by_contact_id_then_email_then_phone() {
    let db = db();
    let seed = simple_job(&db);
    put(
        &db,
        &seed,
        1,
        b"Id,Email,Phone,Name,Owner\nK1,k1@x.com,,,\nK2,k2@x.com,+1 212 555 0102,,\nK3,,+1 212 555 0103,,\n",
    )
    .unwrap();
    let id = simple_job(&db);
    let job = put(
        &db,
        &id,
        1,
        b"Id,Email,Phone,Name,Owner\n\
          K1,other@x.com,,One,\n\
          ,K2@X.COM,,Two,\n\
          ,,(212) 555-0103,Three,\n\
          K4,,,Four,\n",
    )
    .unwrap();
    assert_eq!(
        counts(&job),
        Counts {
            created: 1,
            updated: 3,
            ..Counts::default()
        }
    );
    assert_eq!(
        repo::load(&db, "K1").unwrap().text("first_name"),
        Some("One")
    );
    assert_eq!(
        repo::load(&db, "K1").unwrap().text("email"),
        Some("k1@x.com"),
        "blank only"
    );
    assert_eq!(
        repo::load(&db, "K2").unwrap().text("first_name"),
        Some("Two")
    );
    assert_eq!(
        repo::load(&db, "K3").unwrap().text("first_name"),
        Some("Three")
    );
    assert_eq!(
        repo::load(&db, "K4").unwrap().text("first_name"),
        Some("Four")
    );
}

#[test]
fn a_key_seen_earlier_in_the_file_fails_the_later_row_across_chunks() {
    let db = db();
    let id = simple_job(&db);
    put(
        &db,
        &id,
        1,
        b"Id,Email,Phone,Name,Owner\n,a@x.com,,A,\n,A@x.com,,B,\n",
    )
    .unwrap();
    let job = put(
        &db,
        &id,
        2,
        b",,+1 212 555 0100,C,\n,a@x.com,+1 212 555 0100,D,\n",
    )
    .unwrap();
    assert_eq!(
        counts(&job),
        Counts {
            created: 2,
            failed: 2,
            ..Counts::default()
        }
    );
    let csv = errors(&db, &id);
    assert!(
        csv.contains("email a@x.com is already in row 1 of this file"),
        "{csv}"
    );
    let last = csv.lines().last().unwrap();
    assert!(
        last.starts_with(",a@x.com,'+1 212 555 0100,D,,email a@x.com is already in row 1"),
        "{csv}"
    );
}

#[test]
fn a_row_reaching_a_contact_an_earlier_row_imported_fails() {
    let db = db();
    let seed = simple_job(&db);
    put(
        &db,
        &seed,
        1,
        b"Id,Email,Phone,Name,Owner\nK1,k1@x.com,,,\n",
    )
    .unwrap();
    let id = simple_job(&db);
    let job = put(
        &db,
        &id,
        1,
        b"Id,Email,Phone,Name,Owner\nK1,,,A,\n,k1@x.com,,B,\n",
    )
    .unwrap();
    assert_eq!(counts(&job).failed, 1);
    assert!(errors(&db, &id).contains("same contact as row 1"));
}

#[test]
fn unknown_owners_taken_emails_and_bad_values_fail_only_their_rows() {
    let db = db();
    let seed = simple_job(&db);
    put(
        &db,
        &seed,
        1,
        b"Id,Email,Phone,Name,Owner\nK1,k1@x.com,,,\n",
    )
    .unwrap();
    let id = simple_job(&db);
    let job = put(
        &db,
        &id,
        1,
        b"Id,Email,Phone,Name,Owner\n\
          ,ok@x.com,,Ok,\n\
          ,n@x.com,,N,nobody\n\
          K9,k1@x.com,,Taken,\n\
          ,bad-email,,Bad,\n\
          ,,,No key,\n\
          ,r@x.com,,Ragged\n",
    )
    .unwrap();
    assert_eq!(
        counts(&job),
        Counts {
            created: 1,
            failed: 5,
            ..Counts::default()
        }
    );
    let csv = errors(&db, &id);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "Id,Email,Phone,Name,Owner,error");
    assert!(
        lines[1].starts_with(",n@x.com,,N,nobody,column 'Owner' ('nobody'): no agent"),
        "{csv}"
    );
    assert!(
        lines[2].contains("k1@x.com already belongs to contact K1"),
        "{csv}"
    );
    assert!(lines[3].contains("column 'Email' ('bad-email')"), "{csv}");
    assert!(lines[4].contains("no Contact ID, email or phone"), "{csv}");
    assert!(
        lines[5].starts_with(",r@x.com,,Ragged,\"this row has 4 fields"),
        "{csv}"
    );
}

#[test]
fn an_unchanged_contact_is_skipped() {
    let db = db();
    let id = simple_job(&db);
    put(&db, &id, 1, CHUNK1.as_bytes()).unwrap();
    finish(&db, &id).unwrap();
    let again = simple_job(&db);
    let job = put(&db, &again, 1, CHUNK1.as_bytes()).unwrap();
    assert_eq!(
        counts(&job),
        Counts {
            skipped: 2,
            ..Counts::default()
        }
    );
}

#[test]
fn errors_csv_neutralizes_formulas() {
    let db = db();
    let id = simple_job(&db);
    put(
        &db,
        &id,
        1,
        b"Id,Email,Phone,Name,Owner\n,=HYPERLINK(\"x\"),,@evil,\n",
    )
    .unwrap();
    let csv = errors(&db, &id);
    assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\",,'@evil,"), "{csv}");
}

#[test]
fn a_finished_import_takes_no_new_chunk_and_drops_its_keys() {
    let db = db();
    let id = simple_job(&db);
    put(&db, &id, 1, CHUNK1.as_bytes()).unwrap();
    let done = finish(&db, &id).unwrap();
    assert_eq!(done.state, State::Finished);
    assert_eq!(finish(&db, &id).unwrap(), done);
    assert_eq!(count(&db, "SELECT count(*) FROM import_keys"), 0);
    assert_eq!(
        put(&db, &id, 1, CHUNK1.as_bytes()).unwrap(),
        done,
        "a re-sent chunk"
    );
    assert!(matches!(
        put(&db, &id, 2, b",z@x.com,,Z,\n"),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn a_chunk_one_without_the_mapped_columns_or_a_header_is_refused_whole() {
    let db = db();
    let id = simple_job(&db);
    assert!(matches!(
        put(&db, &id, 1, b"Email,Name\na@x.com,A\n"),
        Err(Error::Invalid { field, .. }) if field == "mapping.Id"
    ));
    assert!(matches!(put(&db, &id, 1, b""), Err(Error::Invalid { field, .. }) if field == "body"));
    assert!(matches!(
        put(&db, &id, 1, b",a@x.com,,A,\n"),
        Err(Error::Invalid { field, .. }) if field == "body"
    ));
    assert_eq!(jobs::get(&db, Kind::Import, &id).unwrap().step, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM import_files"), 0);
}

#[test]
fn a_header_repeated_in_a_later_chunk_fails_that_line() {
    let db = db();
    let id = simple_job(&db);
    put(&db, &id, 1, CHUNK1.as_bytes()).unwrap();
    let job = put(&db, &id, 2, b"Id,Email,Phone,Name,Owner\n,c@x.com,,C,\n").unwrap();
    assert_eq!(counts(&job).failed, 1);
    assert_eq!(counts(&job).created, 3);
    assert!(errors(&db, &id).contains("repeats the header"));
}

#[test]
fn a_big_chunk_spans_many_batches_with_one_key_each() {
    let db = db();
    let id = simple_job(&db);
    let mut text = String::from("Id,Email,Phone,Name,Owner\n");
    let n = BATCH_ROWS * 2 + 17;
    for i in 0..n {
        text.push_str(&format!(",u{i}@x.com,,U{i},\n"));
    }
    text.push_str(",u3@x.com,,Dup,\n");
    let job = put(&db, &id, 1, text.as_bytes()).unwrap();
    assert_eq!(
        counts(&job),
        Counts {
            created: n as i64,
            failed: 1,
            ..Counts::default()
        }
    );
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), n as i64);
    assert_eq!(count(&db, "SELECT count(*) FROM contact_tags"), n as i64);
    assert!(errors(&db, &id).contains("already in row 4"));
}

/// A connection whose `k`-th statement (counted from when it is armed) fails.
struct FailingSql {
    inner: NativeSql,
    countdown: Cell<Option<usize>>,
}

impl Sql for FailingSql {
    fn execute(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError> {
        if let Some(n) = self.countdown.get() {
            if n == 0 && !sql.starts_with("ROLLBACK") {
                self.countdown.set(None);
                return Err(DbError::Sqlite("injected failure".into()));
            }
            self.countdown.set(n.checked_sub(1));
        }
        self.inner.execute(sql, params)
    }
    fn last_insert_rowid(&self) -> i64 {
        self.inner.last_insert_rowid()
    }
    fn changes(&self) -> u64 {
        self.inner.changes()
    }
}

#[test]
fn a_chunk_failing_at_any_statement_leaves_nothing_behind() {
    let db = FailingSql {
        inner: db(),
        countdown: Cell::new(None),
    };
    let seed = simple_job(&db);
    put(
        &db,
        &seed,
        1,
        b"Id,Email,Phone,Name,Owner\nK1,k1@x.com,,,\n",
    )
    .unwrap();
    let id = simple_job(&db);
    let chunk = b"Id,Email,Phone,Name,Owner\nK1,,,One,\n,new@x.com,,New,\n,bad,,Bad,\n";
    let snapshot = |db: &FailingSql| {
        [
            "SELECT count(*) FROM contacts",
            "SELECT count(*) FROM contact_keys",
            "SELECT count(*) FROM contact_tags",
            "SELECT count(*) FROM history",
            "SELECT count(*) FROM import_keys",
            "SELECT count(*) FROM import_errors",
            "SELECT count(*) FROM import_files",
            "SELECT sum(step) FROM jobs",
            "SELECT count(*) FROM contacts WHERE first_name IS NOT NULL",
        ]
        .map(|sql| count(&db.inner, sql))
    };
    let before = snapshot(&db);
    let mut k = 0;
    loop {
        db.countdown.set(Some(k));
        match put(&db, &id, 1, chunk) {
            Err(_) => assert_eq!(snapshot(&db), before, "failing statement {k}"),
            Ok(job) => {
                assert_eq!(
                    counts(&job),
                    Counts {
                        created: 1,
                        updated: 1,
                        failed: 1,
                        ..Counts::default()
                    }
                );
                break;
            }
        }
        k += 1;
    }
    assert!(k > 8, "every statement of the chunk was tried: {k}");
}
