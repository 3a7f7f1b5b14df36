//! Time, as podman shows it, for every module: timestamps as podman prints
//! them (RFC 3339 with nanoseconds, UTC; Go's `time.Time.String()`), their
//! parsing for `logs --since/--until` and for the store's records, and
//! go-units' human durations ("Up 3 seconds", "2 minutes ago").

use anyhow::{bail, Result};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

// Howard Hinnant's days-from-civil and civil-from-days.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-28T07:47:15.123456789Z`.
pub fn rfc3339_nano(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Parse RFC 3339 (any fraction, `Z` or `±HH:MM`) to epoch nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut frac_ns = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
        rest = &r[digits.len()..];
        let mut padded = digits.clone();
        padded.truncate(9);
        while padded.len() < 9 {
            padded.push('0');
        }
        frac_ns = padded.parse().ok()?;
    }
    let offset = match rest {
        "Z" | "z" | "" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    // Far-future dates saturate rather than overflow.
    Some(secs.saturating_mul(1_000_000_000).saturating_add(frac_ns))
}

/// A `--since`/`--until` value: RFC 3339, a Unix timestamp (with optional
/// fraction), or a Go duration before now ("10m", "1h30m", "45s").
pub fn parse_time_arg(s: &str, now: i64) -> Result<i64> {
    if let Some(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(f) = s.parse::<f64>() {
        return Ok((f * 1e9) as i64);
    }
    if let Some(d) = parse_go_duration(s) {
        return Ok(now - d.as_nanos() as i64);
    }
    bail!("invalid time {s:?}: use RFC 3339, a Unix timestamp, or a duration such as 10m")
}

/// Go's `time.ParseDuration` for non-negative values ("1m30s", "500ms").
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if n.is_empty() {
            return None;
        }
        rest = &rest[n.len()..];
        let unit: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        rest = &rest[unit.len()..];
        let mult = match unit.as_str() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n.parse::<f64>().ok()? * mult;
    }
    Some(Duration::from_secs_f64(total))
}

/// Go's `time.Duration.String()` of `ns` nanoseconds: "0s", "500ns",
/// "1.5µs", "12.5ms", "1.072558s", "1m2.003s", "1h0m0s" (podman's
/// `stats` CPU TIME, `top`'s ELAPSED and TIME).
pub fn go_duration(ns: u64) -> String {
    fn frac(int: u64, rem: u64, digits: usize) -> String {
        if rem == 0 {
            return int.to_string();
        }
        let f = format!("{rem:0digits$}");
        format!("{int}.{}", f.trim_end_matches('0'))
    }
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns / 1_000, ns % 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns / 1_000_000, ns % 1_000_000, 6));
    }
    let secs = ns / 1_000_000_000;
    let s = frac(secs % 60, ns % 1_000_000_000, 9);
    let (m, h) = ((secs / 60) % 60, secs / 3600);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// go-units `HumanDuration`, which podman uses for CREATED and STATUS.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d < Duration::from_secs(1) {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (d.as_secs_f64() / 3600.0).round() as u64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours / 24 / 365)
}

/// Human duration between two epoch-ns instants (never negative).
pub fn since(then_ns: i64, now_ns: i64) -> String {
    human_duration(Duration::from_nanos((now_ns - then_ns).max(0) as u64))
}

/// Seconds since the epoch (and nanoseconds) of an RFC 3339 time such as
/// "2024-01-02T03:04:05.123456789Z" or "...+02:00". None if malformed.
pub fn parse_rfc3339_secs(s: &str) -> Option<(i64, u32)> {
    let ns = parse_rfc3339(s)?;
    Some((
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    ))
}

/// "YYYY-MM-DDTHH:MM:SSZ", with the fraction as Go's RFC3339Nano writes it
/// (trailing zeros cut): what podman prints for an image's Created, and
/// what buildah writes in a config.
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    rfc3339_nano_go(
        secs.saturating_mul(1_000_000_000)
            .saturating_add(nanos as i64),
    )
}

/// Go's time.Time.String() for a UTC time: "2024-01-02 03:04:05 +0000 UTC"
/// (what podman prints for .CreatedAt).
pub fn format_go(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

/// Go's fraction for RFC3339Nano and Time.String(): ".123456789" with the
/// trailing zeros cut, nothing for a whole second.
fn go_frac(nanos: i64) -> String {
    if nanos == 0 {
        return String::new();
    }
    let f = format!(".{nanos:09}");
    f.trim_end_matches('0').to_string()
}

/// Go's `time.RFC3339Nano` of a UTC instant in epoch nanoseconds, as Go's
/// JSON encoder writes a time.Time: "2026-12-07T03:03:50.0990208Z".
pub fn rfc3339_nano_go(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{}Z",
        t / 3600,
        t % 3600 / 60,
        t % 60,
        go_frac(ns.rem_euclid(1_000_000_000))
    )
}

