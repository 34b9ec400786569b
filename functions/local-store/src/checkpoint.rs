//! WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT of whichever transaction crosses the
//! threshold, so one group of callers would pay for copying the WAL into the database file plus
//! an extra fsync. Instead the writer's WAL hook wakes this thread, which runs PASSIVE
//! checkpoints on its own connection concurrently with the writer.
//!
//! A PASSIVE checkpoint never blocks the writer, but the WAL file only restarts from its
//! beginning when a checkpoint has caught up before the next write begins, which sustained load
//! may never allow. So past `WalLimits::restart` this thread stands down and the writer itself
//! checkpoints between two groups: as nearly everything was copied already, the pause is short,
//! and the next group restarts the WAL (unless a reader still uses it; then it tries again).

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use reserveplace_domain::store::StoreError;
use rusqlite::Connection;
use tracing::warn;

use crate::{schema, sql_err};

/// WAL sizes, in frames (pages), that drive checkpoints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalLimits {
    /// Wakes the background checkpointer (SQLite's default auto-checkpoint threshold).
    pub checkpoint: i64,
    /// Past this the writer completes the checkpoint itself (64 MiB with 4 KiB pages).
    pub restart: i64,
}

impl Default for WalLimits {
    fn default() -> Self {
        Self {
            checkpoint: 1000,
            restart: 16_384,
        }
    }
}

#[derive(Default)]
struct Signal {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    pending: bool,
    stop: bool,
}

impl Signal {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) struct Checkpointer {
    limits: WalLimits,
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub fn spawn(path: &Path, limits: WalLimits) -> Result<Self, StoreError> {
        // Checkpointing writes the database file, so this connection is read-write.
        let conn = schema::open_checkpointer(path)?;
        let signal = Arc::new(Signal::default());
        let s = Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || run(conn, s))
            .map_err(|e| StoreError::Unavailable(format!("cannot spawn checkpoint thread: {e}")))?;
        Ok(Self {
            limits,
            signal,
            thread: Some(thread),
        })
    }

    /// Installs the WAL hook on the write connection; returns the WAL size it keeps up to date.
    pub fn attach(&self, writer: &mut Connection) -> Result<WalSize, StoreError> {
        let frames = Arc::new(AtomicI64::new(0));
        let (f, signal, limits) = (Arc::clone(&frames), Arc::clone(&self.signal), self.limits);
        // Runs on the writer thread right after each commit. Registering it also disables
        // SQLite's automatic checkpoint on this connection, which is the point.
        writer
            .wal_hook(Some(
                move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
                    let pages = i64::from(pages);
                    f.store(pages, Ordering::Relaxed);
                    if (limits.checkpoint..limits.restart).contains(&pages) {
                        signal.lock().pending = true;
                        signal.wake.notify_one();
                    }
                    Ok(())
                },
            ))
            .map_err(sql_err)?;
        Ok(WalSize {
            frames,
            limit: self.limits.restart,
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.signal.lock().stop = true;
        self.signal.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: Connection, signal: Arc<Signal>) {
    loop {
        {
            let mut state = signal.lock();
            while !state.pending && !state.stop {
                state = signal
                    .wake
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.stop {
                return;
            }
            state.pending = false;
        }
        if let Err(e) = checkpoint(&conn, "PASSIVE") {
            warn!(error = %e, "store: background checkpoint failed");
        }
    }
}

/// Runs a checkpoint (SQLITE_BUSY is reported in the result row, not as an error).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<()> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
}

/// Frames in the WAL after the last commit, as reported by the WAL hook.
pub(crate) struct WalSize {
    frames: Arc<AtomicI64>,
    limit: i64,
}

impl WalSize {
    /// Called by the writer between groups: once the WAL grew past the limit, completes the
    /// checkpoint so the next group can restart the WAL. PASSIVE never waits: if the background
    /// pass is still running or a reader pins old frames, the next group's hook reports the WAL
    /// as still large and this runs again.
    pub fn restart_if_large(&self, writer: &Connection) {
        if self.frames.load(Ordering::Relaxed) < self.limit {
            return;
        }
        if let Err(e) = checkpoint(writer, "PASSIVE") {
            warn!(error = %e, "store: WAL restart checkpoint failed");
        }
    }
}
