//! Keeping each FTS5 index in few large segments while single writes grow it.
//!
//! FTS5 writes each transaction's entries as a new segment and merges segments only within a
//! level, four at a time: however the contacts arrive (a chat at a time or in batches), a
//! large index ends up in about ten segments, three of them at each of the top levels, and
//! every look-up walks each one (a search's p99 about doubles, docs/benchmarks.md). Spin has
//! no background work, so writers call [`upkeep`] in their transactions (a single write
//! once in sixteen, [`upkeep_due`]): it reads each index's structure record and, when a
//! second large segment has grown, starts FTS5's incremental full merge (`'merge', -1`). FTS5's own automerge then carries that merge on,
//! a few pages per written leaf, in the transactions that follow.
//!
//! "A few" is the index's level count per leaf (`fts5IndexAutomerge`), and every full merge
//! adds a level: at a million contacts `search_words` has ~20 levels, so a write of a few
//! thousand contacts (an import chunk, a bulk slice) finished a whole 300 MB full merge in
//! one transaction, 10–18 s natively (docs/benchmarks.md, Import). Bulk writers therefore
//! run through [`bulk_write`], which pauses automerge for the transaction and then does
//! merge work in proportion to what it wrote.

use std::time::Instant;

use crate::kernel::error::Result;
use crate::kernel::store::{job_step_tx, Sql, Value};

/// The indexes kept in shape (the names vocabulary is small and rarely written).
const INDEXES: [&str; 2] = ["search_words", "search_grams"];

/// The row of `<index>_data` that holds the structure record (FTS5's `FTS5_STRUCTURE_ROWID`).
const STRUCTURE_ROW: i64 = 10;

/// A segment counts as large from this fraction of the largest one's pages: a full merge
/// rewrites the whole index, so it starts once the rest has grown to an eighth of it
/// (about nine pages rewritten per page added, on top of FTS5's own merging).
const LARGE_FRACTION: u64 = 8;

/// FTS5's default `automerge`, which [`bulk_write`] restores (the schema never changes it).
const AUTOMERGE: i64 = 4;

/// Pages of merging a bulk write does per page it added: about what FTS5's automerge does on
/// an index of a few levels, without the level count's growth. At 1M, 8 cost an import 11%
/// of its speed and left search no faster right after it (docs/benchmarks.md, Import).
const BULK_MERGE_FACTOR: u64 = 4;

/// A single-contact write does [`upkeep`] once in this many: the structure read is a
/// statement in the write lock, and one write adds a few pages to an index of thousands, so
/// a check every sixteen writes starts a merge as soon, to within a few pages.
const UPKEEP_EVERY: i64 = 16;

/// Whether the single-contact write that drew `draw` does [`upkeep`]: a number that every
/// write draws anew from a counter all writers share (a history item's id, an event key's
/// id), so one write in [`UPKEEP_EVERY`] does it, whoever writes.
pub fn upkeep_due(draw: i64) -> bool {
    draw % UPKEEP_EVERY == 0
}

/// Starts a full merge of each index that has two large segments and no merge under way.
pub fn upkeep(db: &dyn Sql) -> Result<()> {
    for (index, structure) in INDEXES.iter().zip(structures(db)?) {
        if structure.is_some_and(|s| s.wants_full_merge()) {
            start_full_merge(db, index)?;
        }
    }
    Ok(())
}

/// Runs `write`, a write of many contacts in the caller's transaction (an import chunk, a
/// bulk slice), with FTS5's automerge paused, then does upkeep and merge work bounded by
/// [`BULK_MERGE_FACTOR`] times the pages the write added, so the transaction's merge work
/// follows its size. The pause is a setting written in the same transaction: no other
/// connection sees it, and a write that fails rolls it back with everything else.
pub fn bulk_write<T>(db: &dyn Sql, write: impl FnOnce() -> Result<T>) -> Result<T> {
    set_automerge(db, 0)?;
    let before = structures(db)?;
    let out = write()?;
    for index in INDEXES {
        command(db, index, "flush", 0)?;
    }
    for ((index, before), after) in INDEXES.iter().zip(before).zip(structures(db)?) {
        let Some(after) = after else { continue };
        let added = after
            .total_pages()
            .saturating_sub(before.map_or(0, |b| b.total_pages()));
        if after.wants_full_merge() {
            start_full_merge(db, index)?;
        }
        if added > 0 {
            let budget = i64::try_from(added * BULK_MERGE_FACTOR).unwrap_or(i64::MAX);
            command(db, index, "merge", budget)?;
        }
    }
    set_automerge(db, AUTOMERGE)?;
    Ok(out)
}

