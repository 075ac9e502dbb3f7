//! A thin SQLite VFS for the send writer's connection: the operating system's `unix` VFS, except
//! that the frames a transaction appends to the write-ahead log reach the file in a few large
//! writes (one per 124 KiB) instead of two per page.
//!
//! SQLite writes each WAL frame as two calls, a 24-byte header and then the page. A batch of
//! sends dirties about four random B-tree leaves per message (see docs/benchmarks.md, session
//! 6), so a batch of 128 commits with some 1,100 `pwrite` calls, and the kernel's write path was
//! 31% of the writer thread. Here the WAL file's writes are gathered in memory while they are
//! contiguous and written out together:
//!
//! - when the commit frame's page has been appended (its 24-byte header carries the database size,
//!   which only a commit frame does), so an I/O error is still the commit's error, returned by
//!   the write that SQLite checks before it makes the commit visible;
//! - before any other operation on the WAL file (read, sync, truncate, size, file control,
//!   close), and before a write that is not contiguous or would grow the buffer past [`MAX_BUFFER`];
//! - as a last line, when SQLite publishes a commit in the shared WAL index (`xShmBarrier`,
//!   between the index header's two copies) or takes or releases a WAL lock: a reader that
//!   sees a commit finds its frames in the file. Should that late write fail, the process
//!   aborts before the second copy of the header is written, so no reader ever sees the commit
//!   and the database stays as it was (no send of that batch was acknowledged).
//!
//! Durability is unchanged: with `synchronous = NORMAL` a commit was in the operating system's
//! hands (not on the disk) when SQLite returned, and it still is. Every other connection (the
//! sqlx pools) uses the plain `unix` VFS and shares the same locks and WAL index.

use rusqlite::ffi;
use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;

/// The name the writer's connection opens with.
pub(super) const NAME: &str = "courier-wal";
const C_NAME: &CStr = c"courier-wal";

/// A buffer larger than this is written out before it grows further (a transaction that spills
/// its cache writes many frames before its commit).
const MAX_BUFFER: usize = 16 << 20;
/// The most the `unix` VFS writes in one call: it keeps only the low 17 bits of a write's
/// length (`seekAndWrite`), so larger writes go in pieces of this size (about 30 frames of 4 KiB).
const MAX_WRITE: usize = 124 << 10;
/// The size of a WAL frame header; a commit frame's carries a non-zero database size at 4..8.
const FRAME_HEADER: usize = 24;

/// What this VFS keeps beside the `unix` VFS's own file object (which sits first, at the
/// address SQLite hands out, so the `unix` methods work on it unchanged).
struct Extra {
    /// The `unix` methods of this file.
    real: *const ffi::sqlite3_io_methods,
    /// A database file: its WAL file while that is open (null otherwise).
    wal: *mut ffi::sqlite3_file,
    /// A WAL file: its database file while that is open (null otherwise).
    db: *mut ffi::sqlite3_file,
    /// A WAL file: the frames not yet written, starting at file offset `at`.
    buffer: Vec<u8>,
    at: i64,
    /// A WAL file: the last write was a commit frame's header; its page comes next.
    commit_next: bool,
}

struct Vfs {
    /// The `unix` VFS.
    real: *mut ffi::sqlite3_vfs,
    /// Where [`Extra`] starts in a file object.
    offset: usize,
    /// The methods of database files and of WAL files (see [`methods_for`]).
    main_methods: OnceLock<Methods>,
    wal_methods: OnceLock<Methods>,
}

struct Methods {
    real: *const ffi::sqlite3_io_methods,
    table: ffi::sqlite3_io_methods,
}

// SAFETY: the pointers are to SQLite's static VFS and method tables and to this module's
// leaked ones, never freed and only read after set-up.
unsafe impl Send for Vfs {}
unsafe impl Sync for Vfs {}
unsafe impl Send for Methods {}
unsafe impl Sync for Methods {}

static VFS: OnceLock<Result<Vfs, String>> = OnceLock::new();

/// Registers the VFS (once per process). Errors when SQLite has no `unix` VFS.
pub(super) fn register() -> Result<(), String> {
    VFS.get_or_init(|| {
        // SAFETY: sqlite3_vfs_find and sqlite3_vfs_register are thread-safe in SQLite's
        // default (serialized) build; the registered struct is leaked and lives forever.
        unsafe {
            let real = ffi::sqlite3_vfs_find(c"unix".as_ptr());
            if real.is_null() {
                return Err("SQLite has no unix VFS".to_owned());
            }
            let offset = ((*real).szOsFile as usize).div_ceil(16) * 16;
            let mut vfs = *real;
            vfs.pNext = std::ptr::null_mut();
            vfs.zName = C_NAME.as_ptr();
            vfs.szOsFile = (offset + size_of::<Extra>()) as c_int;
            vfs.xOpen = Some(open);
            let ours = Box::into_raw(Box::new(vfs));
            let rc = ffi::sqlite3_vfs_register(ours, 0);
            if rc != ffi::SQLITE_OK {
                return Err(format!("sqlite3_vfs_register failed: {rc}"));
            }
            Ok(Vfs {
                real,
                offset,
                main_methods: OnceLock::new(),
                wal_methods: OnceLock::new(),
            })
        }
    })
    .as_ref()
    .map(|_| ())
    .map_err(Clone::clone)
}

