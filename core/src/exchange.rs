//! Import and export in the JSON Lines contract (PRODUCT.md, `docs/record.schema.json`).
//!
//! Import streams: it holds one line (at most `MAX_LINE_BYTES`) and one batch of records at a time,
//! so a 1 GB file needs no more memory than a small one. Each bad line is reported with its
//! number and skipped; everything already stored stays as it was.

use std::io::{BufRead, Write};

use serde::Serialize;

use crate::event::{decode_line, encode_line};
use crate::store::{Appended, EventFilter, PreparedRecord, Store, StoreError};

/// Lines longer than this are skipped unread (a record with an hour of 32 Hz samples is ~3 MB).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Records decoded per batch handed to the storing thread, and the granularity of progress
/// reports; three batches in flight are about 18 MB, whatever the file's size.
const BATCH: usize = 20_000;
/// A transaction ends at the first batch that takes it to this many records (three batches:
/// 60,000 records). A commit writes every page the transaction touched to the WAL, so a page
/// the next transaction touches again (the hot end of the `id` index for each child in the
/// file) is written once per commit: 60,000 instead of 20,000 took a million records of 420
/// children sharing 60 days from 5.2–5.5 s to 3.8–3.9 s; 100,000 gained nothing more and cost
/// a time-interleaved cohort 8 %. The writer is held about a quarter of a second per
/// transaction, which only an import does.
const RECORDS_PER_TRANSACTION: usize = 50_000;
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

/// Imports records from `input`, calling `progress` after each batch is written (its counts
/// include the records of the transaction still open; the returned report only what committed).
///
/// Two stages on two threads: one reads and validates lines into batches, the caller's thread
/// stores them. Decoding and SQLite each take about half the work, so on a phone's (or this
/// machine's) second core the import runs at the speed of the slower stage, not their sum. At most
/// two batches wait between the stages, so memory stays bounded.
#[tracing::instrument(level = "info", skip_all)]
pub fn import_jsonl(
    store: &Store,
    input: impl BufRead + Send,
    mut progress: impl FnMut(&ImportReport),
) -> Result<ImportReport, ExchangeError> {
    let mut report = ImportReport::default();
    std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel::<ParsedBatch>(2);
        let parser = scope.spawn(move || parse_batches(input, &send));
        let mut batches = receive.into_iter().peekable();
        while batches.peek().is_some() {
            store_batches(store, &mut batches, &mut report, &mut progress)?;
        }
        // The channel closed: the parser finished or failed reading.
        parser.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    tracing::info!(imported = report.imported, skipped = report.skipped, duplicates = report.duplicates, "import finished");
    Ok(report)
}

/// A run of consecutive lines: the valid records and the lines refused while decoding.
#[derive(Default)]
struct ParsedBatch {
    records: Vec<PreparedRecord>,
    line_numbers: Vec<u64>,
    refused: Vec<LineError>,
}

/// Reads and decodes lines, sending a batch every `BATCH` records (and the rest at the end).
/// Stops quietly if the storing side hung up (it failed and reports why).
fn parse_batches(mut input: impl BufRead, send: &std::sync::mpsc::SyncSender<ParsedBatch>) -> Result<(), ExchangeError> {
    let mut batch = ParsedBatch::default();
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    loop {
        line_no += 1;
        let refuse = |batch: &mut ParsedBatch, reason: String| batch.refused.push(LineError { line: line_no, reason });
        match read_bounded_line(&mut input, &mut buf).map_err(|source| ExchangeError::Read { line: line_no, source })? {
            LineRead::End => break,
            LineRead::TooLong => refuse(&mut batch, format!("line longer than {} MiB", MAX_LINE_BYTES >> 20)),
            LineRead::Line if buf.iter().all(u8::is_ascii_whitespace) => {}
            LineRead::Line => match decode_line(&buf) {
                Ok(record) => {
                    batch.records.push(PreparedRecord::new(record));
                    batch.line_numbers.push(line_no);
                }
                Err(error) => refuse(&mut batch, error.reason().to_owned()),
            },
        }
        if batch.records.len() == BATCH && send.send(std::mem::take(&mut batch)).is_err() {
            return Ok(());
        }
    }
    let _ = send.send(batch);
    Ok(())
}

/// Stores batches in one transaction until it holds `RECORDS_PER_TRANSACTION` records or the
/// parser is done. The report only counts what committed: a failed transaction takes its
/// batches' counts with it (and the import stops with the error).
fn store_batches(
    store: &Store,
    batches: &mut impl Iterator<Item = ParsedBatch>,
    report: &mut ImportReport,
    progress: &mut impl FnMut(&ImportReport),
) -> Result<(), StoreError> {
    let mut pending = report.clone();
    store.append_in_one_transaction(|inserter, now| {
        let mut stored = 0;
        for batch in batches.by_ref() {
            let outcomes = batch.records.iter().map(|r| inserter.insert_prepared(r, now)).collect::<Result<Vec<_>, _>>()?;
            stored += outcomes.len();
            account(batch, outcomes, &mut pending);
            progress(&pending);
            if stored >= RECORDS_PER_TRANSACTION {
                break;
            }
        }
        Ok(())
    })?;
    *report = pending;
    Ok(())
}

/// Adds one batch's outcomes and refused lines to the report, errors in line order.
fn account(batch: ParsedBatch, outcomes: Vec<Appended>, report: &mut ImportReport) {
    let mut refused = batch.refused;
    for (outcome, line) in outcomes.into_iter().zip(batch.line_numbers) {
        match outcome {
            Appended::Stored { .. } => report.imported += 1,
            Appended::Duplicate { .. } => report.duplicates += 1,
            Appended::Conflict { .. } => refused.push(LineError {
                line,
                reason: "id: already stored with different content; the stored record was kept".into(),
            }),
        }
    }
    // Errors are reported in line order; a batch covers consecutive lines.
    refused.sort_by_key(|e| e.line);
    for error in refused {
        report.reject(error.line, error.reason);
    }
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
