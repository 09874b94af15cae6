//! The JSON Lines codec of the import/export contract (`docs/record.schema.json`).
//!
//! Decoding validates every field and names the first thing that is wrong; encoding writes the
//! canonical form (`id`, `ts`, `kind`, `user` first, then the kind's fields in a fixed order, then
//! unknown fields sorted by name), so export → import → export is byte-identical.

use chrono::{DateTime, FixedOffset, Timelike};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::record::{Body, Kind, LOCAL_USER, Record, format_ts};
use super::vocab::{ActivityCategory, ReliefStrategy};

/// Why one line could not be read as a record. The message names the field and what was wrong;
/// it never repeats free text from the line (which may hold the child's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

impl DecodeError {
    fn new(message: impl Into<String>) -> Self {
        DecodeError(message.into())
    }

    pub fn reason(&self) -> &str {
        &self.0
    }
}

type Fields = Map<String, Value>;

/// Decodes one line (without its newline).
pub fn decode_line(line: &[u8]) -> Result<Record, DecodeError> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| DecodeError::new(format!("not valid JSON ({})", json_error_class(&e))))?;
    match value {
        Value::Object(fields) => decode_object(fields),
        other => Err(DecodeError::new(format!("expected a JSON object, got {}", type_name(&other)))),
    }
}

/// Decodes a record from its JSON object form.
pub fn decode_object(mut fields: Fields) -> Result<Record, DecodeError> {
    let ts = take_ts(&mut fields, "ts")?;
    let kind_name = take_required_str(&mut fields, "kind")?;
    let kind = Kind::parse(&kind_name).ok_or_else(|| {
        DecodeError::new(format!("kind: unknown kind {kind_name:?} (expected one of {})", kind_list()))
    })?;
    let id = match fields.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(parse_uuid(&text)?),
        Some(other) => return Err(wrong_type("id", "a UUID string", &other)),
    };
    let user = match take_optional_str(&mut fields, "user")? {
        None => LOCAL_USER.to_owned(),
        Some(user) if user.is_empty() || user.len() > 128 => {
            return Err(DecodeError::new("user: must be 1 to 128 characters"));
        }
        Some(user) => user,
    };
    let body = decode_body(kind, &mut fields)?;
    Ok(Record { id, ts, user, body, extra: fields })
}

fn decode_body(kind: Kind, fields: &mut Fields) -> Result<Body, DecodeError> {
    Ok(match kind {
        Kind::Message => Body::Message { text: take_text(fields)? },
        Kind::Symptom => Body::Symptom {
            intensity: take_intensity(fields)?,
            text: take_optional_text(fields)?,
        },
        Kind::Relief => Body::Relief {
            strategy: take_vocab(fields, "strategy", ReliefStrategy::parse, ReliefStrategy::ALL)?,
            text: take_optional_text(fields)?,
        },
        Kind::Activity => Body::Activity {
            category: take_vocab(fields, "category", ActivityCategory::parse, ActivityCategory::ALL)?,
            text: take_optional_text(fields)?,
        },
        Kind::Sleep => decode_sleep(fields)?,
        Kind::Env => decode_env(fields)?,
        Kind::Intervention => {
            let name = take_required_str(fields, "name")?;
            if name.trim().is_empty() || name.len() > 200 {
                return Err(DecodeError::new("name: must be 1 to 200 characters"));
            }
            Body::Intervention { name }
        }
        Kind::Rr => Body::Rr { rr_ms: take_samples(fields, "rr_ms", 1.0..=10_000.0)? },
        Kind::Hr => Body::Hr { bpm: take_number(fields, "bpm", 20.0..=300.0)? },
        Kind::Eda => decode_eda(fields)?,
        Kind::Accel => decode_accel(fields)?,
    })
}

fn decode_sleep(fields: &mut Fields) -> Result<Body, DecodeError> {
    let start = take_ts(fields, "start")?;
    let end = take_ts(fields, "end")?;
    let minutes = (end - start).num_minutes();
    if end <= start {
        return Err(DecodeError::new("end: must be after start"));
    }
    if minutes > 24 * 60 {
        return Err(DecodeError::new("end: a sleep episode cannot last more than 24 hours"));
    }
    Ok(Body::Sleep { start, end })
}