/// Go's time.Time.String() of a UTC instant in epoch nanoseconds:
/// "2026-12-07 03:03:50.0990208 +0000 UTC" (what `podman events` prints).
pub fn format_go_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}{} +0000 UTC",
        t / 3600,
        t % 3600 / 60,
        t % 60,
        go_frac(ns.rem_euclid(1_000_000_000))
    )
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Now, in RFC 3339 with nanoseconds (for `ImageRecord::pulled`).
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// [`human_duration`] of a number of seconds (ages: "2 weeks").
pub fn human_duration_secs(secs: i64) -> String {
    human_duration(Duration::from_secs(secs.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = 1_795_852_035_123_456_789; // 2026-11-28T07:47:15.123456789Z
        let s = rfc3339_nano(t);
        assert_eq!(s, "2026-11-28T07:47:15.123456789Z");
        assert_eq!(parse_rfc3339(&s), Some(t));
        assert_eq!(
            parse_rfc3339("2026-11-28T08:47:15+01:00"),
            Some(1_795_852_035 * 1_000_000_000)
        );
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Some(951_782_400 * 1_000_000_000)
        );
        assert!(parse_rfc3339("yesterday").is_none());
        assert_eq!(parse_rfc3339("2999-01-01T00:00:00Z"), Some(i64::MAX));
    }

    #[test]
    fn time_args() {
        let now = 1_000_000 * 1_000_000_000;
        assert_eq!(
            parse_time_arg("10m", now).unwrap(),
            now - 600 * 1_000_000_000
        );
        assert_eq!(
            parse_time_arg("1h30m", now).unwrap(),
            now - 5400 * 1_000_000_000
        );
        assert_eq!(parse_time_arg("12.5", now).unwrap(), 12_500_000_000);
        assert!(parse_time_arg("10 parsecs", now).is_err());
    }

    #[test]
    fn human_durations_match_go_units() {
        let s = Duration::from_secs;
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(3)), "3 seconds");
        assert_eq!(human_duration(s(61)), "About a minute");
        assert_eq!(human_duration(s(150)), "2 minutes");
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(5 * 3600)), "5 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
        assert_eq!(human_duration(s(20 * 86400)), "2 weeks");
        assert_eq!(human_duration(s(90 * 86400)), "3 months");
        assert_eq!(human_duration(s(800 * 86400)), "2 years");
    }

    #[test]
    fn rfc3339_round_trips_and_offsets_apply() {
        assert_eq!(parse_rfc3339_secs("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_rfc3339_secs("2024-02-29T12:00:00Z"),
            Some((1709208000, 0))
        );
        assert_eq!(
            parse_rfc3339_secs("2024-02-29T14:00:00+02:00"),
            Some((1709208000, 0))
        );
        assert_eq!(
            parse_rfc3339_secs("2024-02-29T12:00:00.5Z"),
            Some((1709208000, 500_000_000))
        );
        assert_eq!(format_rfc3339(1709208000, 0), "2024-02-29T12:00:00Z");
        assert_eq!(
            format_rfc3339(1709208000, 5),
            "2024-02-29T12:00:00.000000005Z"
        );
        // Go cuts the fraction's trailing zeros.
        assert_eq!(
            format_rfc3339(1709208000, 904_239_950),
            "2024-02-29T12:00:00.90423995Z"
        );
        assert_eq!(format_go(1709208000), "2024-02-29 12:00:00 +0000 UTC");
        assert_eq!(parse_rfc3339_secs("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_secs("yesterday"), None);
        let now = now_rfc3339();
        assert!(parse_rfc3339_secs(&now).is_some(), "{now}");
    }

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration_secs(0), "Less than a second");
        assert_eq!(human_duration_secs(45), "45 seconds");
        assert_eq!(human_duration_secs(90), "About a minute");
        assert_eq!(human_duration_secs(3600), "About an hour");
        assert_eq!(human_duration_secs(5 * 3600), "5 hours");
        assert_eq!(human_duration_secs(3 * 86400), "3 days");
        assert_eq!(human_duration_secs(20 * 86400), "2 weeks");
        assert_eq!(human_duration_secs(100 * 86400), "3 months");
        assert_eq!(human_duration_secs(3 * 365 * 86400), "3 years");
    }
}