fn vfs() -> &'static Vfs {
    match VFS.get() {
        Some(Ok(vfs)) => vfs,
        // `open` is only reachable through the registered VFS.
        _ => unreachable!("the courier-wal VFS is used before it is registered"),
    }
}

/// # Safety
/// `file` is a file object of this VFS that [`open`] set up.
unsafe fn extra<'f>(file: *mut ffi::sqlite3_file) -> &'f mut Extra {
    unsafe { &mut *file.cast::<u8>().add(vfs().offset).cast::<Extra>() }
}

/// This module's methods for a file whose `unix` methods are `real`, made from the first such
/// table seen for each kind of file (the `unix` VFS gives WAL files methods without locks).
/// None for a file with other methods, which is then left as it is.
fn methods_for(real: *const ffi::sqlite3_io_methods, wal: bool) -> Option<&'static Methods> {
    let vfs = vfs();
    let cell = if wal {
        &vfs.wal_methods
    } else {
        &vfs.main_methods
    };
    let methods = cell.get_or_init(|| {
        // SAFETY: `real` is the method table the unix VFS just gave a file; it is static.
        let mut table = unsafe { *real };
        if wal {
            table.xClose = Some(wal_close);
            table.xRead = Some(wal_read);
            table.xWrite = Some(wal_write);
            table.xTruncate = Some(wal_truncate);
            table.xSync = Some(wal_sync);
            table.xFileSize = Some(wal_file_size);
            table.xFileControl = Some(wal_file_control);
        } else {
            table.xClose = Some(main_close);
            table.xShmBarrier = Some(main_barrier);
            table.xShmLock = Some(main_shm_lock);
        }
        Methods { real, table }
    });
    (methods.real == real).then_some(methods)
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let vfs = vfs();
    // SAFETY: the unix VFS opens into the same file object (ours is larger) with its own VFS
    // pointer, as if SQLite had called it.
    unsafe {
        let Some(real_open) = (*vfs.real).xOpen else {
            return ffi::SQLITE_ERROR;
        };
        let rc = real_open(vfs.real, name, file, flags, out_flags);
        if rc != ffi::SQLITE_OK || (*file).pMethods.is_null() {
            return rc;
        }
        let main = flags & ffi::SQLITE_OPEN_MAIN_DB != 0;
        let wal = flags & ffi::SQLITE_OPEN_WAL != 0;
        if !main && !wal {
            return rc;
        }
        let real = (*file).pMethods;
        let Some(methods) = methods_for(real, wal) else {
            return rc;
        };
        let db = if wal {
            // The database file this WAL belongs to, opened by this VFS before it.
            let db = ffi::sqlite3_database_file_object(name);
            let ours = vfs.main_methods.get().map(|m| &raw const m.table);
            if db.is_null() || Some((*db).pMethods) != ours {
                return rc;
            }
            db
        } else {
            std::ptr::null_mut()
        };
        let place = file.cast::<u8>().add(vfs.offset).cast::<Extra>();
        place.write(Extra {
            real,
            wal: std::ptr::null_mut(),
            db,
            buffer: Vec::new(),
            at: 0,
            commit_next: false,
        });
        if wal {
            extra(db).wal = file;
        }
        (*file).pMethods = &methods.table;
        rc
    }
}

/// Writes out `file`'s gathered frames.
///
/// # Safety
/// `file` is a WAL file object set up by [`open`].
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let x = extra(file);
        if x.buffer.is_empty() {
            return ffi::SQLITE_OK;
        }
        let Some(write) = (*x.real).xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let mut rc = ffi::SQLITE_OK;
        let mut offset = x.at;
        for chunk in x.buffer.chunks(MAX_WRITE) {
            // At most MAX_WRITE bytes.
            rc = write(
                file,
                chunk.as_ptr().cast::<c_void>(),
                chunk.len() as c_int,
                offset,
            );
            #[cfg(test)]
            if FAIL_WRITES.get() {
                rc = ffi::SQLITE_IOERR_WRITE;
            }
            #[cfg(test)]
            WAL_WRITES.set(WAL_WRITES.get() + 1);
            if rc != ffi::SQLITE_OK {
                break;
            }
            offset += chunk.len() as i64;
        }
        x.buffer.clear();
        x.commit_next = false;
        rc
    }
}

