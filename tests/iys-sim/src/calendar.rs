//! Turkish business days, for H467 ("Üç iş günü öncesinde alınan izinler kaydedilemez": a
//! consent may be registered until the same clock time on the third business day after the
//! day it was collected).
//!
//! Not business days: Saturdays, Sundays and Turkey's official public holidays (Law 2429):
//! 1 January, 23 April, 1 May, 19 May, 15 July, 30 August, 29 October, the three days of
//! Ramazan Bayramı and the four days of Kurban Bayramı. Half days are business days: the
//! afternoon of 28 October and the eves (arife) of both Bayrams are worked in the morning.
//!
//! The Bayram dates follow the Hijri calendar and are written out for 2024–2036 below (the
//! simulator's own list, written independently of the extension). Outside those years only
//! weekends and the fixed-date holidays are known, which makes the window shorter, never
//! longer: the simulator stays at least as strict as IYS there.

use crate::clock::{civil_from_days, days_from_civil};

/// Kind of a day in the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Day {
    /// A working day (including half days).
    Business,
    /// Saturday or Sunday.
    Weekend,
    /// A public holiday on a weekday.
    Holiday,
}

/// First day (year, month, day) of Ramazan Bayramı (3 days; its eve is a half day).
/// Ordered by Hijri year; 2033 has two (1 Şevval 1454 and 1455).
pub const RAMAZAN_BAYRAMI: [(i64, u32, u32); 14] = [
    (2024, 4, 10),
    (2025, 3, 30),
    (2026, 3, 20),
    (2027, 3, 9),
    (2028, 2, 26),
    (2029, 2, 14),
    (2030, 2, 4),
    (2031, 1, 24),
    (2032, 1, 14),
    (2033, 1, 2),
    (2033, 12, 23),
    (2034, 12, 12),
    (2035, 12, 1),
    (2036, 11, 19),
];

/// First day (year, month, day) of Kurban Bayramı (4 days; its eve is a half day).
/// 2036: 8 February by Diyanet's rule (the Umm al-Qura table says 7 February); pg_iys itself
/// lists only 8–10 February 2036, so it stays at least as strict as this list either way.
pub const KURBAN_BAYRAMI: [(i64, u32, u32); 13] = [
    (2024, 6, 16),
    (2025, 6, 6),
    (2026, 5, 27),
    (2027, 5, 16),
    (2028, 5, 5),
    (2029, 4, 24),
    (2030, 4, 13),
    (2031, 4, 2),
    (2032, 3, 22),
    (2033, 3, 11),
    (2034, 3, 1),
    (2035, 2, 18),
    (2036, 2, 8),
];

/// Fixed-date national holidays (month, day), full days.
pub const FIXED_HOLIDAYS: [(u32, u32); 7] = [(1, 1), (4, 23), (5, 1), (5, 19), (7, 15), (8, 30), (10, 29)];

/// Days since 1970-01-01 (see [`days_from_civil`]) that fall in a Bayram.
fn in_bayram(day: i64) -> bool {
    let spans = RAMAZAN_BAYRAMI.iter().map(|&(y, m, d)| (y, m, d, 3)).chain(KURBAN_BAYRAMI.iter().map(|&(y, m, d)| (y, m, d, 4)));
    for (y, m, d, len) in spans {
        let first = days_from_civil(y, m, d);
        if (first..first + len).contains(&day) {
            return true;
        }
    }
    false
}

/// 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> u32 {
    (day + 4).rem_euclid(7) as u32
}

/// What kind of day `day` (days since 1970-01-01) is in Turkey.
pub fn day_kind(day: i64) -> Day {
    let wd = weekday(day);
    if wd == 0 || wd == 6 {
        return Day::Weekend;
    }
    let (_, m, d) = civil_from_days(day);
    if FIXED_HOLIDAYS.contains(&(m, d)) || in_bayram(day) {
        return Day::Holiday;
    }
    Day::Business
}

pub fn is_business_day(day: i64) -> bool {
    day_kind(day) == Day::Business
}

