//! "Now" and the account time zone: what relative date operators (`today`, `this_week`,
//! `last_days`...) and whole-day comparisons on date & time fields are computed in.
//!
//! Local days are turned into UTC instants with the zone's real rules (chrono-tz, the IANA
//! database compiled in), so a day is 23 or 25 hours long when the clocks change.

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Utc,
};
use chrono_tz::Tz;

use super::Op;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub now: DateTime<Utc>,
    pub tz: Tz,
}

impl Clock {
    pub fn new(now: DateTime<Utc>, tz: Tz) -> Clock {
        Clock { now, tz }
    }

    /// The current time in the zone named `zone` (an IANA name such as
    /// `America/Sao_Paulo`); `None` means UTC.
    pub fn system(zone: Option<&str>) -> Result<Clock, String> {
        let tz = match zone {
            None => Tz::UTC,
            Some(name) => parse_zone(name)?,
        };
        Ok(Clock::new(Utc::now(), tz))
    }

    /// Today's date in the account time zone.
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.tz).date_naive()
    }

    /// The first instant of local day `day`.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        self.local(day.and_time(NaiveTime::MIN))
    }

    /// The first instant whose local wall-clock time is `t` or later: the earlier of two
    /// when the clocks go back, the end of the gap when they go forward past `t`.
    pub fn local(&self, t: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&t) {
            LocalResult::Single(x) => x.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
            LocalResult::None => self.first_at_or_after(t),
        }
    }

    /// `now` minus `n` calendar days of local wall-clock time (so across a change of the
    /// clocks it is `24 n ± 1` hours back, as a person counts days).
    pub fn days_ago(&self, n: i64) -> DateTime<Utc> {
        let local = self.now.with_timezone(&self.tz).naive_local();
        self.local(local - TimeDelta::days(n))
    }

    /// The whole local days, first and last, of a period operator.
    pub fn period(&self, op: Op) -> Option<(NaiveDate, NaiveDate)> {
        let today = self.today();
        let first_of_month = today.with_day(1)?;
        match op {
            Op::Today => Some((today, today)),
            Op::Yesterday => {
                let d = today.pred_opt()?;
                Some((d, d))
            }
            Op::ThisWeek => {
                // Weeks start on Monday (SPEC §9).
                let monday = today - Days::new(today.weekday().num_days_from_monday() as u64);
                Some((monday, monday + Days::new(6)))
            }
            Op::ThisMonth => {
                let next = first_of_month.checked_add_months(Months::new(1))?;
                Some((first_of_month, next.pred_opt()?))
            }
            Op::LastMonth => {
                let first = first_of_month.checked_sub_months(Months::new(1))?;
                Some((first, first_of_month.pred_opt()?))
            }
            _ => None,
        }
    }

    /// The local wall-clock time of an instant.
    pub fn local_time(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    /// For a wall-clock time inside a gap: the smallest instant whose local time is `t` or
    /// later, found by bisection over a window wider than any UTC offset.
    fn first_at_or_after(&self, t: NaiveDateTime) -> DateTime<Utc> {
        // Offsets change on whole seconds, so whole seconds find the boundary exactly.
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut lo = (t - TimeDelta::hours(27)).and_utc().timestamp();
        let mut hi = (t + TimeDelta::hours(27)).and_utc().timestamp();
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.local_time(at(mid)) >= t {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        at(hi)
    }
}

/// An IANA time zone name, e.g. `Europe/Berlin`; letter case is forgiven (`utc`,
/// `america/sao_paulo`), since a mistyped case in a deployment variable should not move every
/// day boundary to UTC or fail every request.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    let name = name.trim();
    name.parse::<Tz>()
        .ok()
        .or_else(|| {
            chrono_tz::TZ_VARIANTS
                .iter()
                .find(|tz| tz.name().eq_ignore_ascii_case(name))
                .copied()
        })
        .ok_or_else(|| format!("'{name}' is not an IANA time zone name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_iana_names_in_any_case() {
        assert_eq!(
            parse_zone("America/Sao_Paulo"),
            Ok(chrono_tz::America::Sao_Paulo)
        );
        assert_eq!(parse_zone(" utc "), Ok(Tz::UTC));
        assert_eq!(parse_zone("europe/berlin"), Ok(chrono_tz::Europe::Berlin));
        assert!(parse_zone("Mars/Olympus_Mons").is_err());
        assert!(parse_zone("").is_err());
    }
}
