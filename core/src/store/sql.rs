//! SQLite as a designed layer: one writer, a pool of readers, `read`/`write` helpers.
//!
//! WAL lets readers run while the writer commits; `synchronous = NORMAL` keeps every committed
//! transaction across an app crash or kill (only a power cut may lose the last few, never corrupt).
//! Opening never deletes or overwrites a file that is not ours: it checks the header and the
//! application id read-only first.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::StoreError;
use super::schema;

/// `PRAGMA application_id` of a Migru database: "MGRU".
pub const APPLICATION_ID: i32 = 0x4D47_5255;

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// WAL pages after a commit that wake the checkpointer (SQLite's own default threshold).
const CHECKPOINT_PAGES: i32 = 1_000;

/// An open database file.
#[derive(Debug)]
pub struct Database {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    // Declared last: dropped after the writer, so its final checkpoint sees every commit.
    _checkpointer: Checkpointer,
}

impl Database {
    /// Opens (creating if absent) and upgrades the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        check_existing_file(path)?;
        let writer = Connection::open(path).map_err(|e| StoreError::open(path, e))?;
        configure(&writer).map_err(|e| StoreError::open(path, e))?;
        schema::init(&writer)?;
        let mut writer = writer;
        let checkpointer = Checkpointer::start(path, &mut writer).map_err(|e| StoreError::open(path, e))?;
        Ok(Database {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            _checkpointer: checkpointer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a write transaction; commits only when `f` returns `Ok`.
    pub fn write<T, E>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` on a read-only connection (a consistent snapshot inside one statement or
    /// transaction it opens); readers never wait for the writer.
    pub fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = f(&conn);
        self.readers.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        result
    }

    /// Runs `f` on the writer connection outside a transaction (VACUUM, checkpoints).
    pub fn with_writer<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }

    /// Drops pooled readers, e.g. before VACUUM so no reader pins old pages.
    pub fn release_readers(&self) {
        self.readers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Copies the WAL back into the database on its own thread and connection, so no append pays
/// for a checkpoint (SQLite's automatic one runs inside the committing call: the p99 of single
/// appends and a third of import time). A PASSIVE checkpoint never blocks the writer or readers.
///
/// Public so the server's SQLite storage uses the same mechanism for its push path.
#[derive(Debug)]
pub struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Replaces the writer's automatic checkpoint with a wake-up of the background thread. Drop
    /// the writer before the checkpointer (the hook holds a wake-up sender).
    pub fn start(path: &Path, writer: &mut Connection) -> rusqlite::Result<Self> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let (wake, woken) = sync_channel::<()>(1);
        let hook_wake = wake.clone();
        writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
            if pages >= CHECKPOINT_PAGES {
                // Full means a wake-up is already pending: nothing to add.
                if let Err(TrySendError::Disconnected(())) = hook_wake.try_send(()) {
                    tracing::warn!("checkpointer gone; the WAL grows until the next open");
                }
            }
            Ok(())
        }))?;
        let thread = std::thread::Builder::new()
            .name("migru-checkpoint".into())
            .spawn(move || checkpoint_loop(&conn, &woken))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Checkpointer { wake: Some(wake), thread: Some(thread) })
    }
}

fn checkpoint_loop(conn: &Connection, woken: &Receiver<()>) {
    while woken.recv().is_ok() {
        checkpoint(conn);
    }
    // Closing this last connection folds the WAL back into the file (SQLite does it on close).
}

fn checkpoint(conn: &Connection) {
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))) {
        Ok((_, wal_pages, copied)) => tracing::trace!(wal_pages, copied, "checkpoint"),
        Err(error) => tracing::warn!(%error, "checkpoint failed; retried after the next commits"),
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Both senders must go (the hook's clone lives in the writer, dropped before us).
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // 32 MiB of page cache: the id and time indexes of a month of wearable data stay in memory,
    // so appends do not re-read index pages (the 2 MiB default thrashes past ~100k events).
    conn.pragma_update(None, "cache_size", -32_768)?;
    // Deleted content is overwritten, so "delete everything" leaves no readable trace in the file.
    conn.pragma_update(None, "secure_delete", true)?;
    Ok(())
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Refuses, without writing anything, a file that is not a healthy Migru database of a version we
/// understand. An empty or absent file is fine (a new database).
fn check_existing_file(path: &Path) -> Result<(), StoreError> {
    let mut header = [0u8; 16];
    let read = match std::fs::File::open(path) {
        Ok(mut file) => read_prefix(&mut file, &mut header).map_err(|e| StoreError::Io(path.to_owned(), e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::Io(path.to_owned(), e)),
    };
    if read == 0 {
        return Ok(());
    }
    if read < header.len() || &header != SQLITE_HEADER {
        return Err(StoreError::NotADatabase(path.to_owned()));
    }
    let conn = open_reader(path).map_err(|e| StoreError::Corrupt(path.to_owned(), e.to_string()))?;
    let probe = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0));
    let (app_id, version, tables) = (|| {
        Ok::<_, rusqlite::Error>((
            probe("PRAGMA application_id")?,
            probe("PRAGMA user_version")?,
            probe("SELECT count(*) FROM sqlite_master")?,
        ))
    })()
    .map_err(|e| StoreError::Corrupt(path.to_owned(), e.to_string()))?;
    if app_id != i64::from(APPLICATION_ID) && (app_id != 0 || tables > 0) {
        return Err(StoreError::Foreign(path.to_owned()));
    }
    if version > i64::from(schema::VERSION) {
        return Err(StoreError::TooNew { path: path.to_owned(), found: version, supported: schema::VERSION });
    }
    Ok(())
}

fn read_prefix(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