/// Pages of merging each step of [`settle`] does per index, in its own transaction: about a
/// sixth of a second natively for both indexes at 1M, so a prompt writer waits at most
/// about that long for the lock.
const SETTLE_STEP_PAGES: i64 = 2_000;

/// Merges every fragmented index into a single segment after a bulk load (an import), in
/// steps of [`SETTLE_STEP_PAGES`], each a transaction of its own taken as a job's step (so
/// prompt writers go first), until done or `deadline`.
///
/// An index is fragmented when the pages outside its largest segment add up to an eighth of
/// it (what [`bulk_write`] leaves after a large load: a full merge that restarts as the
/// index grows, and the newer segments beside it), so the rewrite costs at most nine times
/// what was loaded, and a small import into a large index rewrites nothing. The first step
/// starts one full merge of all segments (the output of a merge under way is one of them);
/// the next steps carry it on without restarting it, so concurrent writes cannot keep it
/// from ending.
pub fn settle(db: &dyn Sql, deadline: Instant) -> Result<()> {
    settle_in_steps(db, deadline, SETTLE_STEP_PAGES)
}

fn settle_in_steps(db: &dyn Sql, deadline: Instant, pages: i64) -> Result<()> {
    let mut first = true;
    while job_step_tx(db, || settle_step(db, first, pages))? && Instant::now() < deadline {
        first = false;
    }
    Ok(())
}

/// One step of [`settle`]; whether a merge is still under way.
fn settle_step(db: &dyn Sql, first: bool, pages: i64) -> Result<bool> {
    let mut more = false;
    for (index, structure) in INDEXES.iter().zip(structures(db)?) {
        let Some(structure) = structure else { continue };
        if first && structure.fragmented() {
            command(db, index, "merge", -pages)?;
        } else if structure.merging() {
            command(db, index, "merge", pages)?;
        } else {
            continue;
        }
        more = true;
    }
    Ok(more)
}

/// Each index's structure record, decoded; `None` for a missing record or one this code
/// cannot read (a future FTS5 format), which only means no upkeep. Both in one statement:
/// this runs in every bulk write and in one single write in sixteen.
fn structures(db: &dyn Sql) -> Result<Vec<Option<Structure>>> {
    let records: Vec<String> = INDEXES
        .iter()
        .map(|index| format!("(SELECT block FROM {index}_data WHERE id = {STRUCTURE_ROW})"))
        .collect();
    let rows = db.execute(&format!("SELECT {}", records.join(", ")), &[])?;
    let Some(records) = rows.rows.first() else {
        return Ok(INDEXES.iter().map(|_| None).collect());
    };
    Ok(records
        .iter()
        .map(|record| match record {
            Value::Blob(record) => Structure::decode(record),
            _ => None,
        })
        .collect())
}

fn start_full_merge(db: &dyn Sql, index: &str) -> Result<()> {
    command(db, index, "merge", -1)
}

fn set_automerge(db: &dyn Sql, segments: i64) -> Result<()> {
    for index in INDEXES {
        command(db, index, "automerge", segments)?;
    }
    Ok(())
}

/// One of FTS5's special inserts (`INSERT INTO t (t, rank) VALUES (command, argument)`).
fn command(db: &dyn Sql, index: &str, command: &str, argument: i64) -> Result<()> {
    db.execute(
        &format!("INSERT INTO {index} ({index}, rank) VALUES (?, ?)"),
        &[command.into(), argument.into()],
    )?;
    Ok(())
}

