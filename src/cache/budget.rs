//! The default cache budget: a fraction of the memory this process may still use.

use std::fs;

/// The environment variable that overrides the default budget (`512MiB`, `2GB`, `1000000`).
pub const BUDGET_ENV: &str = "OUTCORE_CACHE_BYTES";

/// The share of available memory the default budget takes. A quarter leaves room for the
/// page cache that mapped (zero-copy) chunks live in, for per-thread buffers, and for the
/// rest of the user's program.
pub const DEFAULT_BUDGET_FRACTION: f64 = 0.25;

/// Used when neither `/proc/meminfo` nor a cgroup limit can be read.
const FALLBACK_AVAILABLE: u64 = 4 << 30;

/// Parses a size such as `512MiB`, `1.5 GiB`, `2GB` or `1000000` into bytes.
///
/// # Errors
/// Text that is not a number with an optional unit, or a size past `u64::MAX`; the message
/// quotes the text (its first 64 characters).
pub fn parse_size(text: &str) -> Result<u64, String> {
    parse_size::parse_size(text.trim()).map_err(|e| {
        let shown: String = text.chars().take(64).collect();
        let more = if shown.len() < text.len() { "…" } else { "" };
        format!("invalid size {shown:?}{more}: {e}")
    })
}

/// The budget: `OUTCORE_CACHE_BYTES` if set, otherwise [`DEFAULT_BUDGET_FRACTION`] of the
/// smaller of the kernel's `MemAvailable` and what the process's cgroup (v2 `memory.max`, or
/// v1 `memory.limit_in_bytes`) still allows.
///
/// # Errors
/// `OUTCORE_CACHE_BYTES` is set but is not a size (empty, negative, not a number, past
/// `u64::MAX`, not Unicode): [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument),
/// naming the variable. A budget the user asked for is never silently replaced by another.
pub fn default_budget() -> crate::Result<u64> {
    match std::env::var(BUDGET_ENV) {
        Ok(text) => {
            return parse_size(&text).map_err(|e| {
                crate::error::invalid(format!(
                    "{BUDGET_ENV}: {e} (a size such as 512MiB, 2GB or 1000000)"
                ))
            })
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(crate::error::invalid(format!(
                "{BUDGET_ENV} is not valid Unicode (a size such as 512MiB, 2GB or 1000000)"
            )))
        }
        Err(std::env::VarError::NotPresent) => {}
    }
    let available = [mem_available(), cgroup_remaining()]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(FALLBACK_AVAILABLE);
    Ok((available as f64 * DEFAULT_BUDGET_FRACTION) as u64)
}

fn mem_available() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn read_u64(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Bytes the process's cgroup still allows (limit minus current usage), if limited.
fn cgroup_remaining() -> Option<u64> {
    let membership = fs::read_to_string("/proc/self/cgroup").ok()?;
    // cgroup v2: a line "0::/path".
    if let Some(path) = membership.lines().find_map(|l| l.strip_prefix("0::")) {
        let dir = format!("/sys/fs/cgroup{}", path.trim_end_matches('/'));
        if let Some(limit) = read_u64(&format!("{dir}/memory.max")) {
            let current = read_u64(&format!("{dir}/memory.current")).unwrap_or(0);
            return Some(limit.saturating_sub(current));
        }
    }
    // cgroup v1: absurdly large limits mean "unlimited".
    let limit = read_u64("/sys/fs/cgroup/memory/memory.limit_in_bytes")?;
    if limit >= 1 << 60 {
        return None;
    }
    let usage = read_u64("/sys/fs/cgroup/memory/memory.usage_in_bytes").unwrap_or(0);
    Some(limit.saturating_sub(usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        for bad in ["lots", "", "-5", "1e30", "garbage", "99999999999999999999"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_is_a_fraction_of_what_is_available() {
        if std::env::var(BUDGET_ENV).is_ok() {
            return;
        }
        let budget = default_budget().unwrap();
        let available = mem_available().unwrap();
        assert!(
            budget > 0 && budget <= available / 2,
            "{budget} of {available}"
        );
    }
}
