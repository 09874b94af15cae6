//! The event model: records, vocabularies and the JSON Lines contract.

pub mod jsonl;
mod record;
pub mod vocab;

pub use jsonl::{DecodeError, content_id, decode_line, encode_line};
pub use record::{Body, Kind, LOCAL_USER, Record, format_ts, ts_from_parts};
pub use vocab::{ActivityCategory, ReliefStrategy};