/// What upkeep needs of an FTS5 structure record: per level, whether a merge is under way
/// and each segment's size in pages.
#[derive(Debug, PartialEq)]
struct Structure {
    levels: Vec<Level>,
}

#[derive(Debug, PartialEq)]
struct Level {
    merging: bool,
    pages: Vec<u64>,
}

/// Marks the second version of the record (with tombstone and origin fields per segment),
/// written by tables with `contentless_delete`.
const V2_MARKER: [u8; 4] = [0xff, 0x00, 0x00, 0x01];

impl Structure {
    /// Reads the record as `fts5StructureDecode` (SQLite's fts5_index.c) does: a 4-byte
    /// cookie, the V2 marker if any, level and segment counts and the write counter, then per
    /// level its merge count and segments (id, first and last leaf page, and in V2 five more
    /// numbers). `None` when the record does not parse whole.
    fn decode(record: &[u8]) -> Option<Structure> {
        let mut r = Reader {
            bytes: record,
            at: 4,
        };
        let v2 = record.get(4..8) == Some(&V2_MARKER[..]);
        if v2 {
            r.at += 4;
        }
        let level_count = r.varint()?;
        let segment_count = r.varint()?;
        let _write_counter = r.varint()?;
        let mut levels = Vec::new();
        let mut seen = 0;
        for _ in 0..level_count {
            let merging = r.varint()? > 0;
            let count = r.varint()?;
            let mut pages = Vec::new();
            for _ in 0..count {
                let _segment_id = r.varint()?;
                let first = r.varint()?;
                let last = r.varint()?;
                if v2 {
                    for _ in 0..5 {
                        r.varint()?;
                    }
                }
                pages.push(last.checked_sub(first)? + 1);
            }
            seen += count;
            levels.push(Level { merging, pages });
        }
        (seen == segment_count && r.at == record.len()).then_some(Structure { levels })
    }

    fn wants_full_merge(&self) -> bool {
        let largest = self.largest();
        !self.merging()
            && self
                .pages()
                .filter(|p| p * LARGE_FRACTION >= largest)
                .count()
                >= 2
    }

    /// The pages outside the largest segment add up to an eighth of it.
    fn fragmented(&self) -> bool {
        let largest = self.largest();
        (self.total_pages() - largest) * LARGE_FRACTION >= largest && self.pages().count() > 1
    }

    fn merging(&self) -> bool {
        self.levels.iter().any(|l| l.merging)
    }

    fn total_pages(&self) -> u64 {
        self.pages().sum()
    }

