//! Reading CSV text as a person saved it: the encoding and delimiter it was written with,
//! its header, and its records. Pure: bytes in, records out.
//!
//! The first chunk of a file decides its [`Format`] ([`Format::detect`]); every later chunk
//! is read with it ([`records`]). A record's fields are decoded one by one, so a chunk with
//! one badly encoded line fails that line, not the chunk.

use serde_json::{json, Map, Value as Json};

use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::values::Email;

/// What a caller's CSV is encoded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// UTF-8 starting with the byte-order mark spreadsheet programs write.
    Utf8Bom,
    /// Any bytes that are not UTF-8: ISO 8859-1, one byte per character.
    Latin1,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf8Bom => "utf-8-bom",
            Encoding::Latin1 => "latin-1",
        }
    }

    pub fn parse(s: &str) -> Option<Encoding> {
        [Encoding::Utf8, Encoding::Utf8Bom, Encoding::Latin1]
            .into_iter()
            .find(|e| e.as_str() == s)
    }

    /// UTF-8 when the bytes are UTF-8 (a preview cut inside the last character still is),
    /// Latin-1 otherwise.
    fn detect(bytes: &[u8]) -> Encoding {
        if bytes.starts_with(BOM) {
            return Encoding::Utf8Bom;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Encoding::Utf8,
            // `error_len() == None`: the text ends inside a character, cut by the sender.
            Err(e) if e.error_len().is_none() => Encoding::Utf8,
            Err(_) => Encoding::Latin1,
        }
    }

    /// One field's text, or why it has none.
    fn decode(self, bytes: &[u8]) -> std::result::Result<String, &'static str> {
        match self {
            Encoding::Utf8 | Encoding::Utf8Bom => std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| "is not valid UTF-8 text, and the file's first chunk was UTF-8: save the whole file as UTF-8"),
            Encoding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        }
    }
}

/// The delimiters sniffed, in the order a tie is broken.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How a file is written: the first chunk's encoding and delimiter hold for every chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub encoding: Encoding,
    pub delimiter: u8,
}

/// How many records the delimiter sniffer reads.
const SNIFF_RECORDS: usize = 50;

impl Format {
    /// The format of a file's first bytes. Refuses what is not CSV text at all.
    pub fn detect(bytes: &[u8]) -> Result<Format> {
        check_text(bytes)?;
        let encoding = Encoding::detect(bytes);
        let body = strip_bom(bytes);
        let delimiter = DELIMITERS
            .into_iter()
            .map(|d| (sniff_score(body, d), d))
            // Ties go to the earlier delimiter: `max_by_key` keeps the last maximum.
            .rev()
            .max_by_key(|(score, _)| *score)
            .filter(|(score, _)| score.1 > 1)
            .map_or(b',', |(_, d)| d);
        Ok(Format {
            encoding,
            delimiter,
        })
    }

    pub fn delimiter_str(&self) -> String {
        char::from(self.delimiter).to_string()
    }
}

/// A delimiter's score on the first records: how many have the first record's field count,
/// then that count. A delimiter that splits nothing scores a count of 1.
fn sniff_score(body: &[u8], delimiter: u8) -> (usize, usize) {
    let counts: Vec<usize> = reader(body, delimiter)
        .byte_records()
        .take(SNIFF_RECORDS)
        .map_while(|r| r.ok().map(|r| r.len()))
        .collect();
    let Some(&first) = counts.first() else {
        return (0, 0);
    };
    (counts.iter().filter(|&&n| n == first).count(), first)
}

fn reader(body: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body)
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

/// CSV is text: a NUL byte means a binary file (or UTF-16, which spreadsheets offer as
/// "Unicode text"), and nothing in it would import.
pub fn check_text(bytes: &[u8]) -> Result<()> {
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::invalid(
            "body",
            format!(
                "this is not CSV text (a binary NUL byte at offset {at}); \
                 a UTF-16 \"Unicode text\" file must be saved as CSV UTF-8 first"
            ),
        ));
    }
    Ok(())
}

/// One record as read: its fields, or why a field could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub fields: Vec<String>,
    /// Set when a field is not valid text in the file's encoding; `fields` then holds a
    /// lossy reading, for `errors.csv`.
    pub undecodable: Option<&'static str>,
}

/// Every record of `bytes` in `format` (a leading BOM skipped; blank lines skipped).
pub fn records(bytes: &[u8], format: Format) -> Result<Vec<Record>> {
    check_text(bytes)?;
    let mut out = Vec::new();
    for record in reader(strip_bom(bytes), format.delimiter).byte_records() {
        let record =
            record.map_err(|e| Error::invalid("body", format!("the CSV cannot be read: {e}")))?;
        let mut fields = Vec::with_capacity(record.len());
        let mut undecodable = None;
        for field in record.iter() {
            match format.encoding.decode(field) {
                Ok(text) => fields.push(text),
                Err(why) => {
                    undecodable = Some(why);
                    fields.push(String::from_utf8_lossy(field).into_owned());
                }
            }
        }
        out.push(Record {
            fields,
            undecodable,
        });
    }
    Ok(out)
}

/// The names of a file's columns, from its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header(Vec<String>);

impl Header {
    pub const MAX_COLUMNS: usize = 500;
    const MAX_NAME: usize = 200;

