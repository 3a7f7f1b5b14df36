//! The store's view of time: records keep RFC 3339 strings, and the image
//! commands show them as ages ("3 weeks ago"). The calendar and go-units
//! arithmetic is `crate::time`'s; this is seconds-based glue for the store.

use crate::time::civil_from_days;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the epoch (and nanoseconds) of an RFC 3339 time such as
/// "2024-01-02T03:04:05.123456789Z" or "...+02:00". None if malformed.
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let ns = crate::time::parse_rfc3339(s)?;
    Some((
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    ))
}

/// "YYYY-MM-DDTHH:MM:SSZ" (with ".nnnnnnnnn" when `nanos` isn't 0).
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}")
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        t / 3600,
        t % 3600 / 60,
        t % 60
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

/// docker/go-units HumanDuration, as podman shows ages ("2 weeks").
pub fn human_duration(secs: i64) -> String {
    crate::time::human_duration(Duration::from_secs(secs.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_offsets_apply() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Some((1709208000, 0)));
        assert_eq!(
            parse_rfc3339("2024-02-29T14:00:00+02:00"),
            Some((1709208000, 0))
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00.5Z"),
            Some((1709208000, 500_000_000))
        );
        assert_eq!(format_rfc3339(1709208000, 0), "2024-02-29T12:00:00Z");
        assert_eq!(
            format_rfc3339(1709208000, 5),
            "2024-02-29T12:00:00.000000005Z"
        );
        assert_eq!(format_go(1709208000), "2024-02-29 12:00:00 +0000 UTC");
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        let now = now_rfc3339();
        assert!(parse_rfc3339(&now).is_some(), "{now}");
    }

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(100 * 86400), "3 months");
        assert_eq!(human_duration(3 * 365 * 86400), "3 years");
    }
}
