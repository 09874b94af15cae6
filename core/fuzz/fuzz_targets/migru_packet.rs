//! Migru sensor packets (EDA, skin temperature, acceleration): the first input byte picks the
//! characteristic, the rest is the packet. Valid packets re-encode byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migru_core::wearable::Channel;
use migru_core::wearable::migru::{encode_migru, parse_migru};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let channel = Channel::ALL[usize::from(pick) % Channel::ALL.len()];
    if let Ok(packet) = parse_migru(channel, bytes) {
        assert_eq!(encode_migru(&packet), bytes);
    }
});