fn decode_env(fields: &mut Fields) -> Result<Body, DecodeError> {
    let pressure_hpa = take_optional_number(fields, "pressure_hpa", 300.0..=1100.0)?;
    let temp_c = take_optional_number(fields, "temp_c", -80.0..=60.0)?;
    let humidity_pct = take_optional_number(fields, "humidity_pct", 0.0..=100.0)?;
    if pressure_hpa.is_none() && temp_c.is_none() && humidity_pct.is_none() {
        return Err(DecodeError::new(
            "env: needs at least one of pressure_hpa, temp_c, humidity_pct",
        ));
    }
    Ok(Body::Env { pressure_hpa, temp_c, humidity_pct })
}

fn decode_eda(fields: &mut Fields) -> Result<Body, DecodeError> {
    let hz = take_number(fields, "hz", 0.001..=1000.0)?;
    let microsiemens = match fields.get("microsiemens") {
        Some(Value::Number(_)) => vec![take_number(fields, "microsiemens", 0.0..=100.0)?],
        _ => take_samples(fields, "microsiemens", 0.0..=100.0)?,
    };
    match take_optional_number(fields, "samples", 1.0..=f64::from(u32::MAX))? {
        Some(n) if n != microsiemens.len() as f64 => Err(DecodeError::new(format!(
            "samples: says {n} but microsiemens holds {}",
            microsiemens.len()
        ))),
        _ => Ok(Body::Eda { microsiemens, hz }),
    }
}

fn decode_accel(fields: &mut Fields) -> Result<Body, DecodeError> {
    let hz = take_number(fields, "hz", 0.001..=10_000.0)?;
    let axis = |fields: &mut Fields, name| take_samples(fields, name, -64.0..=64.0);
    let (x, y, z) = (axis(fields, "x")?, axis(fields, "y")?, axis(fields, "z")?);
    if x.len() != y.len() || x.len() != z.len() {
        return Err(DecodeError::new(format!(
            "x, y, z: must have equal lengths (got {}, {}, {})",
            x.len(),
            y.len(),
            z.len()
        )));
    }
    Ok(Body::Accel { hz, x, y, z })
}

// ---- field helpers -------------------------------------------------------------------------

fn take_required_str(fields: &mut Fields, key: &str) -> Result<String, DecodeError> {
    take_optional_str(fields, key)?.ok_or_else(|| missing(key))
}

fn take_optional_str(fields: &mut Fields, key: &str) -> Result<Option<String>, DecodeError> {
    match fields.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(wrong_type(key, "a string", &other)),
    }
}

fn take_text(fields: &mut Fields) -> Result<String, DecodeError> {
    take_optional_text(fields)?.ok_or_else(|| missing("text"))
}

/// Free text is capped so a pasted novel cannot bloat the store; 10,000 characters is far beyond
/// any chat message.
fn take_optional_text(fields: &mut Fields) -> Result<Option<String>, DecodeError> {
    match take_optional_str(fields, "text")? {
        Some(text) if text.trim().is_empty() => Err(DecodeError::new("text: must not be empty")),
        Some(text) if text.chars().count() > 10_000 => {
            Err(DecodeError::new("text: longer than 10,000 characters"))
        }
        other => Ok(other),
    }
}

fn take_intensity(fields: &mut Fields) -> Result<u8, DecodeError> {
    match fields.remove("intensity") {
        None | Some(Value::Null) => Err(missing("intensity")),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v @ 0..=10) => Ok(v as u8),
            _ => Err(DecodeError::new(format!("intensity: must be a whole number 0 to 10, got {n}"))),
        },
        Some(other) => Err(wrong_type("intensity", "a whole number 0 to 10", &other)),
    }
}

fn take_vocab<T>(
    fields: &mut Fields,
    key: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
) -> Result<T, DecodeError>
where
    T: std::fmt::Display,
{
    let name = take_required_str(fields, key)?;
    parse(&name).ok_or_else(|| {
        let names: Vec<String> = all.iter().map(ToString::to_string).collect();
        DecodeError::new(format!("{key}: unknown value {name:?} (expected one of {})", names.join(", ")))
    })
}

