//! What an import shows: the job with its counts, and `errors.csv`.

use serde_json::{json, Value as Json};

use crate::import::chunks::file_of;
use crate::kernel::error::{Error, Result};
use crate::kernel::jobs::{self, Job, JobId, Kind};
use crate::kernel::store::{Sql, Value};

/// The job as `GET /api/imports/{job}` shows it (SPEC §9), with `next_seq`: the chunk a
/// client resuming after a failure sends next.
pub fn job_json(job: &Job) -> Json {
    json!({
        "id": job.id.as_str(),
        "state": job.state.as_str(),
        "processed": job.processed,
        "counts": job.counts,
        "next_seq": job.step + 1,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    })
}

/// The failed rows as they were in the file, in file order, with an `error` column; the
/// header is the file's with `error` added. Every cell is [`neutralize`]d.
pub fn errors_csv(db: &dyn Sql, id: &JobId) -> Result<Vec<u8>> {
    jobs::get(db, Kind::Import, id)?;
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut header: Vec<String> = file_of(db, id)?
        .map(|(_, h)| h.names().to_vec())
        .unwrap_or_default();
    header.push("error".into());
    write(&mut out, &header)?;
    let rows = db.execute(
        "SELECT record, error FROM import_errors WHERE job_id = ? ORDER BY row",
        &[id.as_str().into()],
    )?;
    for row in rows.rows {
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default();
        let mut cells: Vec<String> = serde_json::from_str(text(0))
            .map_err(|e| Error::Storage(format!("import error record: {e}")))?;
        cells.push(text(1).to_owned());
        write(&mut out, &cells)?;
    }
    out.into_inner()
        .map_err(|e| Error::Storage(format!("errors.csv: {e}")))
}

fn write(out: &mut csv::Writer<Vec<u8>>, cells: &[String]) -> Result<()> {
    out.write_record(cells.iter().map(|c| neutralize(c).into_owned()))
        .map_err(|e| Error::Storage(format!("errors.csv: {e}")))
}

/// A cell a spreadsheet would run as a formula (it begins with `=`, `+`, `-`, `@`, tab or
/// carriage return) gets a leading `'` (SPEC §9); any other cell is kept as it is.
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralized_and_others_kept() {
        for (cell, want) in [
            ("=SUM(A1)", "'=SUM(A1)"),
            ("+1 212 555 0100", "'+1 212 555 0100"),
            ("-2", "'-2"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Ana", "Ana"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(neutralize(cell), want);
        }
    }
}
