//! Battery Level (0x2A19): one byte 0–100, anything else a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migru_core::wearable::gatt::parse_battery;

fuzz_target!(|data: &[u8]| {
    if let Ok(level) = parse_battery(data) {
        assert!(level <= 100 && data.len() == 1);
    }
});