fn take_number(
    fields: &mut Fields,
    key: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<f64, DecodeError> {
    take_optional_number(fields, key, range)?.ok_or_else(|| missing(key))
}

fn take_optional_number(
    fields: &mut Fields,
    key: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Option<f64>, DecodeError> {
    match fields.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => number_in(key, n.as_f64(), &range).map(Some),
        Some(other) => Err(wrong_type(key, "a number", &other)),
    }
}

fn number_in(
    key: &str,
    value: Option<f64>,
    range: &std::ops::RangeInclusive<f64>,
) -> Result<f64, DecodeError> {
    match value {
        Some(v) if v.is_finite() && range.contains(&v) => Ok(v),
        Some(v) => Err(DecodeError::new(format!(
            "{key}: {v} is outside {}..={}",
            range.start(),
            range.end()
        ))),
        None => Err(DecodeError::new(format!("{key}: not a finite number"))),
    }
}

/// Sample arrays are capped at one million values per record (an hour of 256 Hz data).
fn take_samples(
    fields: &mut Fields,
    key: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Vec<f64>, DecodeError> {
    let items = match fields.remove(key) {
        None | Some(Value::Null) => return Err(missing(key)),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(wrong_type(key, "an array of numbers", &other)),
    };
    if items.is_empty() || items.len() > 1_000_000 {
        return Err(DecodeError::new(format!("{key}: must hold 1 to 1,000,000 numbers")));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Number(n) => number_in(&format!("{key}[{index}]"), n.as_f64(), &range),
            other => Err(wrong_type(&format!("{key}[{index}]"), "a number", other)),
        })
        .collect()
}

fn take_ts(fields: &mut Fields, key: &str) -> Result<DateTime<FixedOffset>, DecodeError> {
    let text = take_required_str(fields, key)?;
    parse_ts(&text).map_err(|reason| DecodeError::new(format!("{key}: {reason}")))
}

/// Parses an RFC 3339 timestamp with an explicit offset, truncated to milliseconds (the stored
/// precision), within years 1970–9999.
pub fn parse_ts(text: &str) -> Result<DateTime<FixedOffset>, String> {
    let ts = DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("not an RFC 3339 timestamp with offset ({e})"))?;
    if ts.timestamp_millis() < 0 {
        return Err("timestamps before 1970 are not accepted".to_owned());
    }
    let millis = ts.nanosecond() / 1_000_000 * 1_000_000;
    ts.with_nanosecond(millis).ok_or_else(|| "impossible timestamp".to_owned())
}

fn parse_uuid(text: &str) -> Result<Uuid, DecodeError> {
    Uuid::parse_str(text).map_err(|_| DecodeError::new("id: not a UUID"))
}

fn missing(key: &str) -> DecodeError {
    DecodeError::new(format!("{key}: missing"))
}

fn wrong_type(key: &str, expected: &str, got: &Value) -> DecodeError {
    DecodeError::new(format!("{key}: expected {expected}, got {}", type_name(got)))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json's messages can quote the input; keep only the class and column.
fn json_error_class(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let class = match error.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "syntax error",
        Category::Data => "bad data",
        Category::Eof => "unexpected end of line",
    };
    format!("{class} at column {}", error.column())
}

