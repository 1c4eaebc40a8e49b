//! Calendar dates and the relative dates people say ("tomorrow", "next
//! Friday", "in three days"), resolved against a date the caller passes in
//! (from its clock), never the machine's.

use serde::Serialize;

/// A date in the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
}

/// Days from 1970-01-01 to a date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `z` days after 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

impl Date {
    /// A date, if it exists.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let d = Date { year, month, day };
        ((1..=12).contains(&month) && day >= 1 && d.add_days(0) == d).then_some(d)
    }

    /// The date `n` days later (earlier for negative `n`), within a million
    /// years of 1970 (further is clamped).
    pub fn add_days(self, n: i64) -> Date {
        const LIMIT: i64 = 365_000_000;
        let z = days_from_civil(self.year, self.month, self.day)
            .saturating_add(n)
            .clamp(-LIMIT, LIMIT);
        let (year, month, day) = civil_from_days(z);
        Date { year, month, day }
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// Day of the week, 0 = Monday to 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (days_from_civil(self.year, self.month, self.day) + 3).rem_euclid(7) as u32
    }
}

fn weekday_word(w: &str) -> Option<u32> {
    Some(match w {
        "monday" => 0,
        "tuesday" => 1,
        "wednesday" => 2,
        "thursday" => 3,
        "friday" => 4,
        "saturday" => 5,
        "sunday" => 6,
        _ => return None,
    })
}

/// A relative date: "today", "tomorrow", "the day after tomorrow",
/// "yesterday", "friday" or "on friday" (the next one, today excluded),
/// "next friday" (the same), "this friday" (today included), "in three
/// days", "in two weeks", "a week from today". Resolved against `today`.
pub fn relative_date(w: &[String], today: Date) -> Option<(Date, usize)> {
    let get = |i: usize| w.get(i).map(String::as_str);
    let (skip, w) = if get(0) == Some("on") {
        (1, &w[1..])
    } else {
        (0, w)
    };
    let get = |i: usize| w.get(i).map(String::as_str);
    let next_weekday = |target: u32, include_today: bool| {
        let ahead = (i64::from(target) - i64::from(today.weekday())).rem_euclid(7);
        today.add_days(if ahead == 0 && !include_today {
            7
        } else {
            ahead
        })
    };
    let (date, used) = match (get(0)?, get(1), get(2), get(3)) {
        ("today", ..) => (today, 1),
        ("tomorrow", ..) => (today.add_days(1), 1),
        ("yesterday", ..) => (today.add_days(-1), 1),
        ("the", Some("day"), Some("after"), Some("tomorrow")) => (today.add_days(2), 4),
        ("day", Some("after"), Some("tomorrow"), _) => (today.add_days(2), 3),
        ("the", Some("day"), Some("before"), Some("yesterday")) => (today.add_days(-2), 4),
        ("next", Some(d), ..) if weekday_word(d).is_some() => {
            (next_weekday(weekday_word(d)?, false), 2)
        }
        ("next", Some("week"), ..) => (today.add_days(7), 2),
        ("this", Some(d), ..) if weekday_word(d).is_some() => {
            (next_weekday(weekday_word(d)?, true), 2)
        }
        (d, ..) if weekday_word(d).is_some() => (next_weekday(weekday_word(d)?, false), 1),
        ("in", ..) => {
            let (n, k) = crate::values::number(&w[1..]).or_else(|| {
                // "in a week"
                (get(1) == Some("a") || get(1) == Some("an")).then_some((1.0, 1))
            })?;
            if n.fract() != 0.0 || !(0.0..=3660.0).contains(&n) {
                return None;
            }
            let per = match get(1 + k)? {
                "day" | "days" => 1,
                "week" | "weeks" => 7,
                _ => return None,
            };
            (today.add_days(n as i64 * per), 2 + k)
        }
        ("a", Some("week"), Some("from"), Some("today" | "now")) => (today.add_days(7), 4),
        _ => return None,
    };
    Some((date, skip + used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::words;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::new(y, m, day).unwrap()
    }

    #[test]
    fn calendar_arithmetic() {
        assert_eq!(d(2026, 11, 22).weekday(), 6, "a Sunday");
        assert_eq!(d(2024, 2, 28).add_days(1), d(2024, 2, 29));
        assert_eq!(d(2023, 2, 28).add_days(1), d(2023, 3, 1));
        assert_eq!(d(2026, 12, 31).add_days(1), d(2027, 1, 1));
        assert_eq!(d(2000, 3, 1).add_days(-1), d(2000, 2, 29));
        assert_eq!(Date::new(2026, 2, 29), None);
        assert_eq!(Date::new(2026, 13, 1), None);
        assert_eq!(Date::new(2026, 4, 31), None);
        let far = d(2026, 1, 1).add_days(i64::MAX);
        assert!(far.year > 900_000, "{far:?}");
    }

    #[test]
    fn relative_dates_against_a_sunday() {
        let today = d(2026, 11, 22); // Sunday
        let check = |input: &str, want: Option<(Date, usize)>| {
            assert_eq!(relative_date(&words(input), today), want, "input {input:?}");
        };
        check("today", Some((today, 1)));
        check("tomorrow at noon", Some((d(2026, 11, 23), 1)));
        check("the day after tomorrow", Some((d(2026, 11, 24), 4)));
        check("yesterday", Some((d(2026, 11, 21), 1)));
        check("next friday", Some((d(2026, 11, 27), 2)));
        check("on friday", Some((d(2026, 11, 27), 2)));
        check("sunday", Some((d(2026, 11, 29), 1)));
        check("this sunday", Some((today, 2)));
        check("in three days", Some((d(2026, 11, 25), 3)));
        check("in two weeks", Some((d(2026, 12, 6), 3)));
        check("in a week", Some((d(2026, 11, 29), 3)));
        check("a week from today", Some((d(2026, 11, 29), 4)));
        check("in 2.5 days", None);
        check("in ten minutes", None);
        check("someday", None);
        check("on", None);
    }
}
