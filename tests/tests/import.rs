//! End-to-end: the import component through the host (SPEC §4, §8, §9): preview, jobs,
//! chunks, policies, failed rows, bounds, and a host killed in the middle of a chunk.

use std::time::{Duration, Instant};

use contacts_e2e::{App, Resp, ADMIN};
use serde_json::{json, Value as Json};

fn preview(app: &App, body: &[u8]) -> Resp {
    app.send_raw(
        "POST",
        "/api/imports/preview",
        Some(ADMIN),
        "text/csv",
        body,
        &[],
    )
}

fn open(app: &App, spec: &Json) -> String {
    let r = app.post("/api/imports", spec);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["state"], "open");
    assert_eq!(r.body["next_seq"], 1);
    r.body["id"].as_str().expect("job id").to_owned()
}

fn chunk(app: &App, job: &str, seq: i64, body: &[u8]) -> Resp {
    app.send_raw(
        "PUT",
        &format!("/api/imports/{job}/chunks/{seq}"),
        Some(ADMIN),
        "text/csv",
        body,
        &[],
    )
}

fn chunk_ok(app: &App, job: &str, seq: i64, body: &[u8]) -> Json {
    let r = chunk(app, job, seq, body);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn errors_csv(app: &App, job: &str) -> String {
    let r = app.get(&format!("/api/imports/{job}/errors.csv"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    r.text
}

fn contact(app: &App, id: &str) -> Json {
    let r = app.get(&format!("/api/contacts/{id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn counts(job: &Json) -> [i64; 4] {
    ["created", "updated", "skipped", "failed"].map(|k| job["counts"][k].as_i64().expect(k))
}

const PEOPLE: &str = "Contact ID,E-mail,Phone,First name,Last name,Tier,Owner\n\
    ,zoe@example.com,+1 212 555 0100,Zoë,Lima,Gold,\n\
    P-2,bo@example.com,,Bo,Berg,,admin\n";

fn people_spec() -> Json {
    json!({
        "mapping": {"Contact ID": "contact_id", "E-mail": "email", "Phone": "phone",
                    "First name": "first_name", "Last name": "last_name", "Tier": "custom.tier",
                    "Owner": "owner"},
        "tags": ["imported"]
    })
}

fn with_tier_field(app: &App) {
    let r = app.post(
        "/api/fields",
        &json!({"key": "tier", "label": "Tier", "type": "single_select", "options": ["Gold", "Silver"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn a_file_is_previewed_imported_in_chunks_and_visible_everywhere_at_once() {
    let app = App::start();
    with_tier_field(&app);
    let p = preview(&app, PEOPLE.as_bytes());
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["encoding"], "utf-8");
    assert_eq!(p.body["delimiter"], ",");
    assert_eq!(p.body["row_count"], 2);
    assert_eq!(p.body["sample_rows"][0][3], "Zoë");
    assert_eq!(
        p.body["suggested_mapping"],
        json!({"Contact ID": "contact_id", "E-mail": null, "Phone": "phone", "First name": "first_name",
               "Last name": "last_name", "Tier": "custom.tier", "Owner": "owner"})
    );

    let job = open(&app, &people_spec());
    let (header_and_first, second) = PEOPLE.split_at(PEOPLE.find("P-2").unwrap());
    let after1 = chunk_ok(&app, &job, 1, header_and_first.as_bytes());
    assert_eq!(counts(&after1), [1, 0, 0, 0]);
    assert_eq!(after1["next_seq"], 2);
    // What chunk 1 wrote is visible before chunk 2 comes: search, segments, the contact.
    let found = app.get("/api/search?q=zoe");
    assert_eq!(
        found.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        found.text
    );
    let segments = app.get("/api/segments");
    assert_eq!(segments.body["items"][0]["id"], "all");
    assert_eq!(segments.body["items"][0]["count"], 1);

    let after2 = chunk_ok(&app, &job, 2, second.as_bytes());
    assert_eq!(counts(&after2), [2, 0, 0, 0]);
    assert_eq!(after2["processed"], 2);
    let done = app.post(&format!("/api/imports/{job}/finish"), &json!({}));
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["state"], "finished");
    let got = app.get(&format!("/api/imports/{job}"));
    assert_eq!(got.body, done.body);

    let bo = contact(&app, "P-2");
    assert_eq!(bo["owner"], "admin");
    assert_eq!(bo["tags"], json!(["imported"]));
    let history = app.get("/api/contacts/P-2/history").body;
    assert_eq!(history["items"][0]["action"], "import");
    let zoe_id = found.body["items"][0]["contact_id"].as_str().unwrap();
    let zoe = contact(&app, zoe_id);
    assert_eq!(zoe["custom"]["tier"], "Gold");
    assert_eq!(zoe["phone"], "+1 212 555 0100");
    assert_eq!(
        errors_csv(&app, &job),
        "Contact ID,E-mail,Phone,First name,Last name,Tier,Owner,error\n"
    );
}

#[test]
fn every_encoding_and_delimiter_imports_the_same_contact() {
    let app = App::start();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("utf-8", "Email,Name\nzoe1@x.com,Zoë\n".into(), ","),
        (
            "utf-8-bom",
            b"\xEF\xBB\xBFEmail;Name\nzoe2@x.com;Zo\xC3\xAB\n".to_vec(),
            ";",
        ),
        (
            "latin-1",
            b"Email\tName\nzoe3@x.com\tZo\xEB\n".to_vec(),
            "\t",
        ),
        ("utf-8", "Email|Name\nzoe4@x.com|Zoë\n".into(), "|"),
    ];
    for (i, (encoding, bytes, delimiter)) in cases.into_iter().enumerate() {
        let p = preview(&app, &bytes);
        assert_eq!(p.body["encoding"], encoding, "{}", p.text);
        assert_eq!(p.body["delimiter"], delimiter, "{}", p.text);
        let job = open(
            &app,
            &json!({"mapping": {"Email": "email", "Name": "first_name"}}),
        );
        assert_eq!(counts(&chunk_ok(&app, &job, 1, &bytes)), [1, 0, 0, 0]);
        let hits = app.get(&format!("/api/search?q=zoe{}%40x.com", i + 1));
        let id = hits.body["items"][0]["contact_id"]
            .as_str()
            .expect("found")
            .to_owned();
        assert_eq!(
            contact(&app, &id)["first_name"],
            "Zoë",
            "{encoding} {delimiter}"
        );
    }
}

#[test]
fn each_policy_does_what_it_says() {
    let app = App::start();
    let r = app.post(
        "/api/fields",
        &json!({"key": "interests", "label": "Interests", "type": "multi_select", "options": ["music", "tech", "art"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    app.create(&json!({"contact_id": "K1", "email": "k1@x.com", "first_name": "Ann", "company": "Old",
                       "description": "first", "tags": ["old"], "custom": {"interests": ["music"]}}));
    let csv = "Id,First,Company,Description,Tags,Interests,City\n\
               K1,Ana,New,second,new,tech,Rio\n";
    let spec = |policies: Json| {
        json!({"mapping": {"Id": "contact_id", "First": "first_name", "Company": "company",
                           "Description": "description", "Tags": "tags", "Interests": "custom.interests",
                           "City": "city"},
               "policies": policies})
    };
    // update_blank_only (the default): only the blank city is filled.
    let job = open(&app, &spec(json!({})));
    assert_eq!(
        counts(&chunk_ok(&app, &job, 1, csv.as_bytes())),
        [0, 1, 0, 0]
    );
    let k1 = contact(&app, "K1");
    assert_eq!(
        (k1["first_name"].as_str(), k1["city"].as_str()),
        (Some("Ann"), Some("Rio"))
    );
    // The same again changes nothing: skipped.
    let job = open(&app, &spec(json!({})));
    assert_eq!(
        counts(&chunk_ok(&app, &job, 1, csv.as_bytes())),
        [0, 0, 1, 0]
    );
    // append: text joined, sets grown.
    let job = open(
        &app,
        &spec(json!({"description": "append", "tags": "append", "custom.interests": "append"})),
    );
    chunk_ok(&app, &job, 1, csv.as_bytes());
    let k1 = contact(&app, "K1");
    assert_eq!(k1["description"], "first; second");
    assert_eq!(k1["tags"], json!(["new", "old"]));
    assert_eq!(k1["custom"]["interests"], json!(["music", "tech"]));
    // overwrite.
    let job = open(
        &app,
        &spec(json!({"first_name": "overwrite", "company": "overwrite", "tags": "overwrite"})),
    );
    chunk_ok(&app, &job, 1, csv.as_bytes());
    let k1 = contact(&app, "K1");
    assert_eq!(
        (k1["first_name"].as_str(), k1["company"].as_str()),
        (Some("Ana"), Some("New"))
    );
    assert_eq!(k1["tags"], json!(["new"]));
    let history = app.get("/api/contacts/K1/history").body;
    assert_eq!(history["items"][0]["action"], "import");
    assert_eq!(
        history["items"][0]["fields"],
        json!(["first_name", "company", "tags"])
    );
}

#[test]
fn every_failure_kind_is_a_row_of_errors_csv_with_its_reason() {
    let app = App::start();
    app.create(&json!({"contact_id": "K1", "email": "k1@x.com"}));
    let job = open(
        &app,
        &json!({"mapping": {"Id": "contact_id", "Email": "email", "Phone": "phone", "Owner": "owner", "Born": "birthday"}}),
    );
    chunk_ok(
        &app,
        &job,
        1,
        b"Id,Email,Phone,Owner,Born\n\
          ,ok@x.com,,,\n\
          ,dup@x.com,,,\n\
          ,DUP@x.com,,,\n\
          ,n@x.com,,nobody,\n\
          K9,k1@x.com,,,\n\
          ,bad-email,,,\n\
          ,,12,,\n\
          ,b@x.com,,,31/12/1990\n\
          ,,,,\n\
          ,r@x.com,,\n\
          ,=cmd(),,,\n",
    );
    let job_now = app.get(&format!("/api/imports/{job}")).body;
    chunk_ok(
        &app,
        &job,
        2,
        b"Id,Email,Phone,Owner,Born\n,e@x.com,,,\n,Bj\xF6rn@x.com,,,\n",
    );
    let csv = errors_csv(&app, &job);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "Id,Email,Phone,Owner,Born,error");
    let expected = [
        ",DUP@x.com,,,,email dup@x.com is already in row 2 of this file",
        ",n@x.com,,nobody,,column 'Owner' ('nobody'): no agent has this login",
        "K9,k1@x.com,,,,email k1@x.com already belongs to contact K1",
        ",bad-email,,,,column 'Email' ('bad-email'): email is not an email address",
        ",,12,,,column 'Phone' ('12'): phone",
        ",b@x.com,,,31/12/1990,column 'Born' ('31/12/1990'): expected a date YYYY-MM-DD",
        ",,,,,\"no Contact ID, email or phone",
        ",r@x.com,,,\"this row has 4 fields but the header has 5",
        ",'=cmd(),,,,column 'Email' ('=cmd()')",
        "Id,Email,Phone,Owner,Born,this line repeats the header",
        ",Bj\u{FFFD}rn@x.com,,,,\"a value is not valid UTF-8 text",
    ];
    assert_eq!(lines.len(), expected.len() + 1, "{csv}");
    for want in expected {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "missing {want:?} in\n{csv}"
        );
    }
    assert_eq!(counts(&job_now), [2, 0, 0, 9]);
    let after = app.get(&format!("/api/imports/{job}")).body;
    assert_eq!(counts(&after), [3, 0, 0, 11]);
    assert_eq!(after["processed"], 14);
}

#[test]
fn re_sent_chunks_change_nothing_and_chunks_ahead_are_refused() {
    let app = App::start();
    let job = open(&app, &json!({"mapping": {"Email": "email"}}));
    let first = chunk_ok(&app, &job, 1, b"Email\na@x.com\nb@x.com\n");
    let again = chunk_ok(&app, &job, 1, b"Email\na@x.com\nb@x.com\n");
    assert_eq!(again, first);
    let ahead = chunk(&app, &job, 3, b"c@x.com\n");
    ahead.assert_problem(409, Some("seq"));
    assert!(
        ahead.body["detail"].as_str().unwrap().contains("seq 2"),
        "{}",
        ahead.text
    );
    assert_eq!(app.get(&format!("/api/imports/{job}")).body, first);
    assert_eq!(app.get("/api/segments").body["items"][0]["count"], 2);
}

#[test]
fn two_clients_sending_the_same_chunk_at_once_import_it_once() {
    let app = App::start();
    let job = open(
        &app,
        &json!({"mapping": {"Email": "email", "Name": "first_name"}}),
    );
    chunk_ok(&app, &job, 1, b"Email,Name\nfirst@x.com,First\n");
    let mut body = String::new();
    for i in 0..2_000 {
        body.push_str(&format!("u{i}@x.com,U{i}\n"));
    }
    let answers: Vec<Json> = std::thread::scope(|s| {
        let sends: Vec<_> = (0..2)
            .map(|_| s.spawn(|| chunk_ok(&app, &job, 2, body.as_bytes())))
            .collect();
        sends
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    assert_eq!(answers[0], answers[1]);
    assert_eq!(counts(&answers[0]), [2_001, 0, 0, 0]);
    assert_eq!(app.get("/api/segments").body["items"][0]["count"], 2_001);
}

#[test]
fn bad_files_and_bad_jobs_are_clear_4xx() {
    let app = App::start();
    preview(&app, b"").assert_problem(422, Some("body"));
    preview(&app, b"a@x.com,Ana\n").assert_problem(422, Some("body"));
    preview(&app, b"\x00\x01\x02garbage").assert_problem(422, Some("body"));
    let job = open(&app, &json!({"mapping": {"Email": "email"}}));
    chunk(&app, &job, 1, b"").assert_problem(422, Some("body"));
    chunk(&app, &job, 1, b"\x89PNG\x00\x00").assert_problem(422, Some("body"));
    chunk(&app, &job, 1, b"Mail\nx@x.com\n").assert_problem(422, Some("mapping.Email"));
    let mut big = b"Email\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b'\n');
    chunk(&app, &job, 1, &big).assert_problem(413, None);
    assert_eq!(app.get(&format!("/api/imports/{job}")).body["next_seq"], 1);

    let bad = |spec: Json, field: &str| {
        app.post("/api/imports", &spec)
            .assert_problem(422, Some(field));
    };
    bad(
        json!({"mapping": {"Email": "email", "X": "nope"}}),
        "mapping.X",
    );
    bad(
        json!({"mapping": {"Email": "email", "Mail": "email"}}),
        "mapping.Mail",
    );
    bad(
        json!({"mapping": {"Email": "email", "C": "created_at"}}),
        "mapping.C",
    );
    bad(json!({"mapping": {"Name": "first_name"}}), "mapping");
    bad(
        json!({"mapping": {"Email": "email"}, "policies": {"email": "append"}}),
        "policies.email",
    );
    bad(
        json!({"mapping": {"Email": "email"}, "default_region": "ZZ"}),
        "default_region",
    );
    app.post("/api/imports", &json!({"mapping": "x"}))
        .assert_problem(400, Some("mapping"));

    let agent = app.token("agent1", "agent");
    let r = app.send_raw(
        "POST",
        "/api/imports/preview",
        Some(&agent),
        "text/csv",
        b"Email\n",
        &[],
    );
    r.assert_problem(403, None);
    app.call("GET", &format!("/api/imports/{job}"), Some(&agent), None)
        .assert_problem(403, None);
    app.get("/api/imports/J0000000000000000")
        .assert_problem(404, None);
}

fn send(base: &str, method: &str, path: &str, body: &[u8]) -> Result<(u16, Json), String> {
    let r = ureq::request(method, &format!("{base}{path}"))
        .set("authorization", &format!("Bearer {ADMIN}"))
        .set(
            "content-type",
            if method == "PUT" {
                "text/csv"
            } else {
                "application/json"
            },
        )
        .timeout(Duration::from_secs(120))
        .send_bytes(body);
    match r {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
            let status = resp.status();
            let text = resp.into_string().map_err(|e| e.to_string())?;
            Ok((status, serde_json::from_str(&text).unwrap_or(Json::Null)))
        }
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn a_host_killed_inside_a_chunk_leaves_none_of_it_and_the_re_sent_chunk_imports_once() {
    let mut app = App::start_in_child();
    let base = app.base_url();
    let spec = json!({"mapping": {"Email": "email", "Name": "first_name"}}).to_string();
    let (status, job) = send(&base, "POST", "/api/imports", spec.as_bytes()).unwrap();
    assert_eq!(status, 201, "{job}");
    let job = job["id"].as_str().unwrap().to_owned();
    let rows = 40_000;
    let mut body = String::from("Email,Name\n");
    for i in 0..rows {
        body.push_str(&format!("user{i}@example.com,User{i}\n"));
    }
    let path = format!("/api/imports/{job}/chunks/1");

    // Kill the host once the chunk's transaction has started writing: SQLite's rollback
    // journal exists only inside a write transaction.
    let journal = app.state_dir().join("sqlite_db.db-journal");
    let sent = std::thread::scope(|s| {
        let sending = s.spawn(|| send(&base, "PUT", &path, body.as_bytes()));
        let begun = Instant::now();
        while !journal.exists() {
            assert!(
                begun.elapsed() < Duration::from_secs(120),
                "the chunk never started writing"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        app.kill();
        sending.join().expect("sender")
    });
    assert!(
        sent.is_err(),
        "the chunk finished before the kill: {sent:?}"
    );

    app.restart();
    let (_, progress) = send(&base, "GET", &format!("/api/imports/{job}"), b"").unwrap();
    assert_eq!(progress["next_seq"], 1, "{progress}");
    assert_eq!(progress["processed"], 0);
    let (status, segments) = send(&base, "GET", "/api/segments", b"").unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        segments["items"][0]["count"], 0,
        "no row of the killed chunk is left"
    );

    let (status, after) = send(&base, "PUT", &path, body.as_bytes()).unwrap();
    assert_eq!(status, 200, "{after}");
    assert_eq!(counts(&after), [rows, 0, 0, 0]);
    let (_, again) = send(&base, "PUT", &path, body.as_bytes()).unwrap();
    assert_eq!(again, after, "re-sent after the commit: unchanged");
    let (_, segments) = send(&base, "GET", "/api/segments", b"").unwrap();
    assert_eq!(segments["items"][0]["count"], rows);
    let (_, found) = send(&base, "GET", "/api/search?q=user39999%40example.com", b"").unwrap();
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
}
