//! What the host sets for the whole process it runs in: its memory allocator, and SQLite's.
//!
//! Every request instantiates a component and opens a fresh SQLite connection (as Spin does),
//! which parses the schema into hundreds of small objects and reads pages into a page cache of
//! its own, all freed when the request ends. Allocation is therefore a large share of a
//! request's work: with glibc's malloc, ~15% of the host's CPU for a `GET` of one contact at 1M
//! contacts, and its arenas returned freed memory to the kernel only to fault it back in on
//! the next request. mimalloc (thread-local free lists, memory kept for reuse) serves both
//! Rust and SQLite: 4-connection `GET`s from 2,580–2,670 to 2,830–3,130 req/s, back to back
//! (docs/benchmarks.md). Spin 4.1 uses glibc's malloc for both, so that is what the process
//! does unless it runs the host's fast mode.

use std::alloc::{GlobalAlloc, Layout, System};
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

/// The process's Rust allocator: glibc's malloc, as Spin's, unless [`prepare_fast_process`]
/// switched new blocks to mimalloc. A block is freed by whichever allocator it came from
/// (mimalloc knows its own address ranges), so blocks made before the switch stay valid.
#[global_allocator]
static ALLOCATOR: ProcessAllocator = ProcessAllocator;

static NEW_BLOCKS_FROM_MIMALLOC: AtomicBool = AtomicBool::new(false);

struct ProcessAllocator;

impl ProcessAllocator {
    fn from_mimalloc(block: *mut u8) -> bool {
        // SAFETY: only compares the address with mimalloc's reserved ranges.
        unsafe { libmimalloc_sys::mi_is_in_heap_region(block as *const c_void) }
    }
}

// SAFETY: every call goes to System or MiMalloc, both sound global allocators, and a block is
// always freed or resized by the allocator it came from.
unsafe impl GlobalAlloc for ProcessAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from GlobalAlloc's contract.
        unsafe {
            if NEW_BLOCKS_FROM_MIMALLOC.load(Ordering::Relaxed) {
                mimalloc::MiMalloc.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from GlobalAlloc's contract.
        unsafe {
            if NEW_BLOCKS_FROM_MIMALLOC.load(Ordering::Relaxed) {
                mimalloc::MiMalloc.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: forwarded; `block` goes back to the allocator it came from.
        unsafe {
            if Self::from_mimalloc(block) {
                mimalloc::MiMalloc.dealloc(block, layout)
            } else {
                System.dealloc(block, layout)
            }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; `block` is resized by the allocator it came from.
        unsafe {
            if Self::from_mimalloc(block) {
                mimalloc::MiMalloc.realloc(block, layout, new_size)
            } else {
                System.realloc(block, layout, new_size)
            }
        }
    }
}

/// For [`crate::HostMode::Fast`]: new Rust blocks and all of SQLite's from mimalloc, and no
/// SQLite memory statistics. Without this the process allocates as Spin's does.
///
/// # Safety
/// Call first thing in `main`, before any other thread exists and before anything opens
/// SQLite (`sqlite3_config` is not thread-safe, and refuses with `SQLITE_MISUSE` once SQLite
/// is initialized). [`crate::start`] does not call it, because tests start hosts beside
/// threads that already use SQLite.
pub unsafe fn prepare_fast_process() {
    NEW_BLOCKS_FROM_MIMALLOC.store(true, Ordering::Relaxed);
    // SAFETY: forwarded from this function's contract.
    unsafe {
        allocate_sqlite_with_mimalloc();
        skip_sqlite_memory_statistics();
    }
}

/// # Safety
/// As [`prepare_fast_process`].
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
/// As [`prepare_fast_process`].
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