    /// The first record as a header: named, distinct columns that do not look like data.
    pub fn parse(record: &Record) -> Result<Header> {
        if record.undecodable.is_some() {
            return Err(Error::invalid("body", "the header line is not valid text"));
        }
        if record.fields.len() > Self::MAX_COLUMNS {
            return Err(Error::invalid(
                "body",
                format!("the header has more than {} columns", Self::MAX_COLUMNS),
            ));
        }
        let names: Vec<String> = record.fields.iter().map(|f| f.trim().to_owned()).collect();
        for (i, name) in names.iter().enumerate() {
            let column = i + 1;
            if name.is_empty() {
                return Err(Error::invalid(
                    "body",
                    format!("the first line must be a header naming every column; column {column} has no name"),
                ));
            }
            if name.chars().count() > Self::MAX_NAME {
                return Err(Error::invalid(
                    "body",
                    format!(
                        "column {column}'s name is longer than {} characters",
                        Self::MAX_NAME
                    ),
                ));
            }
            if looks_like_data(name) {
                return Err(Error::invalid(
                    "body",
                    format!("the first line looks like data, not a header ('{name}' in column {column}); add a first line naming the columns"),
                ));
            }
            if names[..i].iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(Error::invalid(
                    "body",
                    format!(
                        "the header names column '{name}' twice; give each column its own name"
                    ),
                ));
            }
        }
        Ok(Header(names))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// The index of a column by name (exact, else case-insensitive).
    pub fn position(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        self.0
            .iter()
            .position(|n| n == name)
            .or_else(|| self.0.iter().position(|n| n.eq_ignore_ascii_case(name)))
    }

    /// Whether a record repeats this header.
    pub fn is_repeated_by(&self, fields: &[String]) -> bool {
        fields.len() == self.0.len() && fields.iter().zip(&self.0).all(|(f, n)| f.trim() == n)
    }

    pub fn to_json(&self) -> Json {
        json!(self.0)
    }

    pub fn from_json(text: &str) -> Result<Header> {
        serde_json::from_str(text)
            .map(Header)
            .map_err(|e| Error::Storage(format!("import header: {e}")))
    }
}

/// A header cell that is an email address or a number is a data row without a header.
fn looks_like_data(name: &str) -> bool {
    let numeric = name
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | ' ' | '(' | ')'))
        && name.chars().any(|c| c.is_ascii_digit());
    numeric || (name.contains('@') && Email::parse(name).is_ok())
}

/// How a column name compares with a field's key or label: case and spaces ignored.
fn comparable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The field each column would import into: the first importable field whose key or label
/// equals the column's name, each field suggested once.
pub fn suggest_mapping(header: &Header, catalogue: &Catalogue) -> Vec<(String, Option<String>)> {
    let mut taken: Vec<&str> = Vec::new();
    header
        .names()
        .iter()
        .map(|name| {
            let wanted = comparable(name);
            let field = catalogue
                .fields()
                .iter()
                .filter(|f| f.caps.importable && !taken.contains(&f.key.as_str()))
                .find(|f| {
                    let bare = f.key.strip_prefix("custom.").unwrap_or(&f.key);
                    [f.key.as_str(), bare, f.label.as_str()]
                        .iter()
                        .any(|s| comparable(s) == wanted)
                });
            if let Some(f) = field {
                taken.push(&f.key);
            }
            (name.clone(), field.map(|f| f.key.clone()))
        })
        .collect()
}

/// Sample rows a preview shows.
pub const SAMPLE_ROWS: usize = 5;

/// What `POST /api/imports/preview` answers about the start of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub format: Format,
    pub header: Header,
    pub suggested_mapping: Vec<(String, Option<String>)>,
    pub sample_rows: Vec<Vec<String>>,
    /// Data rows (after the header) in what was sent.
    pub row_count: usize,
}

/// Reads the start of a file (or all of it).
pub fn preview(bytes: &[u8], catalogue: &Catalogue) -> Result<Preview> {
    let format = Format::detect(bytes)?;
    let all = records(bytes, format)?;
    let mut rows = all.into_iter();
    let first = rows.next().ok_or_else(empty_file)?;
    let header = Header::parse(&first)?;
    let rest: Vec<Record> = rows.collect();
    Ok(Preview {
        format,
        suggested_mapping: suggest_mapping(&header, catalogue),
        sample_rows: rest
            .iter()
            .take(SAMPLE_ROWS)
            .map(|r| r.fields.clone())
            .collect(),
        row_count: rest.len(),
        header,
    })
}

pub fn empty_file() -> Error {
    Error::invalid(
        "body",
        "the file is empty: its first line must be a header naming the columns",
    )
}

impl Preview {
    pub fn to_json(&self) -> Json {
        let mapping: Map<String, Json> = self
            .suggested_mapping
            .iter()
            .map(|(column, key)| (column.clone(), json!(key)))
            .collect();
        json!({
            "encoding": self.format.encoding.as_str(),
            "delimiter": self.format.delimiter_str(),
            "header": self.header.to_json(),
            "suggested_mapping": mapping,
            "sample_rows": self.sample_rows,
            "row_count": self.row_count,
        })
    }
}

#[cfg(test)]
mod tests;
