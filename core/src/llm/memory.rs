//! Resident memory of this process, for measuring what generation costs beyond the model's
//! weights (`migru generate --json`). Linux only (`/proc/self`); elsewhere every reading is `None`.

/// Current resident set size in KiB (`VmRSS`).
pub fn rss_kib() -> Option<u64> {
    status_field("VmRSS:")
}

/// Peak resident set size in KiB since start or the last [`reset_peak`] (`VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    status_field("VmHWM:")
}

/// Resets the peak to the current RSS (writes `5` to `/proc/self/clear_refs`), so a later
/// [`peak_rss_kib`] covers only what ran in between. Returns whether the kernel took it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_kib(&status, name)
}

fn parse_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        let status = "Name:\tmigru\nVmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\n";
        assert_eq!(parse_kib(status, "VmRSS:"), Some(65_432));
        assert_eq!(parse_kib(status, "VmHWM:"), Some(123_456));
        assert_eq!(parse_kib(status, "VmSwap:"), None);
        assert_eq!(parse_kib("VmRSS: lots", "VmRSS:"), None);
    }

    #[test]
    fn this_process_has_resident_memory_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = rss_kib().unwrap();
            assert!(rss > 0 && peak_rss_kib().unwrap() >= rss);
        }
    }
}
