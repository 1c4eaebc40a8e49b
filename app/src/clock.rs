//! The wall time and time zone a session's skills tell the time in: the
//! system clock and the local zone (`time_zone` in `ainima.toml`, else `TZ`,
//! else `/etc/localtime`), or a start pinned with `--start` (and, for
//! `--deterministic` replays, 2026-01-01 00:00 UTC).

use anyhow::{Context, Result, anyhow};
use jiff::tz::TimeZone;

/// The start replays and scenarios are pinned to when nothing else is
/// said: 2026-01-01 00:00 UTC.
pub const PINNED_START: i64 = 1_767_225_600;

/// Where a session's clock starts, and the zone it tells time in.
#[derive(Debug, Clone)]
pub struct Start {
    /// Unix seconds.
    pub unix: i64,
    /// The zone.
    pub zone: TimeZone,
}

impl Start {
    /// Sets a session's clock to start here.
    pub fn apply(&self, c: &mut ainima::session::Config) {
        c.start_unix = self.unix;
        c.time_zone = self.zone.clone();
    }
}

/// The zone named `name` (IANA, as "Europe/Berlin"), or the system's when
/// `None`; a zone that cannot be read falls back to UTC with a warning.
pub fn zone(name: Option<&str>) -> Result<TimeZone> {
    match name {
        Some(n) => TimeZone::get(n).map_err(|e| {
            anyhow!("time zone {n:?}: {e} (an IANA name such as \"Europe/Berlin\" or \"UTC\")")
        }),
        None => Ok(TimeZone::try_system().unwrap_or_else(|e| {
            eprintln!("ainima: the local time zone could not be read ({e}); telling time in UTC (set TZ or time_zone in ainima.toml)");
            TimeZone::UTC
        })),
    }
}

/// The zone named `name`, or `otherwise` when none is named.
fn zone_or(name: Option<&str>, otherwise: TimeZone) -> Result<TimeZone> {
    match name {
        Some(_) => zone(name),
        None => Ok(otherwise),
    }
}

/// Parses `--start`: an RFC 9557 time with its zone
/// (`2026-03-29T07:30[Europe/Berlin]`), an RFC 3339 time with an offset
/// (`2026-03-29T07:30:00+02:00`, told in that fixed offset, or in
/// `zone_name` when given), or Unix seconds (in `zone_name`, else UTC).
pub fn parse_start(text: &str, zone_name: Option<&str>) -> Result<Start> {
    let t = text.trim();
    if let Ok(unix) = t.parse::<i64>() {
        let zone = zone_or(zone_name, TimeZone::UTC)?;
        return Ok(Start { unix, zone });
    }
    if let Ok(z) = t.parse::<jiff::Zoned>() {
        let zone = zone_or(zone_name, z.time_zone().clone())?;
        return Ok(Start {
            unix: z.timestamp().as_second(),
            zone,
        });
    }
    let ts: jiff::Timestamp = t.parse().with_context(|| {
        format!("--start {t:?}: a time such as 2026-03-29T07:30[Europe/Berlin], 2026-03-29T07:30:00+02:00 or Unix seconds")
    })?;
    // Unless a zone is named, the offset written is the zone.
    let written = jiff::fmt::temporal::Pieces::parse(t)
        .ok()
        .and_then(|p| p.to_numeric_offset())
        .map_or(TimeZone::UTC, TimeZone::fixed);
    let zone = zone_or(zone_name, written)?;
    Ok(Start {
        unix: ts.as_second(),
        zone,
    })
}

/// Now, on the system clock, in `zone_name` or the local zone.
pub fn wall(zone_name: Option<&str>) -> Result<Start> {
    Ok(Start {
        unix: jiff::Timestamp::now().as_second(),
        zone: zone(zone_name)?,
    })
}

/// The start a session takes: `--start` if given; else pinned for
/// deterministic replays; else the wall clock.
pub fn start(given: Option<&str>, deterministic: bool, zone_name: Option<&str>) -> Result<Start> {
    match given {
        Some(s) => parse_start(s, zone_name),
        None if deterministic => Ok(Start {
            unix: PINNED_START,
            zone: zone_or(zone_name, TimeZone::UTC)?,
        }),
        None => wall(zone_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, zone: Option<&str>, unix: i64, hour: i8) {
        let s = parse_start(text, zone).unwrap_or_else(|e| panic!("{text}: {e:#}"));
        assert_eq!(s.unix, unix, "{text}");
        let local = s
            .zone
            .to_datetime(jiff::Timestamp::from_second(s.unix).unwrap());
        assert_eq!(local.hour(), hour, "{text}");
    }

    #[test]
    fn starts_parse_in_their_zone() {
        // 2026-03-29 05:30 UTC, the morning Berlin moves to summer time.
        check("2026-03-29T07:30[Europe/Berlin]", None, 1_774_762_200, 7);
        check("2026-03-29T07:30:00+02:00", None, 1_774_762_200, 7);
        check("1774762200", None, 1_774_762_200, 5);
        check("1774762200", Some("America/New_York"), 1_774_762_200, 1);
        check(
            "2026-03-29T07:30[Europe/Berlin]",
            Some("UTC"),
            1_774_762_200,
            5,
        );
    }

    #[test]
    fn bad_starts_and_zones_are_clear_errors() {
        let e = format!("{:#}", parse_start("next tuesday", None).unwrap_err());
        assert!(e.contains("--start \"next tuesday\""), "{e}");
        let e = format!("{:#}", zone(Some("Mars/Olympus_Mons")).unwrap_err());
        assert!(e.contains("Mars/Olympus_Mons"), "{e}");
    }
}
