//! Connection setup and schema.

use std::path::Path;
use std::time::Duration;

use reserveplace_domain::store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::sql_err;

const SCHEMA_VERSION: i64 = 1;

/// Every table of every context lives in `items`; `tbl` makes tables independent namespaces.
/// WITHOUT ROWID clusters rows by key, so a partition query is one contiguous range read.
/// The gsi1 index implicitly ends with the primary key, which gives ties a stable order.
/// The partial index keeps `undelivered_outbox` proportional to the backlog, not the history.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl    TEXT NOT NULL,
    pk     TEXT NOT NULL,
    sk     TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    body   TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (tbl, gsi1pk, gsi1sk) WHERE gsi1pk IS NOT NULL;
CREATE TABLE IF NOT EXISTS outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    reservation_id TEXT,
    body           TEXT NOT NULL,
    delivered      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_reservation ON outbox (reservation_id, seq);
CREATE INDEX IF NOT EXISTS outbox_undelivered ON outbox (seq) WHERE delivered = 0;
CREATE TABLE IF NOT EXISTS queue_messages (
    queue         TEXT NOT NULL,
    id            TEXT NOT NULL,
    body          TEXT NOT NULL,
    sent_at       INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    in_flight     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, visible_at);
";

/// Statement cache per connection: the writer and readers only use a handful of SQL texts,
/// but queries come in several shapes (index/prefix/direction).
const STATEMENT_CACHE: usize = 64;

/// A writer might hold the lock briefly during a checkpoint or another process may share the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the single write connection, creating the file and schema.
/// The store holds every user's reservations and payments: its file is readable by its owner
/// only (0600), as the signing key beside it. SQLite gives the `-wal` and `-shm` files it creates
/// the database file's mode; files of an earlier run are narrowed too.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |p: &Path, e: std::io::Error| {
        StoreError::Unavailable(format!("cannot restrict {}: {e}", p.display()))
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| failed(path, e))?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = Path::new(&file);
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| failed(file, e))?;
        }
    }
    Ok(())
}

pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    owner_only(path)?;
    let conn = Connection::open(path).map_err(sql_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Pages freed by retention go back to the file system a few at a time (`prune`). SQLite takes
    // this only before the first table exists, so a file made by an earlier version keeps reusing
    // its free pages instead of shrinking.
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
        .map_err(sql_err)?;
    // WAL lets readers run while the writer fsyncs; FULL syncs the WAL on every commit so an
    // acknowledged transaction survives power loss, not only a process crash.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sql_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "cannot enable WAL (journal_mode = {mode})"
        )));
    }
    // A larger page cache keeps hot B-tree pages (counters, index roots) out of pread;
    // journal_size_limit shrinks the WAL file back after a restart.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = -16384; PRAGMA journal_size_limit = 67108864;",
    )
    .map_err(sql_err)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Misconfigured(format!(
            "{} has schema version {version}, this build supports {SCHEMA_VERSION}",
            path.display()
        )));
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))
    .map_err(sql_err)?;
    Ok(conn)
}

/// Opens a read-only connection; must run after `open_writer` created the file in WAL mode.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(sql_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Opens the background checkpointer's connection (checkpoints write the database file).
pub(crate) fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
    // The checkpoint's database fsync is what makes backfilled pages durable.
    conn.execute_batch("PRAGMA synchronous = FULL;")
        .map_err(sql_err)?;
    Ok(conn)
}
