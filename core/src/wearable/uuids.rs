//! Service and characteristic UUIDs (see `docs/ble-sensor-service.md`).

use uuid::Uuid;

/// Expands a 16-bit SIG-assigned number onto the Bluetooth base UUID.
pub const fn sig(short: u16) -> Uuid {
    Uuid::from_u128(((short as u128) << 96) | 0x0000_0000_0000_1000_8000_0080_5f9b_34fb)
}

pub const HEART_RATE_SERVICE: Uuid = sig(0x180D);
pub const HEART_RATE_MEASUREMENT: Uuid = sig(0x2A37);
pub const BATTERY_SERVICE: Uuid = sig(0x180F);
pub const BATTERY_LEVEL: Uuid = sig(0x2A19);

/// The Migru sensor service. Its characteristics share the base and differ in the first group.
pub const MIGRU_SERVICE: Uuid = Uuid::from_u128(0x8f3e_0001_5a7c_4d2e_9b61_6d69_6772_7531);
pub const MIGRU_EDA: Uuid = Uuid::from_u128(0x8f3e_0002_5a7c_4d2e_9b61_6d69_6772_7531);
pub const MIGRU_SKIN_TEMP: Uuid = Uuid::from_u128(0x8f3e_0003_5a7c_4d2e_9b61_6d69_6772_7531);
pub const MIGRU_ACCEL: Uuid = Uuid::from_u128(0x8f3e_0004_5a7c_4d2e_9b61_6d69_6772_7531);

/// Characteristics the BLE source subscribes to, in subscription order.
pub const NOTIFIED: [Uuid; 5] = [
    HEART_RATE_MEASUREMENT,
    MIGRU_EDA,
    MIGRU_SKIN_TEMP,
    MIGRU_ACCEL,
    BATTERY_LEVEL,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_numbers_expand_onto_the_base_uuid() {
        assert_eq!(
            HEART_RATE_MEASUREMENT.to_string(),
            "00002a37-0000-1000-8000-00805f9b34fb"
        );
        assert_eq!(
            BATTERY_LEVEL.to_string(),
            "00002a19-0000-1000-8000-00805f9b34fb"
        );
        assert_eq!(
            MIGRU_SERVICE.to_string(),
            "8f3e0001-5a7c-4d2e-9b61-6d6967727531"
        );
    }
}
