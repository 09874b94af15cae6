//! The workspace's UniFFI generator, pinned to the same uniffi version as `migru-ffi`.
fn main() {
    uniffi::uniffi_bindgen_main()
}
