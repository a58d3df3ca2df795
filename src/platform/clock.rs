//! Time as the application sees it: unix seconds. Every domain reads the time through
//! the one `Clock` in the application state, so there is a single place to change it.
//! Tests and operators move it forward with the hidden `--clock-offset SECONDS` flag,
//! which runs the binary as if that much time had passed (expiry, grace periods).

#[derive(Clone, Copy, Default)]
pub struct Clock {
    offset_seconds: i64,
}

impl Clock {
    /// A clock running `offset_seconds` ahead of the system clock (behind if negative).
    pub fn with_offset(offset_seconds: i64) -> Self {
        Self { offset_seconds }
    }

    /// Current time in unix seconds.
    pub fn now(&self) -> i64 {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        system.saturating_add(self.offset_seconds)
    }
}

/// The calendar date `(year, month 1–12, day 1–31)` in UTC of a unix time (the
/// proleptic Gregorian calendar, counted from 1 March so leap days fall last).
pub fn civil_date(unix: i64) -> (i64, u32, u32) {
    let days = unix.div_euclid(86_400) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The date as people write it, "24 November 2026" (UTC).
pub fn long_date(unix: i64) -> String {
    let (year, month, day) = civil_date(unix);
    format!("{day} {} {year}", MONTHS[month as usize - 1])
}

/// The date `YYYY-MM-DD` (UTC) of a unix time.
pub fn iso_date(unix: i64) -> String {
    let (year, month, day) = civil_date(unix);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_date(0), (1970, 1, 1));
        assert_eq!(super::civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(super::civil_date(1_795_506_554), (2026, 11, 24));
        assert_eq!(super::civil_date(-86_400), (1969, 12, 31));
    }

    #[test]
    fn an_offset_moves_the_time() {
        let base = Clock::default().now();
        let later = Clock::with_offset(86_400).now();
        assert!((86_400..86_410).contains(&(later - base)));
    }
}