fn kind_list() -> String {
    Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

// ---- encoding ------------------------------------------------------------------------------

/// Encodes a record as one canonical line (no newline). `id` is written when present.
pub fn encode_line(record: &Record) -> String {
    let mut out = Vec::with_capacity(160);
    out.push(b'{');
    if let Some(id) = record.id {
        push_key(&mut out, "id");
        push_str(&mut out, &id.to_string());
    }
    push_common(&mut out, record);
    out.push(b'}');
    into_string(out)
}

/// The body and unknown fields as one JSON object: what the store keeps beside the indexed
/// columns (`id`, `ts`, `kind`, `user`).
pub fn encode_payload(record: &Record) -> String {
    let mut out = Vec::with_capacity(96);
    out.push(b'{');
    push_body(&mut out, record);
    out.push(b'}');
    into_string(out)
}

/// A stable id derived from a record's content, for records that arrive without one, so that
/// importing the same file twice stores nothing new. It is a UUIDv7 whose time is the record's
/// own `ts` (time-ordered like every other id) and whose random bits come from SHA-256 of the
/// canonical encoding (the line as `encode_line` writes it without an `id`).
pub fn content_id(record: &Record) -> Uuid {
    payload_and_content_id(record).1
}

/// `encode_payload` and `content_id` at once: the canonical encoding the id hashes is the common
/// fields followed by the payload's fields, so the body is encoded once for both.
pub fn payload_and_content_id(record: &Record) -> (String, Uuid) {
    let mut payload = Vec::with_capacity(96);
    payload.push(b'{');
    push_body(&mut payload, record);
    let mut canonical = Vec::with_capacity(payload.len() + 64);
    canonical.push(b'{');
    push_common_fields(&mut canonical, record);
    if payload.len() > 1 {
        canonical.push(b',');
        canonical.extend_from_slice(&payload[1..]);
    }
    canonical.push(b'}');
    payload.push(b'}');
    let digest = Sha256::digest(&canonical);
    let millis = record.ts.timestamp_millis().max(0) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&digest[..10]);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    (into_string(payload), Uuid::from_bytes(bytes))
}

/// serde_json writes only valid UTF-8, so the conversion never falls back.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn push_common(out: &mut Vec<u8>, record: &Record) {
    push_common_fields(out, record);
    push_body(out, record);
}

/// `ts`, `kind` and (when not the local child) `user`.
fn push_common_fields(out: &mut Vec<u8>, record: &Record) {
    push_key(out, "ts");
    push_str(out, &format_ts(&record.ts));
    push_key(out, "kind");
    push_str(out, record.kind().as_str());
    if record.user != LOCAL_USER {
        push_key(out, "user");
        push_str(out, &record.user);
    }
}

/// The kind's fields in their fixed order, then unknown fields sorted by name. Numbers are written
/// exactly as serde_json writes a `Value` holding them (non-finite ones as `null`).
fn push_body(out: &mut Vec<u8>, record: &Record) {
    let text = |out: &mut Vec<u8>, t: &Option<String>| {
        if let Some(t) = t {
            push_key(out, "text");
            push_str(out, t);
        }
    };
    match &record.body {
        Body::Message { text: t } => {
            push_key(out, "text");
            push_str(out, t);
        }
        Body::Symptom { intensity, text: t } => {
            push_key(out, "intensity");
            push_json(out, &u64::from(*intensity));
            text(out, t);
        }
        Body::Relief { strategy, text: t } => {
            push_key(out, "strategy");
            push_str(out, strategy.as_str());
            text(out, t);
        }
        Body::Activity { category, text: t } => {
            push_key(out, "category");
            push_str(out, category.as_str());
            text(out, t);
        }
        Body::Sleep { start, end } => {
            push_key(out, "start");
            push_str(out, &format_ts(start));
            push_key(out, "end");
            push_str(out, &format_ts(end));
        }
        Body::Env { pressure_hpa, temp_c, humidity_pct } => {
            for (key, value) in [("pressure_hpa", pressure_hpa), ("temp_c", temp_c), ("humidity_pct", humidity_pct)] {
                if let Some(value) = value {
                    push_key(out, key);
                    push_json(out, value);
                }
            }
        }
        Body::Intervention { name } => {
            push_key(out, "name");
            push_str(out, name);
        }
        Body::Rr { rr_ms } => {
            push_key(out, "rr_ms");
            push_json(out, rr_ms);
        }
        Body::Hr { bpm } => {
            push_key(out, "bpm");
            push_json(out, bpm);
        }
        Body::Eda { microsiemens, hz } => {
            push_key(out, "microsiemens");
            push_json(out, microsiemens);
            push_key(out, "hz");
            push_json(out, hz);
            push_key(out, "samples");
            push_json(out, &(microsiemens.len() as u64));
        }
        Body::Accel { hz, x, y, z } => {
            push_key(out, "hz");
            push_json(out, hz);
            for (key, axis) in [("x", x), ("y", y), ("z", z)] {
                push_key(out, key);
                push_json(out, axis);
            }
        }
    }
    for (key, value) in &record.extra {
        push_key(out, key);
        push_json(out, value);
    }
}

