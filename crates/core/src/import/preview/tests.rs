use super::*;
use crate::kernel::fields::{CustomFieldDef, FieldType};

fn catalogue() -> Catalogue {
    Catalogue::with_custom(vec![CustomFieldDef {
        key: "tier".into(),
        label: "Customer tier".into(),
        ty: FieldType::SingleSelect,
        options: Some(vec!["Gold".into()]),
    }])
}

fn invalid_detail(r: Result<Preview>) -> String {
    match r {
        Err(Error::Invalid { field, detail }) => {
            assert_eq!(field, "body");
            detail
        }
        other => panic!("expected a 422, got {other:?}"),
    }
}

#[test]
fn utf8_with_and_without_bom_and_latin1_are_told_apart() {
    let plain = "email,first_name\nzoe@x.com,Zoë\n";
    let p = preview(plain.as_bytes(), &catalogue()).unwrap();
    assert_eq!(p.format.encoding, Encoding::Utf8);
    assert_eq!(p.sample_rows, vec![vec!["zoe@x.com", "Zoë"]]);

    let bom = [BOM, plain.as_bytes()].concat();
    let p = preview(&bom, &catalogue()).unwrap();
    assert_eq!(p.format.encoding, Encoding::Utf8Bom);
    assert_eq!(
        p.header.names()[0],
        "email",
        "the BOM is not part of the first name"
    );

    let latin1: Vec<u8> = b"email,first_name\nzoe@x.com,Zo\xEB\n".to_vec();
    let p = preview(&latin1, &catalogue()).unwrap();
    assert_eq!(p.format.encoding, Encoding::Latin1);
    assert_eq!(p.sample_rows[0][1], "Zoë");
}

#[test]
fn a_preview_cut_inside_a_character_is_still_utf8() {
    let text = "email,name\na@x.com,Zoë".as_bytes();
    let cut = &text[..text.len() - 1];
    assert_eq!(Format::detect(cut).unwrap().encoding, Encoding::Utf8);
}

#[test]
fn each_delimiter_is_sniffed() {
    for d in DELIMITERS {
        let d = char::from(d);
        let text = format!(
            "email{d}first_name{d}city\na@x.com{d}Ana{d}\"Rio, RJ\"\nb@x.com{d}Bo{d}Oslo\n"
        );
        let p = preview(text.as_bytes(), &catalogue()).unwrap();
        assert_eq!(char::from(p.format.delimiter), d, "{text}");
        assert_eq!(p.header.names().len(), 3);
        assert_eq!(p.row_count, 2);
    }
}

#[test]
fn a_comma_inside_quotes_does_not_win_over_the_real_delimiter() {
    let text = "email;company\na@x.com;\"Acme, Inc.\"\nb@x.com;\"Foo, Bar, Baz\"\n";
    assert_eq!(Format::detect(text.as_bytes()).unwrap().delimiter, b';');
}

#[test]
fn a_single_column_file_reads_with_a_comma() {
    let p = preview(b"email\na@x.com\nb@x.com\n", &catalogue()).unwrap();
    assert_eq!(p.format.delimiter, b',');
    assert_eq!(p.row_count, 2);
}

#[test]
fn mapping_is_suggested_by_key_or_label_ignoring_case_and_spaces() {
    let p = preview(
        b"E-mail,First Name,EMAIL,customer tier,custom.tier,LAST_NAME,Whatever\n",
        &catalogue(),
    )
    .unwrap();
    let suggested: Vec<Option<&str>> = p
        .suggested_mapping
        .iter()
        .map(|(_, k)| k.as_deref())
        .collect();
    assert_eq!(
        suggested,
        vec![
            None,
            Some("first_name"),
            Some("email"),
            Some("custom.tier"),
            None, // custom.tier is taken by the column before
            Some("last_name"),
            None,
        ]
    );
}

#[test]
fn read_only_fields_are_not_suggested() {
    let p = preview(b"Created,Email\n", &catalogue()).unwrap();
    assert_eq!(p.suggested_mapping[0].1, None);
    assert_eq!(p.suggested_mapping[1].1.as_deref(), Some("email"));
}

#[test]
fn samples_are_the_first_rows_and_the_count_all_of_them() {
    let mut text = String::from("email\n");
    for i in 0..12 {
        text.push_str(&format!("u{i}@x.com\n"));
    }
    let p = preview(text.as_bytes(), &catalogue()).unwrap();
    assert_eq!(p.sample_rows.len(), SAMPLE_ROWS);
    assert_eq!(p.row_count, 12);
    let json = p.to_json();
    assert_eq!(json["delimiter"], ",");
    assert_eq!(json["suggested_mapping"]["email"], "email");
}

#[test]
fn quoted_fields_keep_delimiters_quotes_and_line_breaks() {
    let text = "email,notes\na@x.com,\"one, two \"\"three\"\"\nfour\"\n";
    let p = preview(text.as_bytes(), &catalogue()).unwrap();
    assert_eq!(p.sample_rows[0][1], "one, two \"three\"\nfour");
    assert_eq!(p.row_count, 1);
}

#[test]
fn blank_lines_and_crlf_are_read_as_people_write_them() {
    let p = preview(
        b"email,name\r\na@x.com,Ana\r\n\r\nb@x.com,Bo\r\n",
        &catalogue(),
    )
    .unwrap();
    assert_eq!(p.row_count, 2);
    assert_eq!(p.sample_rows[1], vec!["b@x.com", "Bo"]);
}

#[test]
fn empty_files_and_headerless_files_are_refused_with_a_reason() {
    assert!(invalid_detail(preview(b"", &catalogue())).contains("empty"));
    assert!(invalid_detail(preview(b"\n\n", &catalogue())).contains("empty"));
    assert!(invalid_detail(preview(b"a@x.com,Ana\n", &catalogue())).contains("looks like data"));
    assert!(invalid_detail(preview(b"5551234,Ana\n", &catalogue())).contains("looks like data"));
    assert!(
        invalid_detail(preview(b"email,,city\n", &catalogue())).contains("column 2 has no name")
    );
    assert!(invalid_detail(preview(b"email,Email\n", &catalogue())).contains("twice"));
}

#[test]
fn binary_data_and_utf16_are_refused() {
    assert!(invalid_detail(preview(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        &catalogue()
    ))
    .contains("not CSV"));
    let utf16: Vec<u8> = "email\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    assert!(invalid_detail(preview(&utf16, &catalogue())).contains("UTF-16"));
}

#[test]
fn a_utf8_file_with_a_bad_line_marks_only_that_record() {
    let format = Format {
        encoding: Encoding::Utf8,
        delimiter: b',',
    };
    let recs = records(b"a@x.com,Ana\nb@x.com,Bj\xF6rn\n", format).unwrap();
    assert_eq!(recs[0].undecodable, None);
    assert!(recs[1].undecodable.is_some());
    assert_eq!(recs[1].fields[1], "Bj\u{FFFD}rn");
}

#[test]
fn a_header_is_recognized_when_repeated() {
    let header = Header::parse(&Record {
        fields: vec!["email".into(), " name ".into()],
        undecodable: None,
    })
    .unwrap();
    assert!(header.is_repeated_by(&["email".into(), "name".into()]));
    assert!(!header.is_repeated_by(&["a@x.com".into(), "name".into()]));
    assert_eq!(
        Header::from_json(&header.to_json().to_string()).unwrap(),
        header
    );
}
