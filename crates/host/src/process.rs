//! What the host sets for the whole process it runs in: its memory allocator, and SQLite's.
//!
//! Every request instantiates a component and opens a fresh SQLite connection (as Spin does),
//! which parses the schema into hundreds of small objects and reads pages into a page cache of
//! its own, all freed when the request ends. Allocation is therefore a large share of a
//! request's work: with glibc's malloc, ~15% of the host's CPU for a `GET` of one contact at 1M
//! contacts, and its arenas returned freed memory to the kernel only to fault it back in on
//! the next request. mimalloc (thread-local free lists, memory kept for reuse) serves both
//! Rust and SQLite: 4-connection `GET`s from 2,580–2,670 to 2,830–3,130 req/s, back to back
//! (docs/benchmarks.md).

use std::os::raw::{c_int, c_void};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Makes SQLite allocate with mimalloc and skip its memory statistics.
///
/// # Safety
/// Call first thing in `main`, before any other thread exists and before anything opens
/// SQLite (`sqlite3_config` is not thread-safe, and refuses with `SQLITE_MISUSE` once SQLite
/// is initialized). [`crate::start`] does not call it, because tests start hosts beside
/// threads that already use SQLite; there SQLite keeps its default allocator.
pub unsafe fn prepare_process() {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        allocate_sqlite_with_mimalloc();
        skip_sqlite_memory_statistics();
    }
}

/// # Safety
/// As [`prepare_process`].
unsafe fn allocate_sqlite_with_mimalloc() {
    let methods = rusqlite::ffi::sqlite3_mem_methods {
        xMalloc: Some(sqlite_malloc),
        xFree: Some(sqlite_free),
        xRealloc: Some(sqlite_realloc),
        xSize: Some(sqlite_size),
        xRoundup: Some(sqlite_roundup),
        xInit: Some(sqlite_init),
        xShutdown: Some(sqlite_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: the caller upholds sqlite3_config's contract; SQLITE_CONFIG_MALLOC takes a
    // pointer to a sqlite3_mem_methods, which SQLite copies before returning.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_config(
            rusqlite::ffi::SQLITE_CONFIG_MALLOC,
            &methods as *const rusqlite::ffi::sqlite3_mem_methods,
        )
    };
    debug_assert_eq!(
        rc,
        rusqlite::ffi::SQLITE_OK,
        "SQLite was already initialized"
    );
}

/// Turns off SQLite's memory statistics, which take one process-wide mutex on every
/// allocation of every connection; nothing here reads them. With four requests at once they
/// made that mutex the bottleneck: GETs at 1M contacts from 4 connections, 1,330–1,410 req/s
/// with them, 2,240–2,400 without (docs/benchmarks.md).
///
/// # Safety
/// As [`prepare_process`].
unsafe fn skip_sqlite_memory_statistics() {
    // SAFETY: the caller upholds sqlite3_config's contract; SQLITE_CONFIG_MEMSTATUS takes
    // one int.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int)
    };
    debug_assert_eq!(
        rc,
        rusqlite::ffi::SQLITE_OK,
        "SQLite was already initialized"
    );
}

// SQLite's allocator interface over mimalloc. SQLite only asks for sizes in 1..2^31 (it
// answers larger and zero-sized requests itself), and mimalloc's blocks are 8-byte aligned
// as SQLite requires.

unsafe extern "C" fn sqlite_malloc(size: c_int) -> *mut c_void {
    // SAFETY: mi_malloc takes any size.
    unsafe { libmimalloc_sys::mi_malloc(size.max(0) as usize) }
}

unsafe extern "C" fn sqlite_free(block: *mut c_void) {
    // SAFETY: SQLite frees only blocks from sqlite_malloc / sqlite_realloc.
    unsafe { libmimalloc_sys::mi_free(block) }
}

unsafe extern "C" fn sqlite_realloc(block: *mut c_void, size: c_int) -> *mut c_void {
    // SAFETY: `block` came from sqlite_malloc / sqlite_realloc.
    unsafe { libmimalloc_sys::mi_realloc(block, size.max(0) as usize) }
}

unsafe extern "C" fn sqlite_size(block: *mut c_void) -> c_int {
    // SAFETY: `block` came from sqlite_malloc / sqlite_realloc.
    let size = unsafe { libmimalloc_sys::mi_usable_size(block) };
    c_int::try_from(size).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn sqlite_roundup(size: c_int) -> c_int {
    // SAFETY: mi_good_size only computes.
    let rounded = unsafe { libmimalloc_sys::mi_good_size(size.max(0) as usize) };
    c_int::try_from(rounded).unwrap_or(size)
}

unsafe extern "C" fn sqlite_init(_: *mut c_void) -> c_int {
    rusqlite::ffi::SQLITE_OK
}

unsafe extern "C" fn sqlite_shutdown(_: *mut c_void) {}
