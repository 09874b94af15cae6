//! Heart Rate Measurement (0x2A37): any bytes parse or fail with a reason; valid ones re-encode
//! to a value that parses to the same measurement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migru_core::wearable::gatt::{encode_heart_rate, parse_heart_rate};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse_heart_rate(data) {
        assert_eq!(parse_heart_rate(&encode_heart_rate(&m)), Ok(m));
    }
});