/// The last Turkey-local second (seconds since 1970-01-01 00:00:00 local) at which a consent
/// collected at `collected_local` is still accepted: the same clock time on the third business
/// day after the collection date. Later than that, IYS answers H467.
pub fn h467_deadline(collected_local: i64) -> i64 {
    let mut day = collected_local.div_euclid(86_400);
    let time_of_day = collected_local.rem_euclid(86_400);
    let mut counted = 0;
    while counted < 3 {
        day += 1;
        if is_business_day(day) {
            counted += 1;
        }
    }
    day * 86_400 + time_of_day
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{format_local, parse_local};

    fn deadline(s: &str) -> String {
        format_local(h467_deadline(parse_local(s).unwrap()))
    }

    fn kind(y: i64, m: u32, d: u32) -> Day {
        day_kind(days_from_civil(y, m, d))
    }

    #[test]
    fn weekends_are_skipped() {
        assert_eq!(deadline("2024-03-01 15:00:00"), "2024-03-06 15:00:00"); // Fri → Wed
        assert_eq!(deadline("2024-03-04 09:30:00"), "2024-03-07 09:30:00"); // Mon → Thu
        assert_eq!(deadline("2024-03-07 23:59:59"), "2024-03-12 23:59:59"); // Thu → Tue
        assert_eq!(deadline("2024-03-02 08:00:00"), "2024-03-06 08:00:00"); // Sat → Wed
    }

    #[test]
    fn bayrams_and_their_eves() {
        // Kurban Bayramı 2025: eve Thu 5 June (half day, counted), 6–9 June off.
        assert_eq!(kind(2025, 6, 5), Day::Business);
        assert_eq!(kind(2025, 6, 6), Day::Holiday);
        assert_eq!(kind(2025, 6, 9), Day::Holiday);
        assert_eq!(deadline("2025-06-05 10:00:00"), "2025-06-12 10:00:00");
        assert_eq!(deadline("2025-06-04 10:00:00"), "2025-06-11 10:00:00"); // 5 June counts
        // Ramazan Bayramı 2024: eve Tue 9 April, 10–12 April off.
        assert_eq!(deadline("2024-04-08 12:00:00"), "2024-04-16 12:00:00");
        assert_eq!(kind(2024, 4, 9), Day::Business);
        // Kurban Bayramı 2029 starts the day after 23 April: 23–27 April off.
        assert_eq!(kind(2029, 4, 23), Day::Holiday);
        assert_eq!(deadline("2029-04-20 10:00:00"), "2029-05-03 10:00:00"); // 1 May off too
    }

    #[test]
    fn fixed_holidays_and_the_28_october_half_day() {
        assert_eq!(kind(2024, 10, 28), Day::Business);
        assert_eq!(kind(2024, 10, 29), Day::Holiday);
        assert_eq!(deadline("2024-10-25 10:00:00"), "2024-10-31 10:00:00"); // Fri; Mon 28 counts, Tue 29 off
        assert_eq!(deadline("2024-12-30 10:00:00"), "2025-01-03 10:00:00"); // 1 January off
        assert_eq!(kind(2031, 1, 1), Day::Holiday, "fixed dates hold in any year");
        // Two Ramazan Bayramı in 2033; the January one starts the day after Yılbaşı.
        assert_eq!(kind(2033, 1, 3), Day::Holiday);
        assert_eq!(kind(2033, 12, 23), Day::Holiday);
        assert_eq!(deadline("2032-12-31 10:00:00"), "2033-01-07 10:00:00"); // Fri; 3–4 Jan off
    }

    #[test]
    fn every_listed_bayram_day_is_off_and_every_eve_worked() {
        for (list, len) in [(&RAMAZAN_BAYRAMI[..], 3), (&KURBAN_BAYRAMI[..], 4)] {
            for &(y, m, d) in list.iter() {
                let first = days_from_civil(y, m, d);
                for day in first..first + len {
                    assert_ne!(day_kind(day), Day::Business, "{y}-{m}-{d} +{}", day - first);
                }
                let eve = first - 1;
                let (_, em, ed) = civil_from_days(eve);
                let eve_is_fixed_holiday = FIXED_HOLIDAYS.contains(&(em, ed));
                assert!(day_kind(eve) != Day::Holiday || eve_is_fixed_holiday, "eve of {y}-{m}-{d}");
            }
        }
    }
}
