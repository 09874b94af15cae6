//! One line of the JSON Lines import contract: any bytes decode to a record or a per-line error,
//! never a panic, and a decoded record's canonical encoding decodes back to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migru_core::event::{decode_line, encode_line};

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = decode_line(data) {
        let encoded = encode_line(&record);
        let again = decode_line(encoded.as_bytes()).expect("a canonical encoding decodes");
        assert_eq!(again, record);
        assert_eq!(encode_line(&again), encoded);
    }
});