/// Writes out the WAL of the database `file` before SQLite publishes a commit or moves a lock.
///
/// # Safety
/// `file` is a database file object set up by [`open`].
unsafe fn flush_wal_of(file: *mut ffi::sqlite3_file) {
    unsafe {
        let wal = extra(file).wal;
        if !wal.is_null() && flush(wal) != ffi::SQLITE_OK {
            // See the module notes: SQLite is between the two copies of the WAL index header,
            // and cannot be told that the commit's frames are not in the file.
            eprintln!("courier: writing the WAL before a commit failed; stopping");
            std::process::abort();
        }
    }
}

unsafe extern "C" fn main_barrier(file: *mut ffi::sqlite3_file) {
    unsafe {
        flush_wal_of(file);
        if let Some(real) = (*extra(file).real).xShmBarrier {
            real(file);
        }
    }
}

unsafe extern "C" fn main_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    unsafe {
        flush_wal_of(file);
        match (*extra(file).real).xShmLock {
            Some(real) => real(file, offset, n, flags),
            None => ffi::SQLITE_IOERR_SHMLOCK,
        }
    }
}

unsafe extern "C" fn main_close(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let x = extra(file);
        let real = x.real;
        if !x.wal.is_null() {
            // The WAL outlived its database (SQLite closes it first): detach it.
            let wal = x.wal;
            x.wal = std::ptr::null_mut();
            extra(wal).db = std::ptr::null_mut();
            let _ = flush(wal);
        }
        std::ptr::drop_in_place(x as *mut Extra);
        match (*real).xClose {
            Some(close) => close(file),
            None => ffi::SQLITE_OK,
        }
    }
}

unsafe extern "C" fn wal_close(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let rc = flush(file);
        let x = extra(file);
        let real = x.real;
        if !x.db.is_null() {
            // Detach from the database file, which stays open a little longer.
            extra(x.db).wal = std::ptr::null_mut();
        }
        std::ptr::drop_in_place(x as *mut Extra);
        let closed = match (*real).xClose {
            Some(close) => close(file),
            None => ffi::SQLITE_OK,
        };
        if rc != ffi::SQLITE_OK { rc } else { closed }
    }
}

unsafe extern "C" fn wal_write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    unsafe {
        let x = extra(file);
        let Ok(len) = usize::try_from(amount) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let end = x.at + x.buffer.len() as i64;
        if !x.buffer.is_empty() && (offset != end || x.buffer.len() + len > MAX_BUFFER) {
            let rc = flush(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let x = extra(file);
        if x.buffer.is_empty() {
            x.at = offset;
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
        x.buffer.extend_from_slice(bytes);
        if len == FRAME_HEADER && bytes[4..8] != [0; 4] {
            x.commit_next = true;
            return ffi::SQLITE_OK;
        }
        if x.commit_next {
            return flush(file);
        }
        ffi::SQLITE_OK
    }
}

/// Writes out `file`'s gathered frames, then calls its `unix` method `$method` with `$args`
/// (or answers `$missing` if the table has none). Only inside `unsafe`, on a WAL file object set
/// up by [`open`].
macro_rules! flush_then {
    ($file:expr, $method:ident, $missing:expr, ($($arg:expr),*)) => {{
        let rc = flush($file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        match (*extra($file).real).$method {
            Some(real) => real($file, $($arg),*),
            None => $missing,
        }
    }};
}

unsafe extern "C" fn wal_read(
    file: *mut ffi::sqlite3_file,
    data: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    unsafe { flush_then!(file, xRead, ffi::SQLITE_IOERR_READ, (data, amount, offset)) }
}

unsafe extern "C" fn wal_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    unsafe { flush_then!(file, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, (size)) }
}

unsafe extern "C" fn wal_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe { flush_then!(file, xSync, ffi::SQLITE_IOERR_FSYNC, (flags)) }
}

unsafe extern "C" fn wal_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    unsafe { flush_then!(file, xFileSize, ffi::SQLITE_IOERR_FSTAT, (size)) }
}

unsafe extern "C" fn wal_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    unsafe { flush_then!(file, xFileControl, ffi::SQLITE_NOTFOUND, (op, arg)) }
}

