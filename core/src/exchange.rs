//! Import and export in the JSON Lines contract (PRODUCT.md, `docs/record.schema.json`).
//!
//! Import streams: it holds one line (at most `MAX_LINE_BYTES`) and one batch of records at a time,
//! so a 1 GB file needs no more memory than a small one. Each bad line is reported with its
//! number and skipped; everything already stored stays as it was.

use std::io::{BufRead, Write};

use serde::Serialize;

use crate::event::{decode_line, encode_line};
use crate::store::{Appended, EventFilter, Store, StoreError};

/// Lines longer than this are skipped unread (a record with an hour of 32 Hz samples is ~3 MB).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Records stored per transaction.
const BATCH: usize = 5_000;
/// Line errors kept in the report (the count of skipped lines is always complete).
pub const MAX_REPORTED_ERRORS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("reading the input failed at line {line}: {source}")]
    Read { line: u64, source: std::io::Error },
    #[error("writing the output failed: {0}")]
    Write(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did (`migru import --json` prints exactly this).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Records newly stored.
    pub imported: u64,
    /// Lines not stored because they were malformed or conflicted with a stored record.
    pub skipped: u64,
    /// Records already stored (same id and content): importing a file twice adds nothing.
    pub duplicates: u64,
    /// The first `MAX_REPORTED_ERRORS` problems, by line number (1-based).
    pub errors: Vec<LineError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

impl ImportReport {
    fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.skipped += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(LineError { line, reason: reason.into() });
        }
    }

    /// Lines looked at so far (blank lines excepted).
    pub fn lines_seen(&self) -> u64 {
        self.imported + self.skipped + self.duplicates
    }
}

/// Imports records from `input`, calling `progress` after each stored batch.
#[tracing::instrument(level = "info", skip_all)]
pub fn import_jsonl(
    store: &Store,
    mut input: impl BufRead,
    mut progress: impl FnMut(&ImportReport),
) -> Result<ImportReport, ExchangeError> {
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut line_numbers = Vec::with_capacity(BATCH);
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    loop {
        line_no += 1;
        match read_bounded_line(&mut input, &mut buf).map_err(|source| ExchangeError::Read { line: line_no, source })? {
            LineRead::End => break,
            LineRead::TooLong => report.reject(line_no, format!("line longer than {} MiB", MAX_LINE_BYTES >> 20)),
            LineRead::Line if buf.iter().all(u8::is_ascii_whitespace) => {}
            LineRead::Line => match decode_line(&buf) {
                Ok(record) => {
                    batch.push(record);
                    line_numbers.push(line_no);
                }
                Err(error) => report.reject(line_no, error.reason()),
            },
        }
        if batch.len() == BATCH {
            store_batch(store, &mut batch, &mut line_numbers, &mut report)?;
            progress(&report);
        }
    }
    store_batch(store, &mut batch, &mut line_numbers, &mut report)?;
    progress(&report);
    tracing::info!(imported = report.imported, skipped = report.skipped, duplicates = report.duplicates, "import finished");
    Ok(report)
}

fn store_batch(
    store: &Store,
    batch: &mut Vec<crate::event::Record>,
    line_numbers: &mut Vec<u64>,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let outcomes = store.append_batch(batch)?;
    for (outcome, line) in outcomes.into_iter().zip(line_numbers.iter()) {
        match outcome {
            Appended::Stored { .. } => report.imported += 1,
            Appended::Duplicate { .. } => report.duplicates += 1,
            Appended::Conflict { .. } => {
                report.reject(*line, "id: already stored with different content; the stored record was kept")
            }
        }
    }
    batch.clear();
    line_numbers.clear();
    Ok(())
}

enum LineRead {
    Line,
    TooLong,
    End,
}

/// Reads one line into `buf` (without `\n` or `\r\n`). A line over `MAX_LINE_BYTES` is consumed
/// without being kept, so memory stays bounded whatever the input.
fn read_bounded_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<LineRead> {
    buf.clear();
    let mut too_long = false;
    let mut saw_any = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        saw_any = true;
        let (take, done) = match memchr_newline(chunk) {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long && buf.len() + take <= MAX_LINE_BYTES {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            too_long = true;
            buf.clear();
        }
        input.consume(if done { take + 1 } else { take });
        if done {
            break;
        }
    }
    if !saw_any {
        return Ok(LineRead::End);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(if too_long { LineRead::TooLong } else { LineRead::Line })
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

/// Writes every matching event as one canonical line each, in arrival order. Returns the count.
#[tracing::instrument(level = "info", skip_all)]
pub fn export_jsonl(store: &Store, filter: &EventFilter, mut output: impl Write) -> Result<u64, ExchangeError> {
    let mut written = 0u64;
    let mut write_error = None;
    let result = store.for_each_event(filter, |event| {
        let line = encode_line(&event.record);
        if let Err(e) = output.write_all(line.as_bytes()).and_then(|()| output.write_all(b"\n")) {
            write_error = Some(e);
            return Err(StoreError::BadRow { seq: event.seq, reason: "export stopped: output not writable".into() });
        }
        written += 1;
        Ok(())
    });
    if let Some(e) = write_error {
        return Err(ExchangeError::Write(e));
    }
    result?;
    output.flush()?;
    Ok(written)
}