/// Writes `"key":`, preceded by a comma unless it is the object's first field.
fn push_key(out: &mut Vec<u8>, key: &str) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    push_str(out, key);
    out.push(b':');
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    push_json(out, text);
}

fn push_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a string, number, array of numbers or `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_ok(line: &str, canonical: &str) {
        let record = decode_line(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(encode_line(&record), canonical);
        let again = decode_line(canonical.as_bytes()).expect("canonical form decodes");
        assert_eq!(again, record);
    }

    fn check_err(line: &str, expected: &str) {
        let error = decode_line(line.as_bytes()).expect_err(line);
        assert!(error.reason().contains(expected), "{line}: got {error:?}, want {expected:?}");
    }

    #[test]
    fn every_kind_decodes_to_its_canonical_form() {
        check_ok(r#"{"ts":"2026-03-01T09:00:00+01:00","kind":"message","text":"hi"}"#,
                 r#"{"ts":"2026-03-01T09:00:00+01:00","kind":"message","text":"hi"}"#);
        check_ok(r#"{"kind":"symptom","intensity":7,"ts":"2026-03-01T08:00:00Z","user":"ana"}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"symptom","user":"ana","intensity":7}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00.123456+00:00","kind":"relief","strategy":"dark_room","text":"lay down"}"#,
                 r#"{"ts":"2026-03-01T08:00:00.123Z","kind":"relief","strategy":"dark_room","text":"lay down"}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00Z","kind":"activity","category":"screen_time","mood":"ok"}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"activity","category":"screen_time","mood":"ok"}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00Z","kind":"sleep","start":"2026-02-28T21:30:00+01:00","end":"2026-03-01T07:00:00+01:00"}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"sleep","start":"2026-02-28T21:30:00+01:00","end":"2026-03-01T07:00:00+01:00"}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00Z","kind":"env","pressure_hpa":1003,"humidity_pct":80.5}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"env","pressure_hpa":1003.0,"humidity_pct":80.5}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00Z","kind":"intervention","name":"breathing"}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"intervention","name":"breathing"}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00Z","kind":"rr","rr_ms":[812,790.5]}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"rr","rr_ms":[812.0,790.5]}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00Z","kind":"hr","bpm":71}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"hr","bpm":71.0}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00Z","kind":"eda","microsiemens":[0.5,0.6],"hz":4}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"eda","microsiemens":[0.5,0.6],"hz":4.0,"samples":2}"#);
        check_ok(r#"{"ts":"2026-03-01T08:00:00Z","kind":"accel","hz":32,"x":[0.1],"y":[0],"z":[1]}"#,
                 r#"{"ts":"2026-03-01T08:00:00Z","kind":"accel","hz":32.0,"x":[0.1],"y":[0.0],"z":[1.0]}"#);
    }

    #[test]
    fn bad_lines_name_what_is_wrong() {
        check_err("not json", "not valid JSON");
        check_err("[1,2]", "expected a JSON object");
        check_err(r#"{"kind":"message","text":"x"}"#, "ts: missing");
        check_err(r#"{"ts":"2026-02-30T08:00:00Z","kind":"message","text":"x"}"#, "ts: not an RFC 3339");
        check_err(r#"{"ts":"2026-03-01 08:00","kind":"message","text":"x"}"#, "ts: not an RFC 3339");
        check_err(r#"{"ts":"2026-03-01T08:00:00","kind":"message","text":"x"}"#, "ts: not an RFC 3339");
        check_err(r#"{"ts":"1969-12-31T23:00:00Z","kind":"message","text":"x"}"#, "before 1970");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"dream"}"#, "unknown kind \"dream\"");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"symptom","intensity":"high"}"#, "intensity: expected");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"symptom","intensity":11}"#, "0 to 10");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"symptom","intensity":6.5}"#, "0 to 10");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"relief","strategy":"chocolate"}"#, "strategy: unknown value");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"env"}"#, "needs at least one");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"env","pressure_hpa":1e400}"#, "not valid JSON");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"env","pressure_hpa":NaN}"#, "not valid JSON");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"env","pressure_hpa":5}"#, "outside");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"rr","rr_ms":[800,"x"]}"#, "rr_ms[1]: expected a number");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"rr","rr_ms":[]}"#, "1 to 1,000,000");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"accel","hz":32,"x":[0],"y":[0,1],"z":[1]}"#, "equal lengths");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"eda","microsiemens":[1],"hz":4,"samples":3}"#, "samples: says 3");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"sleep","start":"2026-03-01T08:00:00Z","end":"2026-03-01T07:00:00Z"}"#, "end: must be after start");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"message","text":"x","id":"nope"}"#, "id: not a UUID");
        check_err(r#"{"ts":"2026-03-01T08:00:00Z","kind":"message","text":"  "}"#, "text: must not be empty");
    }

    #[test]
    fn errors_never_echo_the_childs_words() {
        let error = decode_line(br#"{"ts":"x","kind":"message","text":"my secret diary"}"#).unwrap_err();
        assert!(!error.reason().contains("secret"));
        let error = decode_line(b"{\"text\":\"my secret diary\" oops").unwrap_err();
        assert!(!error.reason().contains("secret"));
    }

    /// Content ids are a storage contract: a file imported again, by any later version, must map
    /// to the same ids. These were computed by the code of session 4 before the import was tuned.
    #[test]
    fn content_ids_are_pinned_across_versions() {
        let pinned: &[(&str, &str)] = &[
            (r#"{"ts":"2026-03-01T09:00:00+01:00","kind":"message","text":"my head hurts \"a lot\" é\u0001"}"#, "019ca869-5000-7754-bdd1-1881b9be2bc5"),
            (r#"{"ts":"2026-03-01T08:00:00.123Z","kind":"symptom","user":"child-7","intensity":7,"text":"ouch","zeta":[1,{"b":2,"a":null}],"alpha":true}"#, "019ca869-507b-7609-8f62-947e6febac67"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"env","user":"child-3","pressure_hpa":1003.25,"humidity_pct":80.5}"#, "019ca869-5000-739c-a3e9-d8d41b9dd31e"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"env","temp_c":-3.1e-5}"#, "019ca869-5000-7582-86d4-50607d433fab"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"sleep","start":"2026-02-28T21:30:00+01:00","end":"2026-03-01T07:00:00.5+01:00"}"#, "019ca869-5000-7427-909c-4d3decacc2f5"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"relief","strategy":"dark_room"}"#, "019ca869-5000-713d-9d4b-6a194cd19b05"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"activity","category":"screen_time","mood":"ok"}"#, "019ca869-5000-744e-8848-f11df25624aa"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"intervention","name":"breathing"}"#, "019ca869-5000-74cf-9c29-7dc683b3d491"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"rr","rr_ms":[812,790.5,1e3]}"#, "019ca869-5000-7959-b5d4-ca166536ad8c"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"hr","bpm":71}"#, "019ca869-5000-75e6-9154-50694b6c5b5c"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"eda","microsiemens":[0.5,0.6],"hz":4}"#, "019ca869-5000-7186-b10e-9b660e51643c"),
            (r#"{"ts":"2026-03-01T08:00:00Z","kind":"accel","hz":32,"x":[0.1],"y":[0],"z":[1]}"#, "019ca869-5000-7702-8965-c16a60d3d0c5"),
        ];
        let computed: Vec<String> = pinned
            .iter()
            .map(|(line, _)| content_id(&decode_line(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"))).to_string())
            .collect();
        let expected: Vec<&str> = pinned.iter().map(|(_, id)| *id).collect();
        assert_eq!(computed, expected);
    }

    #[test]
    fn content_ids_are_stable_time_ordered_v7() {
        let a = decode_line(br#"{"ts":"2026-03-01T08:00:00Z","kind":"hr","bpm":71}"#).unwrap();
        let b = decode_line(br#"{"bpm":71.0,"kind":"hr","ts":"2026-03-01T09:00:00+01:00"}"#).unwrap();
        let c = decode_line(br#"{"ts":"2026-03-01T08:00:01Z","kind":"hr","bpm":71}"#).unwrap();
        assert_eq!(content_id(&a).get_version_num(), 7);
        // Same instant, different offset: a different record (the child's clock differed).
        assert_ne!(content_id(&a), content_id(&b));
        assert_eq!(content_id(&a), content_id(&a.clone()));
        assert!(content_id(&a) < content_id(&c));
    }
}