    fn pages(&self) -> impl Iterator<Item = u64> + '_ {
        self.levels.iter().flat_map(|l| l.pages.iter().copied())
    }

    fn largest(&self) -> u64 {
        self.pages().max().unwrap_or(0)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// SQLite's varint: big-endian groups of 7 bits, high bit set on all but the last byte;
    /// a ninth byte contributes all 8 bits.
    fn varint(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for i in 0..9 {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            if i == 8 {
                return Some((value << 8) | u64::from(byte));
            }
            value = (value << 7) | u64::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::native::NativeSql;
    use crate::kernel::schema;

    fn structure(db: &NativeSql, index: &str) -> Structure {
        let rows = db
            .execute(
                &format!("SELECT block FROM {index}_data WHERE id = 10"),
                &[],
            )
            .unwrap();
        match rows.rows[0][0] {
            Value::Blob(ref b) => Structure::decode(b).expect("a readable structure record"),
            ref other => panic!("structure record is {other:?}"),
        }
    }

    fn insert(db: &NativeSql, i: usize) -> Result<()> {
        db.execute(
            "INSERT INTO contacts (contact_id, first_name, last_name, display_name, email, \
             email_norm, created_at, updated_at) VALUES (?, ?, 'Lima', 'x', ?, ?, 't', 't')",
            &[
                format!("c{i}").into(),
                format!("Ana{i}").into(),
                format!("ana{i}@x.io").into(),
                format!("ana{i}@x.io").into(),
            ],
        )?;
        Ok(())
    }

    #[test]
    fn one_single_write_in_sixteen_does_upkeep() {
        let due: Vec<i64> = (1..=64).filter(|&draw| upkeep_due(draw)).collect();
        assert_eq!(due, [16, 32, 48, 64]);
    }

    fn insert_one_per_transaction(db: &NativeSql, from: usize, n: usize, tend: bool) {
        for i in from..from + n {
            crate::kernel::store::write_tx(db, || {
                insert(db, i)?;
                if tend {
                    upkeep(db)?;
                }
                Ok::<_, crate::Error>(())
            })
            .unwrap();
        }
    }

    /// How many rows the trigram index finds for the last name every test row has.
    fn lima_matches(db: &NativeSql) -> Option<i64> {
        db.execute(
            "SELECT count(*) FROM search_grams WHERE search_grams MATCH 'lima'",
            &[],
        )
        .unwrap()
        .scalar_i64()
    }

    fn automerge(db: &NativeSql, index: &str) -> Option<i64> {
        db.execute(
            &format!("SELECT v FROM {index}_config WHERE k = 'automerge'"),
            &[],
        )
        .unwrap()
        .scalar_i64()
    }

    /// Pages still to merge in the merge under way.
    fn merging_pages(s: &Structure) -> u64 {
        s.levels
            .iter()
            .filter(|l| l.merging)
            .flat_map(|l| &l.pages)
            .sum()
    }

    #[test]
    fn varints_read_as_sqlite_writes_them() {
        let mut r = Reader {
            bytes: &[0x05, 0x81, 0x00, 0xff, 0x7f],
            at: 0,
        };
        assert_eq!(r.varint(), Some(5));
        assert_eq!(r.varint(), Some(128));
        assert_eq!(r.varint(), Some(0x3fff));
        assert_eq!(r.varint(), None);
        let nine = [0xffu8; 9];
        let mut r = Reader {
            bytes: &nine,
            at: 0,
        };
        assert_eq!(r.varint(), Some(u64::MAX));
    }

    #[test]
    fn a_cut_or_padded_record_is_not_read() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        insert_one_per_transaction(&db, 0, 20, false);
        let rows = db
            .execute("SELECT block FROM search_grams_data WHERE id = 10", &[])
            .unwrap();
        let Value::Blob(ref record) = rows.rows[0][0] else {
            panic!("no record")
        };
        assert!(Structure::decode(record).is_some());
        assert!(Structure::decode(&record[..record.len() - 1]).is_none());
        let mut padded = record.clone();
        padded.push(0);
        assert!(Structure::decode(&padded).is_none());
    }

    #[test]
    fn two_large_segments_and_no_merge_under_way_want_a_full_merge() {
        let level = |merging, pages: &[u64]| Level {
            merging,
            pages: pages.to_vec(),
        };
        let s = |levels| Structure { levels };
        assert!(!s(vec![level(false, &[800])]).wants_full_merge());
        assert!(!s(vec![level(false, &[1, 2, 3]), level(false, &[800])]).wants_full_merge());
        assert!(s(vec![level(false, &[100]), level(false, &[800])]).wants_full_merge());
        assert!(!s(vec![level(false, &[100]), level(true, &[800, 700])]).wants_full_merge());
    }

    #[test]
    fn upkeep_merges_what_single_writes_leave_behind() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        insert_one_per_transaction(&db, 0, 3_000, false);
        let left = structure(&db, "search_grams");
        assert!(left.wants_full_merge(), "{left:?}");

        insert_one_per_transaction(&db, 3_000, 3_000, true);
        for index in INDEXES {
            let s = structure(&db, index);
            assert!(!s.wants_full_merge(), "{index}: {s:?}");
        }
        let now = structure(&db, "search_grams");
        assert!(now.largest() > 2 * left.largest(), "{left:?}\n{now:?}");
        // The index still answers every row.
        assert_eq!(lima_matches(&db), Some(6_000));
    }

    #[test]
    fn a_bulk_write_merges_in_proportion_to_what_it_added() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        insert_one_per_transaction(&db, 0, 3_000, false);
        command(&db, "search_grams", "merge", -1).unwrap();
        let before = structure(&db, "search_grams");
        let to_merge = merging_pages(&before);
        assert!(to_merge > 50, "{before:?}");

        crate::kernel::store::write_tx(&db, || {
            bulk_write(&db, || (3_000..3_020).try_for_each(|i| insert(&db, i)))
        })
        .unwrap();
        let after = structure(&db, "search_grams");
        let added = after.total_pages() - before.total_pages();
        let merged = to_merge - merging_pages(&after);
        assert!(merged > 0, "the merge under way moved on: {after:?}");
        // FTS5 stops merging at the end of the leaf that crosses the budget.
        assert!(
            merged <= BULK_MERGE_FACTOR * added + 8,
            "merged {merged} pages for {added} added: {before:?}\n{after:?}"
        );
        for index in INDEXES {
            assert_eq!(automerge(&db, index), Some(AUTOMERGE), "{index}");
        }
    }

    fn segments(db: &NativeSql, index: &str) -> usize {
        structure(db, index).pages().count()
    }

    fn far() -> Instant {
        Instant::now() + std::time::Duration::from_secs(600)
    }

    #[test]
    fn settle_merges_each_fragmented_index_into_one_segment() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        insert_one_per_transaction(&db, 0, 3_000, false);
        for index in INDEXES {
            let s = structure(&db, index);
            assert!(s.fragmented(), "{index}: {s:?}");
        }
        settle(&db, far()).unwrap();
        for index in INDEXES {
            let s = structure(&db, index);
            assert_eq!(s.pages().count(), 1, "{index}: {s:?}");
            assert!(!s.merging(), "{index}: {s:?}");
        }
        assert_eq!(lima_matches(&db), Some(3_000));
    }

    #[test]
    fn settle_leaves_a_small_load_into_a_merged_index_alone() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        insert_one_per_transaction(&db, 0, 3_000, false);
        settle(&db, far()).unwrap();
        crate::kernel::store::write_tx(&db, || (3_000..3_010).try_for_each(|i| insert(&db, i)))
            .unwrap();
        let before: Vec<Structure> = INDEXES.iter().map(|i| structure(&db, i)).collect();
        assert!(
            before.iter().all(|s| !s.fragmented() && !s.merging()),
            "{before:?}"
        );
        assert!(INDEXES.iter().all(|i| segments(&db, i) > 1), "{before:?}");
        settle(&db, far()).unwrap();
        let after: Vec<Structure> = INDEXES.iter().map(|i| structure(&db, i)).collect();
        assert_eq!(after, before);
    }

    #[test]
    fn a_settle_cut_short_leaves_its_merge_under_way_for_the_next_to_finish() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        insert_one_per_transaction(&db, 0, 3_000, false);
        settle_in_steps(&db, Instant::now(), 10).unwrap();
        let cut = structure(&db, "search_grams");
        assert!(cut.merging(), "{cut:?}");
        // A write between the two: the next settle ends the merge under way without
        // restarting it, and leaves the write's small segment beside the merged one.
        crate::kernel::store::write_tx(&db, || insert(&db, 3_000)).unwrap();
        settle(&db, far()).unwrap();
        for index in INDEXES {
            let s = structure(&db, index);
            assert!(!s.merging(), "{index}: {s:?}");
            assert!(s.pages().count() <= 2, "{index}: {s:?}");
        }
    }

    #[test]
    fn a_failed_bulk_write_leaves_automerge_and_the_index_as_they_were() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        insert_one_per_transaction(&db, 0, 100, false);
        let before = structure(&db, "search_grams");
        let failed = crate::kernel::store::write_tx(&db, || {
            bulk_write(&db, || {
                insert(&db, 100)?;
                Err::<(), _>(crate::Error::Storage("forced".into()))
            })
        });
        assert!(failed.is_err());
        assert_eq!(structure(&db, "search_grams"), before);
        for index in INDEXES {
            assert_eq!(automerge(&db, index), None, "{index}: still the default");
        }
        // Automerge is on again for this connection: single writes keep merging.
        insert_one_per_transaction(&db, 100, 400, false);
        let s = structure(&db, "search_grams");
        assert!(s.levels.iter().all(|l| l.pages.len() < 16), "{s:?}");
    }
}
