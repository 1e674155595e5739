//! A fuzzer over the import's pure parts: encoding detection, delimiter sniffing, CSV
//! reading, header parsing and the suggested mapping (`preview`), and row mapping and the
//! conflict policies (`rows::parse`, `RowEdit::apply`) with every field type.
//!
//! Inputs are a corpus of real-looking files (each encoding and delimiter, quotes, line
//! breaks inside quotes, typed values) mutated at random: bytes flipped, inserted from the
//! characters CSV and encodings are made of, deleted, duplicated, truncated. Any panic stops
//! it and prints the input. Seeded, so a run can be repeated.
//!
//! `FUZZ_SECONDS=600 cargo bench -p contacts-e2e --bench fuzz_import` (FUZZ_SEED to vary).

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use contacts_core::contacts::contact::Contact;
use contacts_core::import::mapping::Spec;
use contacts_core::import::preview::{self, Format, Header};
use contacts_core::import::rows;
use contacts_core::kernel::fields::{Catalogue, CustomFieldDef};
use contacts_core::kernel::values::{ContactId, Region, Tag};
use contacts_e2e::gen::{self, Rng};
use serde_json::json;

const CORPUS: &[&[u8]] = &[
    b"Email,First name,Phone,Tags,Tier,Score,VIP,Renewal,Notes,Interests,Last order,Homepage,Alternate email,Owner,Contact ID,Secondary emails,Secondary phones,Birthday,Lead stage\n\
      ana@x.com,Ana,+1 212 555 0100,vip;b2b,Gold,42,yes,2027-01-31,\"hello, world\",music;tech,2026-01-01T10:00:00Z,https://x.com,alt@x.com,admin,C-1,b@x.com;c@x.com,+44 7911 123456,1990-05-01,lead\n\
      bo@x.com,Bo,(212) 555-0101,,Silver,3.5,no,,\"multi\nline\",,,,,,,,,,customer\n",
    b"\xEF\xBB\xBFEmail;First name;Phone\nzoe@x.com;Zo\xC3\xAB;+33 6 12 34 56 78\n",
    b"Email\tFirst name\tCity\nzoe@x.com\tZo\xEB\tS\xE3o Paulo\n",
    b"Email|First name|Notes\n\"a|b\"@x.com|\"Quoted \"\"name\"\"\"|=SUM(A1)\n",
    b"Contact ID,Email\r\nK1,k1@x.com\r\n\r\nK2,\r\n",
];

const INTERESTING: &[u8] = b",;\t|\"\n\r=@+-;0 \xEF\xBB\xBF\xC3\xA9\xFF\x00\x80";

fn catalogue() -> Catalogue {
    let defs = gen::custom_field_defs()
        .into_iter()
        .map(|d| serde_json::from_value::<CustomFieldDef>(d).expect("def"))
        .collect();
    Catalogue::with_custom(defs)
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(8) {
        let len = input.len();
        let at = if len == 0 { 0 } else { rng.below(len) };
        match rng.below(6) {
            0 if len > 0 => input[at] ^= 1 << rng.below(8),
            1 => input.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if len > 0 => {
                let end = (at + 1 + rng.below(16)).min(len);
                input.drain(at..end);
            }
            3 if len > 0 => {
                let end = (at + 1 + rng.below(64)).min(len);
                let copy = input[at..end].to_vec();
                let to = rng.below(len);
                input.splice(to..to, copy);
            }
            4 => input.truncate(at),
            _ => input.insert(at, rng.below(256) as u8),
        }
    }
}

/// One input through everything the import does with it before SQL.
fn exercise(input: &[u8], catalogue: &Catalogue, region: Region) {
    let Ok(p) = preview::preview(input, catalogue) else {
        return;
    };
    let mapping: serde_json::Map<String, serde_json::Value> = p
        .suggested_mapping
        .iter()
        .map(|(c, k)| (c.clone(), json!(k)))
        .collect();
    let policies = ["overwrite", "update_blank_only", "append"];
    for policy in policies {
        let append_ok = |k: &str| {
            catalogue
                .get(k)
                .is_some_and(|f| contacts_core::import::mapping::appendable(f.ty))
        };
        let per_field: serde_json::Map<String, serde_json::Value> = p
            .suggested_mapping
            .iter()
            .filter_map(|(_, k)| k.as_deref())
            .filter(|k| *k != "contact_id" && (policy != "append" || append_ok(k)))
            .map(|k| (k.to_owned(), json!(policy)))
            .collect();
        let Ok(spec) = Spec::parse(
            &json!({"mapping": mapping, "policies": per_field, "tags": ["fuzz"]}),
            catalogue,
            "US",
        ) else {
            continue;
        };
        let Ok(records) = preview::records(input, Format::detect(input).expect("detected before"))
        else {
            continue;
        };
        let Some((first, rest)) = records.split_first() else {
            continue;
        };
        let header = Header::parse(first).expect("parsed by the preview");
        let Ok(plan) = spec.bind(&header, catalogue) else {
            continue;
        };
        for record in rest {
            if let Ok(row) = rows::parse(record, &plan, catalogue, region) {
                let mut contact = Contact::new(ContactId::parse("F1").expect("id"), "fuzz");
                let _ = row.apply(&mut contact, &[Tag::parse("fuzz").expect("tag")], catalogue);
                let _ = row.apply(&mut contact, &[], catalogue);
            }
        }
    }
}

fn main() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let catalogue = catalogue();
    let regions = ["US", "BR", "FR", "JP"].map(|r| Region::parse(r).expect("region"));
    let mut rng = Rng::new(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    panic::set_hook(Box::new(|_| {}));
    let mut runs: u64 = 0;
    while Instant::now() < deadline {
        let mut input = CORPUS[rng.below(CORPUS.len())].to_vec();
        mutate(&mut rng, &mut input);
        let region = regions[rng.below(regions.len())];
        if let Err(e) =
            panic::catch_unwind(AssertUnwindSafe(|| exercise(&input, &catalogue, region)))
        {
            let what = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            eprintln!("PANIC after {runs} inputs (seed {seed}): {what}\ninput: {input:?}");
            std::process::exit(1);
        }
        runs += 1;
    }
    println!("fuzz_import: {runs} inputs in {seconds} s (seed {seed}), no panic");
}