#[cfg(test)]
thread_local! {
    /// The `pwrite`-level writes this thread made to WAL files through this VFS.
    static WAL_WRITES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// While set, this thread's WAL writes through this VFS report failure (as a full disk would).
    static FAIL_WRITES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    /// A new database in WAL mode, made by a plain connection, which is returned with one
    /// through this VFS.
    fn open_pair() -> (Connection, Connection, tempfile::TempDir) {
        register().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let plain = Connection::open(&path).unwrap();
        plain
            .execute_batch(
                "PRAGMA journal_mode = WAL; \
                 CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v BLOB); \
                 CREATE INDEX t_k ON t (k);",
            )
            .unwrap();
        let ours =
            Connection::open_with_flags_and_vfs(&path, OpenFlags::SQLITE_OPEN_READ_WRITE, NAME)
                .unwrap();
        ours.execute_batch("PRAGMA synchronous = NORMAL").unwrap();
        (plain, ours, dir)
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    fn integrity(conn: &Connection) -> String {
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_commit_goes_to_the_wal_in_a_few_large_writes() {
        let (_plain, ours, _dir) = open_pair();
        ours.execute_batch("INSERT INTO t (k, v) VALUES (0, zeroblob(10))")
            .unwrap();
        let before = WAL_WRITES.get();
        // About 300 pages (600 frames' worth of calls for SQLite's own writer).
        ours.execute_batch(
            "BEGIN IMMEDIATE; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) \
             INSERT INTO t (k, v) SELECT i * 7919 % 300, randomblob(3000) FROM n; \
             COMMIT;",
        )
        .unwrap();
        let writes = WAL_WRITES.get() - before;
        // 300 frames of 4,120 bytes in pieces of at most MAX_WRITE.
        assert!((10..=14).contains(&writes), "{writes} writes");
    }

    #[test]
    fn another_connection_sees_every_commit_as_soon_as_it_returns() {
        let (plain, ours, _dir) = open_pair();
        for n in 1..=40i64 {
            // Commits of 1 to 40 pages, some larger than one write.
            ours.execute(
                "INSERT INTO t (k, v) VALUES (?1, randomblob(?2))",
                rusqlite::params![n, n * 4000],
            )
            .unwrap();
            assert_eq!(count(&plain), n);
            if n % 10 == 0 {
                // The WAL restarts from its start after a full checkpoint.
                plain
                    .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                    .unwrap();
            }
        }
        assert_eq!(integrity(&plain), "ok");
    }

    #[test]
    fn a_transaction_larger_than_the_cache_spills_and_still_commits_whole() {
        let (plain, ours, dir) = open_pair();
        // A tiny cache: the transaction writes frames before its commit, then rewrites some.
        ours.execute_batch("PRAGMA cache_size = 10").unwrap();
        ours.execute_batch(
            "BEGIN IMMEDIATE; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO t (k, v) SELECT i * 7919 % 2000, randomblob(500) FROM n; \
             UPDATE t SET v = randomblob(400) WHERE k % 3 = 0; \
             COMMIT;",
        )
        .unwrap();
        assert_eq!(count(&plain), 2000);
        assert_eq!(integrity(&plain), "ok");
        // A rolled-back spill leaves nothing behind.
        ours.execute_batch(
            "BEGIN IMMEDIATE; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO t (k, v) SELECT i, randomblob(500) FROM n; \
             ROLLBACK;",
        )
        .unwrap();
        ours.execute("INSERT INTO t (k, v) VALUES (1, x'00')", [])
            .unwrap();
        assert_eq!(count(&plain), 2001);
        drop(ours);
        drop(plain);
        // Read back from the files alone (the WAL index is rebuilt from the WAL).
        let fresh = Connection::open(dir.path().join("t.db")).unwrap();
        assert_eq!(count(&fresh), 2001);
        assert_eq!(integrity(&fresh), "ok");
    }

    #[test]
    fn a_write_that_fails_fails_its_commit_and_changes_nothing() {
        let (plain, ours, dir) = open_pair();
        ours.execute("INSERT INTO t (k, v) VALUES (1, x'01')", [])
            .unwrap();
        FAIL_WRITES.set(true);
        let failed = ours.execute_batch(
            "BEGIN IMMEDIATE; INSERT INTO t (k, v) VALUES (2, randomblob(20000)); COMMIT;",
        );
        FAIL_WRITES.set(false);
        let error = failed.expect_err("the commit reports the failed write");
        assert_eq!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::SystemIoFailure),
            "{error}"
        );
        // SQLite rolled the transaction back; the connection goes on.
        let _ = ours.execute_batch("ROLLBACK");
        assert_eq!(count(&plain), 1);
        assert_eq!(count(&ours), 1);
        ours.execute("INSERT INTO t (k, v) VALUES (3, x'03')", [])
            .unwrap();
        assert_eq!(count(&plain), 2);
        drop(ours);
        drop(plain);
        let fresh = Connection::open(dir.path().join("t.db")).unwrap();
        let ks: Vec<i64> = fresh
            .prepare("SELECT k FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ks, [1, 3]);
        assert_eq!(integrity(&fresh), "ok");
    }
}
