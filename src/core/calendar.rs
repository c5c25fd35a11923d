//! Business days and IYS's reporting window (H467).
//!
//! # The rule
//!
//! IYS refuses consents "collected more than three business days ago" (H467, *Üç iş günü
//! öncesinde alınan izinler kaydedilemez*). IYS does not publish how it counts, so we use the
//! reading of Turkish administrative practice, where the day of the event is not counted:
//!
//! > A consent collected at `T` may be reported until the same clock time on the **third
//! > business day after `T`'s day**. Step forward one calendar day at a time from `T`'s date,
//! > skip every day that is not a business day, stop at the third business day, keep `T`'s
//! > time of day. The deadline itself is still in time; one second later is too old.
//!
//! * Mon 10:00 → Thu 10:00. Fri 15:00 → Wed 15:00 (Saturday and Sunday are skipped).
//! * Collected on a weekend or holiday: the collection day is still day 0, so Sat 11:00 →
//!   Wed 11:00. (Starting the count at the next business morning would give Thu 00:00; we take
//!   the earlier deadline, which can only make us stricter than IYS, never laxer.)
//! * Holidays are skipped like weekends: Kurban Bayramı 2025 ran Fri 6 – Mon 9 June, so a
//!   consent from Thu 2025-06-05 10:00 may be sent until Thu 2025-06-12 10:00.
//! * The deadline is never earlier than `T` + 3 calendar days, which gives a cheap fast path.
//!
//! Business days are Monday to Friday minus the calendar's holidays. Half days (the afternoons
//! of 28 October and of the bayram eves, *arife*) are working mornings and count as business
//! days by default: counting them can only make our deadline earlier than IYS's, never later,
//! so a consent we let through is never refused by IYS for this reason. A DBA who knows better
//! can switch that with [`Calendar::set_half_days_are_business_days`].
//!
//! # The holiday list
//!
//! [`turkey_holidays`] lists Turkey's public holidays (Law 2429) for 2024–2036: the seven fixed
//! national days and the religious ones — Ramazan Bayramı (3 days) and Kurban Bayramı
//! (4 days) — at the dates of the Presidency of Religious Affairs' (Diyanet) calculated Hijri
//! calendar, which Turkey uses instead of moon sighting and publishes years ahead. Where two
//! holidays fall on one date (19 May 2027) there is one row naming both. Where the sources
//! disagree by a day, only the days that are holidays under every reading are listed: Kurban
//! Bayramı 2036 starts on 8 February by Diyanet's rule but on 7 February by the Umm al-Qura
//! table, so 8–10 February are listed, 7 February is a half day (arife or first day, an
//! afternoon off either way) and 11 February is left out. Beyond 2036 only weekends are known
//! ([`Calendar::last_listed_day`] tells the SQL layer when to warn).
//! Government decrees sometimes add bridge days (*idari izin*) for civil servants; those are
//! not public holidays and are not listed — a DBA may add them to the table.
//!
//! Refreshing the list (every few years, to keep five or more years ahead): take 1 Şevval
//! (Ramazan Bayramı) and 10 Zilhicce (Kurban Bayramı) from Diyanet's yearly "Dini Günler" pages
//! (the arife is the day before), replace any date listed under the every-reading rule above
//! once Diyanet publishes its year, add the rows here and to the simulator's own list
//! (`tests/iys-sim/src/calendar.rs`), and ship them with the next upgrade script, which adds
//! the new built-in rows to `iys.holiday` (`INSERT … FROM iys.builtin_holidays() ON CONFLICT DO
//! NOTHING`). Until then a DBA can add the days to `iys.holiday` by hand.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

/// Business days IYS allows between collecting a consent and reporting it.
pub const REPORTING_WINDOW_BUSINESS_DAYS: u32 = 3;

/// Longest run of consecutive days we scan for business days; a calendar with more
/// non-business days in a row than this is broken, and the window falls back to calendar days.
const MAX_SCAN_DAYS: u32 = 3 * 366;

/// Which days are business days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
    half_days: BTreeSet<NaiveDate>,
    half_days_are_business_days: bool,
}

impl Default for Calendar {
    fn default() -> Calendar {
        Calendar::weekends_only()
    }
}

impl Calendar {
    /// Saturdays and Sundays are the only non-business days.
    pub fn weekends_only() -> Calendar {
        Calendar {
            holidays: BTreeSet::new(),
            half_days: BTreeSet::new(),
            half_days_are_business_days: true,
        }
    }

    /// Turkey's public holidays and half days for 2024–2036 ([`turkey_holidays`],
    /// [`turkey_half_days`]).
    pub fn turkey_default() -> Calendar {
        Calendar::from_dates(
            turkey_holidays().into_iter().map(|(date, _)| date),
            turkey_half_days().into_iter().map(|(date, _)| date),
        )
    }

    /// A calendar from explicit lists, e.g. the DBA-edited holiday table.
    pub fn from_dates(
        holidays: impl IntoIterator<Item = NaiveDate>,
        half_days: impl IntoIterator<Item = NaiveDate>,
    ) -> Calendar {
        Calendar {
            holidays: holidays.into_iter().collect(),
            half_days: half_days.into_iter().collect(),
            half_days_are_business_days: true,
        }
    }

    /// Adds a full-day holiday; false if it was already there.
    pub fn add_holiday(&mut self, date: NaiveDate) -> bool {
        self.holidays.insert(date)
    }

    /// Removes a full-day holiday; false if it was not there.
    pub fn remove_holiday(&mut self, date: NaiveDate) -> bool {
        self.holidays.remove(&date)
    }

    /// Adds a half day (afternoon off); false if it was already there.
    pub fn add_half_day(&mut self, date: NaiveDate) -> bool {
        self.half_days.insert(date)
    }

    /// Whether half days count as business days (default: yes, see the module documentation).
    pub fn set_half_days_are_business_days(&mut self, yes: bool) {
        self.half_days_are_business_days = yes;
    }

    pub fn is_weekend(&self, date: NaiveDate) -> bool {
        matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    pub fn is_half_day(&self, date: NaiveDate) -> bool {
        self.half_days.contains(&date)
    }

    /// Monday to Friday, not a holiday, and not a half day unless half days count.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        !self.is_weekend(date)
            && !self.is_holiday(date)
            && (self.half_days_are_business_days || !self.is_half_day(date))
    }

    /// The `n`-th business day after `date` (`date` itself not counted). None when the
    /// calendar has no such day within three years or the date range of chrono ends.
    pub fn add_business_days(&self, date: NaiveDate, n: u32) -> Option<NaiveDate> {
        let mut day = date;
        let mut counted = 0;
        let mut scanned = 0;
        while counted < n {
            day = day.succ_opt()?;
            scanned += 1;
            if scanned > MAX_SCAN_DAYS + n {
                return None;
            }
            if self.is_business_day(day) {
                counted += 1;
            }
        }
        Some(day)
    }

    /// Full-day holidays in date order.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    /// Half days in date order.
    pub fn half_days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.half_days.iter().copied()
    }

    /// The last day the calendar lists (holiday or half day): after it, only weekends are
    /// known, so deadlines may be too early around unlisted holidays.
    pub fn last_listed_day(&self) -> Option<NaiveDate> {
        let last_holiday = self.holidays.iter().next_back();
        let last_half_day = self.half_days.iter().next_back();
        last_holiday.max(last_half_day).copied()
    }
}

/// The last moment a consent collected at `collected_at` (Turkey time) can still be reported
/// to IYS (see the module documentation for the rule). Saturates at chrono's maximum date.
pub fn reporting_deadline(collected_at: NaiveDateTime, cal: &Calendar) -> NaiveDateTime {
    match cal.add_business_days(collected_at.date(), REPORTING_WINDOW_BUSINESS_DAYS) {
        Some(day) => day.and_time(collected_at.time()),
        None if collected_at.date().succ_opt().is_none() => NaiveDateTime::MAX,
        // Broken calendar (years without a business day) or end of chrono's range: plain days.
        None => collected_at
            .checked_add_signed(Duration::days(i64::from(REPORTING_WINDOW_BUSINESS_DAYS)))
            .unwrap_or(NaiveDateTime::MAX),
    }
}

/// True when IYS would refuse a consent collected at `collected_at` if it were sent at `now`
/// (both Turkey time): `now` is past [`reporting_deadline`].
pub fn is_past_reporting_window(
    collected_at: NaiveDateTime,
    now: NaiveDateTime,
    cal: &Calendar,
) -> bool {
    // The deadline is at least 3 calendar days away; most rows are decided without the calendar.
    let surely_in_time = collected_at
        .checked_add_signed(Duration::days(i64::from(REPORTING_WINDOW_BUSINESS_DAYS)))
        .is_none_or(|earliest_deadline| now <= earliest_deadline);
    !surely_in_time && now > reporting_deadline(collected_at, cal)
}

/// Turkey's full-day public holidays 2024–2036, in date order, with their Turkish names.
/// The SQL layer seeds its DBA-editable holiday table from this list.
pub fn turkey_holidays() -> Vec<(NaiveDate, &'static str)> {
    to_dates(TURKEY_HOLIDAYS)
}

/// Turkey's half days (*yarım gün*: afternoon off from 13:00) 2024–2036: 28 October and the eves (arife)
/// of the two bayrams. An eve that is itself a full holiday (23 April 2029, 1 January 2033) is
/// not listed.
pub fn turkey_half_days() -> Vec<(NaiveDate, &'static str)> {
    to_dates(TURKEY_HALF_DAYS)
}

fn to_dates(rows: &[(i32, u32, u32, &'static str)]) -> Vec<(NaiveDate, &'static str)> {
    rows.iter()
        .filter_map(|&(y, m, d, name)| NaiveDate::from_ymd_opt(y, m, d).map(|date| (date, name)))
        .collect()
}

// Generated from the bayram start dates below (see the tests) and checked by them; the
// weekday comments are there for human review.
const TURKEY_HOLIDAYS: &[(i32, u32, u32, &str)] = &[
    // 2024
    (2024, 1, 1, "Yılbaşı"),                                  // Mon
    (2024, 4, 10, "Ramazan Bayramı 1. gün"),                  // Wed
    (2024, 4, 11, "Ramazan Bayramı 2. gün"),                  // Thu
    (2024, 4, 12, "Ramazan Bayramı 3. gün"),                  // Fri
    (2024, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Tue
    (2024, 5, 1, "Emek ve Dayanışma Günü"),                   // Wed
    (2024, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Sun
    (2024, 6, 16, "Kurban Bayramı 1. gün"),                   // Sun
    (2024, 6, 17, "Kurban Bayramı 2. gün"),                   // Mon
    (2024, 6, 18, "Kurban Bayramı 3. gün"),                   // Tue
    (2024, 6, 19, "Kurban Bayramı 4. gün"),                   // Wed
    (2024, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Mon
    (2024, 8, 30, "Zafer Bayramı"),                           // Fri
    (2024, 10, 29, "Cumhuriyet Bayramı"),                     // Tue
    // 2025
    (2025, 1, 1, "Yılbaşı"),                                  // Wed
    (2025, 3, 30, "Ramazan Bayramı 1. gün"),                  // Sun
    (2025, 3, 31, "Ramazan Bayramı 2. gün"),                  // Mon
    (2025, 4, 1, "Ramazan Bayramı 3. gün"),                   // Tue
    (2025, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Wed
    (2025, 5, 1, "Emek ve Dayanışma Günü"),                   // Thu
    (2025, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Mon
    (2025, 6, 6, "Kurban Bayramı 1. gün"),                    // Fri
    (2025, 6, 7, "Kurban Bayramı 2. gün"),                    // Sat
    (2025, 6, 8, "Kurban Bayramı 3. gün"),                    // Sun
    (2025, 6, 9, "Kurban Bayramı 4. gün"),                    // Mon
    (2025, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Tue
    (2025, 8, 30, "Zafer Bayramı"),                           // Sat
    (2025, 10, 29, "Cumhuriyet Bayramı"),                     // Wed
    // 2026
    (2026, 1, 1, "Yılbaşı"),                                  // Thu
    (2026, 3, 20, "Ramazan Bayramı 1. gün"),                  // Fri
    (2026, 3, 21, "Ramazan Bayramı 2. gün"),                  // Sat
    (2026, 3, 22, "Ramazan Bayramı 3. gün"),                  // Sun
    (2026, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Thu
    (2026, 5, 1, "Emek ve Dayanışma Günü"),                   // Fri
    (2026, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Tue
    (2026, 5, 27, "Kurban Bayramı 1. gün"),                   // Wed
    (2026, 5, 28, "Kurban Bayramı 2. gün"),                   // Thu
    (2026, 5, 29, "Kurban Bayramı 3. gün"),                   // Fri
    (2026, 5, 30, "Kurban Bayramı 4. gün"),                   // Sat
    (2026, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Wed
    (2026, 8, 30, "Zafer Bayramı"),                           // Sun
    (2026, 10, 29, "Cumhuriyet Bayramı"),                     // Thu
    // 2027
    (2027, 1, 1, "Yılbaşı"),                            // Fri
    (2027, 3, 9, "Ramazan Bayramı 1. gün"),             // Tue
    (2027, 3, 10, "Ramazan Bayramı 2. gün"),            // Wed
    (2027, 3, 11, "Ramazan Bayramı 3. gün"),            // Thu
    (2027, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"), // Fri
    (2027, 5, 1, "Emek ve Dayanışma Günü"),             // Sat
    (2027, 5, 16, "Kurban Bayramı 1. gün"),             // Sun
    (2027, 5, 17, "Kurban Bayramı 2. gün"),             // Mon
    (2027, 5, 18, "Kurban Bayramı 3. gün"),             // Tue
    (
        2027,
        5,
        19,
        "Kurban Bayramı 4. gün; Atatürk'ü Anma, Gençlik ve Spor Bayramı",
    ), // Wed
    (2027, 7, 15, "Demokrasi ve Millî Birlik Günü"),    // Thu
    (2027, 8, 30, "Zafer Bayramı"),                     // Mon
    (2027, 10, 29, "Cumhuriyet Bayramı"),               // Fri
    // 2028
    (2028, 1, 1, "Yılbaşı"),                                  // Sat
    (2028, 2, 26, "Ramazan Bayramı 1. gün"),                  // Sat
    (2028, 2, 27, "Ramazan Bayramı 2. gün"),                  // Sun
    (2028, 2, 28, "Ramazan Bayramı 3. gün"),                  // Mon
    (2028, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Sun
    (2028, 5, 1, "Emek ve Dayanışma Günü"),                   // Mon
    (2028, 5, 5, "Kurban Bayramı 1. gün"),                    // Fri
    (2028, 5, 6, "Kurban Bayramı 2. gün"),                    // Sat
    (2028, 5, 7, "Kurban Bayramı 3. gün"),                    // Sun
    (2028, 5, 8, "Kurban Bayramı 4. gün"),                    // Mon
    (2028, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Fri
    (2028, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Sat
    (2028, 8, 30, "Zafer Bayramı"),                           // Wed
    (2028, 10, 29, "Cumhuriyet Bayramı"),                     // Sun
    // 2029
    (2029, 1, 1, "Yılbaşı"),                                  // Mon
    (2029, 2, 14, "Ramazan Bayramı 1. gün"),                  // Wed
    (2029, 2, 15, "Ramazan Bayramı 2. gün"),                  // Thu
    (2029, 2, 16, "Ramazan Bayramı 3. gün"),                  // Fri
    (2029, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Mon
    (2029, 4, 24, "Kurban Bayramı 1. gün"),                   // Tue
    (2029, 4, 25, "Kurban Bayramı 2. gün"),                   // Wed
    (2029, 4, 26, "Kurban Bayramı 3. gün"),                   // Thu
    (2029, 4, 27, "Kurban Bayramı 4. gün"),                   // Fri
    (2029, 5, 1, "Emek ve Dayanışma Günü"),                   // Tue
    (2029, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Sat
    (2029, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Sun
    (2029, 8, 30, "Zafer Bayramı"),                           // Thu
    (2029, 10, 29, "Cumhuriyet Bayramı"),                     // Mon
    // 2030
    (2030, 1, 1, "Yılbaşı"),                                  // Tue
    (2030, 2, 4, "Ramazan Bayramı 1. gün"),                   // Mon
    (2030, 2, 5, "Ramazan Bayramı 2. gün"),                   // Tue
    (2030, 2, 6, "Ramazan Bayramı 3. gün"),                   // Wed
    (2030, 4, 13, "Kurban Bayramı 1. gün"),                   // Sat
    (2030, 4, 14, "Kurban Bayramı 2. gün"),                   // Sun
    (2030, 4, 15, "Kurban Bayramı 3. gün"),                   // Mon
    (2030, 4, 16, "Kurban Bayramı 4. gün"),                   // Tue
    (2030, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Tue
    (2030, 5, 1, "Emek ve Dayanışma Günü"),                   // Wed
    (2030, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Sun
    (2030, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Mon
    (2030, 8, 30, "Zafer Bayramı"),                           // Fri
    (2030, 10, 29, "Cumhuriyet Bayramı"),                     // Tue
    // 2031
    (2031, 1, 1, "Yılbaşı"),                                  // Wed
    (2031, 1, 24, "Ramazan Bayramı 1. gün"),                  // Fri
    (2031, 1, 25, "Ramazan Bayramı 2. gün"),                  // Sat
    (2031, 1, 26, "Ramazan Bayramı 3. gün"),                  // Sun
    (2031, 4, 2, "Kurban Bayramı 1. gün"),                    // Wed
    (2031, 4, 3, "Kurban Bayramı 2. gün"),                    // Thu
    (2031, 4, 4, "Kurban Bayramı 3. gün"),                    // Fri
    (2031, 4, 5, "Kurban Bayramı 4. gün"),                    // Sat
    (2031, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Wed
    (2031, 5, 1, "Emek ve Dayanışma Günü"),                   // Thu
    (2031, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Mon
    (2031, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Tue
    (2031, 8, 30, "Zafer Bayramı"),                           // Sat
    (2031, 10, 29, "Cumhuriyet Bayramı"),                     // Wed
    // 2032
    (2032, 1, 1, "Yılbaşı"),                                  // Thu
    (2032, 1, 14, "Ramazan Bayramı 1. gün"),                  // Wed
    (2032, 1, 15, "Ramazan Bayramı 2. gün"),                  // Thu
    (2032, 1, 16, "Ramazan Bayramı 3. gün"),                  // Fri
    (2032, 3, 22, "Kurban Bayramı 1. gün"),                   // Mon
    (2032, 3, 23, "Kurban Bayramı 2. gün"),                   // Tue
    (2032, 3, 24, "Kurban Bayramı 3. gün"),                   // Wed
    (2032, 3, 25, "Kurban Bayramı 4. gün"),                   // Thu
    (2032, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Fri
    (2032, 5, 1, "Emek ve Dayanışma Günü"),                   // Sat
    (2032, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Wed
    (2032, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Thu
    (2032, 8, 30, "Zafer Bayramı"),                           // Mon
    (2032, 10, 29, "Cumhuriyet Bayramı"),                     // Fri
    // 2033
    (2033, 1, 1, "Yılbaşı"),                                  // Sat
    (2033, 1, 2, "Ramazan Bayramı 1. gün"),                   // Sun
    (2033, 1, 3, "Ramazan Bayramı 2. gün"),                   // Mon
    (2033, 1, 4, "Ramazan Bayramı 3. gün"),                   // Tue
    (2033, 3, 11, "Kurban Bayramı 1. gün"),                   // Fri
    (2033, 3, 12, "Kurban Bayramı 2. gün"),                   // Sat
    (2033, 3, 13, "Kurban Bayramı 3. gün"),                   // Sun
    (2033, 3, 14, "Kurban Bayramı 4. gün"),                   // Mon
    (2033, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Sat
    (2033, 5, 1, "Emek ve Dayanışma Günü"),                   // Sun
    (2033, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Thu
    (2033, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Fri
    (2033, 8, 30, "Zafer Bayramı"),                           // Tue
    (2033, 10, 29, "Cumhuriyet Bayramı"),                     // Sat
    (2033, 12, 23, "Ramazan Bayramı 1. gün"),                 // Fri
    (2033, 12, 24, "Ramazan Bayramı 2. gün"),                 // Sat
    (2033, 12, 25, "Ramazan Bayramı 3. gün"),                 // Sun
    // 2034
    (2034, 1, 1, "Yılbaşı"),                                  // Sun
    (2034, 3, 1, "Kurban Bayramı 1. gün"),                    // Wed
    (2034, 3, 2, "Kurban Bayramı 2. gün"),                    // Thu
    (2034, 3, 3, "Kurban Bayramı 3. gün"),                    // Fri
    (2034, 3, 4, "Kurban Bayramı 4. gün"),                    // Sat
    (2034, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Sun
    (2034, 5, 1, "Emek ve Dayanışma Günü"),                   // Mon
    (2034, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Fri
    (2034, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Sat
    (2034, 8, 30, "Zafer Bayramı"),                           // Wed
    (2034, 10, 29, "Cumhuriyet Bayramı"),                     // Sun
    (2034, 12, 12, "Ramazan Bayramı 1. gün"),                 // Tue
    (2034, 12, 13, "Ramazan Bayramı 2. gün"),                 // Wed
    (2034, 12, 14, "Ramazan Bayramı 3. gün"),                 // Thu
    // 2035
    (2035, 1, 1, "Yılbaşı"),                                  // Mon
    (2035, 2, 18, "Kurban Bayramı 1. gün"),                   // Sun
    (2035, 2, 19, "Kurban Bayramı 2. gün"),                   // Mon
    (2035, 2, 20, "Kurban Bayramı 3. gün"),                   // Tue
    (2035, 2, 21, "Kurban Bayramı 4. gün"),                   // Wed
    (2035, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"),       // Mon
    (2035, 5, 1, "Emek ve Dayanışma Günü"),                   // Tue
    (2035, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Sat
    (2035, 7, 15, "Demokrasi ve Millî Birlik Günü"),          // Sun
    (2035, 8, 30, "Zafer Bayramı"),                           // Thu
    (2035, 10, 29, "Cumhuriyet Bayramı"),                     // Mon
    (2035, 12, 1, "Ramazan Bayramı 1. gün"),                  // Sat
    (2035, 12, 2, "Ramazan Bayramı 2. gün"),                  // Sun
    (2035, 12, 3, "Ramazan Bayramı 3. gün"),                  // Mon
    // 2036
    (2036, 1, 1, "Yılbaşı"),                // Tue
    (2036, 2, 8, "Kurban Bayramı 1. gün"),  // Fri
    (2036, 2, 9, "Kurban Bayramı 2. gün"),  // Sat
    (2036, 2, 10, "Kurban Bayramı 3. gün"), // Sun
    // 2036-02-11 (Mon) not listed: Kurban Bayramı 4. gün by Diyanet's rule, a working
    // day if the bayram starts on 2036-02-07 (Umm al-Qura); uncertain days are left out
    (2036, 4, 23, "Ulusal Egemenlik ve Çocuk Bayramı"), // Wed
    (2036, 5, 1, "Emek ve Dayanışma Günü"),             // Thu
    (2036, 5, 19, "Atatürk'ü Anma, Gençlik ve Spor Bayramı"), // Mon
    (2036, 7, 15, "Demokrasi ve Millî Birlik Günü"),    // Tue
    (2036, 8, 30, "Zafer Bayramı"),                     // Sat
    (2036, 10, 29, "Cumhuriyet Bayramı"),               // Wed
    (2036, 11, 19, "Ramazan Bayramı 1. gün"),           // Wed
    (2036, 11, 20, "Ramazan Bayramı 2. gün"),           // Thu
    (2036, 11, 21, "Ramazan Bayramı 3. gün"),           // Fri
];

const TURKEY_HALF_DAYS: &[(i32, u32, u32, &str)] = &[
    (2024, 4, 9, "Ramazan Bayramı arifesi (yarım gün)"), // Tue
    (2024, 6, 15, "Kurban Bayramı arifesi (yarım gün)"), // Sat
    (2024, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Mon
    (2025, 3, 29, "Ramazan Bayramı arifesi (yarım gün)"), // Sat
    (2025, 6, 5, "Kurban Bayramı arifesi (yarım gün)"),  // Thu
    (2025, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Tue
    (2026, 3, 19, "Ramazan Bayramı arifesi (yarım gün)"), // Thu
    (2026, 5, 26, "Kurban Bayramı arifesi (yarım gün)"), // Tue
    (2026, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Wed
    (2027, 3, 8, "Ramazan Bayramı arifesi (yarım gün)"), // Mon
    (2027, 5, 15, "Kurban Bayramı arifesi (yarım gün)"), // Sat
    (2027, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Thu
    (2028, 2, 25, "Ramazan Bayramı arifesi (yarım gün)"), // Fri
    (2028, 5, 4, "Kurban Bayramı arifesi (yarım gün)"),  // Thu
    (2028, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Sat
    (2029, 2, 13, "Ramazan Bayramı arifesi (yarım gün)"), // Tue
    // 2029-04-23 arife is a full holiday (Ulusal Egemenlik ve Çocuk Bayramı)
    (2029, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Sun
    (2030, 2, 3, "Ramazan Bayramı arifesi (yarım gün)"),      // Sun
    (2030, 4, 12, "Kurban Bayramı arifesi (yarım gün)"),      // Fri
    (2030, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Mon
    (2031, 1, 23, "Ramazan Bayramı arifesi (yarım gün)"),     // Thu
    (2031, 4, 1, "Kurban Bayramı arifesi (yarım gün)"),       // Tue
    (2031, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Tue
    (2032, 1, 13, "Ramazan Bayramı arifesi (yarım gün)"),     // Tue
    (2032, 3, 21, "Kurban Bayramı arifesi (yarım gün)"),      // Sun
    (2032, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Thu
    // 2033-01-01 arife is a full holiday (Yılbaşı)
    (2033, 3, 10, "Kurban Bayramı arifesi (yarım gün)"), // Thu
    (2033, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Fri
    (2033, 12, 22, "Ramazan Bayramı arifesi (yarım gün)"), // Thu
    (2034, 2, 28, "Kurban Bayramı arifesi (yarım gün)"), // Tue
    (2034, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Sat
    (2034, 12, 11, "Ramazan Bayramı arifesi (yarım gün)"), // Mon
    (2035, 2, 17, "Kurban Bayramı arifesi (yarım gün)"), // Sat
    (2035, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Sun
    (2035, 11, 30, "Ramazan Bayramı arifesi (yarım gün)"), // Fri
    // 2036-02-07: arife by Diyanet's rule, Kurban Bayramı 1. gün by Umm al-Qura:
    // an afternoon off either way
    (2036, 2, 7, "Kurban Bayramı arifesi (yarım gün)"), // Thu
    (2036, 10, 28, "Cumhuriyet Bayramı arifesi (yarım gün)"), // Tue
    (2036, 11, 18, "Ramazan Bayramı arifesi (yarım gün)"), // Tue
];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        day(y, m, d).and_hms_opt(h, mi, 0).unwrap()
    }

    /// Independent check data: first days of the bayrams (Diyanet), in Hijri-year order, so
    /// `zip` pairs the Ramazan and Kurban Bayramı of one Hijri year (2033 has two Ramazan
    /// Bayramı; the Kurban Bayramı of 1458 falls in 2037).
    const RAMAZAN_FIRST_DAYS: [(i32, u32, u32); 14] = [
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
    const KURBAN_FIRST_DAYS: [(i32, u32, u32); 13] = [
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

    #[test]
    fn weekends_are_not_business_days() {
        let cal = Calendar::weekends_only();
        assert!(cal.is_business_day(day(2024, 3, 1))); // Friday
        assert!(!cal.is_business_day(day(2024, 3, 2))); // Saturday
        assert!(!cal.is_business_day(day(2024, 3, 3))); // Sunday
        assert!(cal.is_business_day(day(2024, 3, 4))); // Monday
        assert!(cal.is_weekend(day(2024, 3, 2)));
        assert_eq!(Calendar::default(), cal);
    }

    #[test]
    fn holidays_and_half_days() {
        let cal = Calendar::turkey_default();
        assert!(!cal.is_business_day(day(2024, 4, 23)));
        assert!(cal.is_holiday(day(2025, 6, 6)));
        assert!(cal.is_half_day(day(2025, 6, 5)));
        assert!(cal.is_business_day(day(2025, 6, 5)));
        let mut strict = cal.clone();
        strict.set_half_days_are_business_days(false);
        assert!(!strict.is_business_day(day(2025, 6, 5)));

        let mut edited = Calendar::weekends_only();
        assert!(edited.add_holiday(day(2024, 3, 4)));
        assert!(!edited.add_holiday(day(2024, 3, 4)));
        assert!(!edited.is_business_day(day(2024, 3, 4)));
        assert!(edited.remove_holiday(day(2024, 3, 4)));
        assert!(edited.is_business_day(day(2024, 3, 4)));
        assert!(edited.add_half_day(day(2024, 3, 5)));
        assert_eq!(edited.half_days().collect::<Vec<_>>(), [day(2024, 3, 5)]);
        assert_eq!(edited.last_listed_day(), Some(day(2024, 3, 5)));
        assert_eq!(Calendar::weekends_only().last_listed_day(), None);
    }

    #[test]
    fn deadline_is_three_business_days_same_clock_time() {
        let cal = Calendar::weekends_only();
        // Monday → Thursday.
        assert_eq!(
            reporting_deadline(at(2024, 3, 4, 10, 0), &cal),
            at(2024, 3, 7, 10, 0)
        );
        // Wednesday → Monday.
        assert_eq!(
            reporting_deadline(at(2024, 3, 6, 8, 15), &cal),
            at(2024, 3, 11, 8, 15)
        );
        // Friday → Wednesday (across the weekend).
        assert_eq!(
            reporting_deadline(at(2024, 3, 1, 15, 0), &cal),
            at(2024, 3, 6, 15, 0)
        );
        // Saturday and Sunday → Wednesday, same clock time.
        assert_eq!(
            reporting_deadline(at(2024, 3, 2, 11, 0), &cal),
            at(2024, 3, 6, 11, 0)
        );
        assert_eq!(
            reporting_deadline(at(2024, 3, 3, 23, 59), &cal),
            at(2024, 3, 6, 23, 59)
        );
        // Seconds and sub-seconds are kept.
        let t = day(2024, 3, 4).and_hms_milli_opt(10, 0, 5, 250).unwrap();
        assert_eq!(reporting_deadline(t, &cal).time(), t.time());
    }

    #[test]
    fn friday_boundary_to_the_second() {
        let cal = Calendar::turkey_default();
        let collected = at(2024, 3, 1, 15, 0);
        let deadline = at(2024, 3, 6, 15, 0);
        assert!(!is_past_reporting_window(collected, deadline, &cal));
        assert!(is_past_reporting_window(
            collected,
            deadline + Duration::seconds(1),
            &cal
        ));
        assert!(!is_past_reporting_window(
            collected,
            at(2024, 3, 4, 15, 0),
            &cal
        ));
        // Earlier than collected (clock skew) is never too old.
        assert!(!is_past_reporting_window(
            collected,
            at(2024, 2, 1, 0, 0),
            &cal
        ));
    }

    #[test]
    fn deadline_skips_bayrams() {
        let cal = Calendar::turkey_default();
        // Kurban Bayramı 2025: Fri 6 – Mon 9 June; the eve (Thu 5 June) is a half day.
        assert_eq!(
            reporting_deadline(at(2025, 6, 5, 10, 0), &cal),
            at(2025, 6, 12, 10, 0)
        );
        // Wednesday before: the eve counts as a business day.
        assert_eq!(
            reporting_deadline(at(2025, 6, 4, 10, 0), &cal),
            at(2025, 6, 11, 10, 0)
        );
        let mut strict = cal.clone();
        strict.set_half_days_are_business_days(false);
        assert_eq!(
            reporting_deadline(at(2025, 6, 4, 10, 0), &strict),
            at(2025, 6, 12, 10, 0)
        );
        // Ramazan Bayramı 2024: Wed 10 – Fri 12 April; collected Monday the 8th.
        assert_eq!(
            reporting_deadline(at(2024, 4, 8, 9, 0), &cal),
            at(2024, 4, 16, 9, 0)
        );
        let deadline = at(2024, 4, 16, 9, 0);
        assert!(!is_past_reporting_window(
            at(2024, 4, 8, 9, 0),
            deadline,
            &cal
        ));
        assert!(is_past_reporting_window(
            at(2024, 4, 8, 9, 0),
            deadline + Duration::seconds(1),
            &cal
        ));
        // With weekends only the same consent would be late on Thursday the 11th.
        assert_eq!(
            reporting_deadline(at(2024, 4, 8, 9, 0), &Calendar::weekends_only()),
            at(2024, 4, 11, 9, 0)
        );
        // Collected on a holiday (Tue 23 April 2024): counting starts the next day.
        assert_eq!(
            reporting_deadline(at(2024, 4, 23, 12, 0), &cal),
            at(2024, 4, 26, 12, 0)
        );
        // New Year: Wed 31 Dec 2025 → Thu 1 Jan is a holiday → Tue 6 Jan.
        assert_eq!(
            reporting_deadline(at(2025, 12, 31, 18, 0), &cal),
            at(2026, 1, 6, 18, 0)
        );
    }

    #[test]
    fn broken_calendars_and_range_ends_do_not_hang_or_panic() {
        let every_day = day(2024, 1, 1).iter_days().take(5 * 366);
        let cal = Calendar::from_dates(every_day, []);
        let t = at(2024, 6, 1, 12, 0);
        assert_eq!(reporting_deadline(t, &cal), t + Duration::days(3));

        let cal = Calendar::turkey_default();
        assert_eq!(
            reporting_deadline(NaiveDateTime::MAX, &cal),
            NaiveDateTime::MAX
        );
        let near_end = NaiveDate::MAX.pred_opt().unwrap().and_time(NaiveTime::MIN);
        assert_eq!(reporting_deadline(near_end, &cal), NaiveDateTime::MAX);
        assert!(!is_past_reporting_window(
            NaiveDateTime::MAX,
            NaiveDateTime::MAX,
            &cal
        ));
        assert!(is_past_reporting_window(
            NaiveDateTime::MIN,
            NaiveDateTime::MAX,
            &cal
        ));
        assert!(!is_past_reporting_window(
            NaiveDateTime::MAX,
            NaiveDateTime::MIN,
            &cal
        ));
        assert_eq!(
            cal.add_business_days(day(2024, 3, 1), 0),
            Some(day(2024, 3, 1))
        );
    }

    #[test]
    fn holiday_list_is_sorted_unique_and_complete() {
        let holidays = turkey_holidays();
        assert_eq!(
            holidays.len(),
            TURKEY_HOLIDAYS.len(),
            "every row is a real date"
        );
        for pair in holidays.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} then {:?}", pair[0], pair[1]);
        }
        let names_on = |d: NaiveDate| {
            holidays
                .iter()
                .find(|(date, _)| *date == d)
                .map(|(_, n)| *n)
        };
        for year in 2024..=2036 {
            for (m, d, name) in [
                (1, 1, "Yılbaşı"),
                (4, 23, "Ulusal Egemenlik"),
                (5, 1, "Emek ve Dayanışma"),
                (5, 19, "Atatürk'ü Anma"),
                (7, 15, "Demokrasi"),
                (8, 30, "Zafer"),
                (10, 29, "Cumhuriyet"),
            ] {
                assert!(
                    names_on(day(year, m, d)).unwrap().contains(name),
                    "{year}-{m}-{d}"
                );
            }
        }
        // 13 years × 7 fixed days, 14 × 3 Ramazan and 13 × 4 Kurban days, less the uncertain
        // 2036-02-11 and one shared date (19 May 2027).
        assert_eq!(holidays.len(), 13 * 7 + 14 * 3 + 13 * 4 - 1 - 1);
        assert!(names_on(day(2027, 5, 19))
            .unwrap()
            .contains("Kurban Bayramı 4. gün"));
        assert!(names_on(day(2027, 5, 19))
            .unwrap()
            .contains("Atatürk'ü Anma"));
    }

    #[test]
    fn bayram_dates_are_consistent() {
        let holidays = turkey_holidays();
        let name_on = |d: NaiveDate| {
            holidays
                .iter()
                .find(|(date, _)| *date == d)
                .map(|(_, n)| *n)
        };
        let half_days = turkey_half_days();
        let is_eve = |d: NaiveDate| half_days.iter().any(|(date, _)| *date == d);
        for ((ry, rm, rd), (ky, km, kd)) in RAMAZAN_FIRST_DAYS.into_iter().zip(KURBAN_FIRST_DAYS) {
            let ramazan = day(ry, rm, rd);
            let kurban = day(ky, km, kd);
            for (i, d) in ramazan.iter_days().take(3).enumerate() {
                assert!(
                    name_on(d)
                        .unwrap()
                        .contains(&format!("Ramazan Bayramı {}. gün", i + 1)),
                    "{d}"
                );
            }
            assert!(name_on(ramazan + Duration::days(3)).is_none_or(|n| !n.contains("Ramazan")));
            // Kurban Bayramı 2036: the 4th day by Diyanet's rule (11 February) is a working day
            // if it starts on 7 February (Umm al-Qura), so it is left out.
            let kurban_days = if kurban == day(2036, 2, 8) { 3 } else { 4 };
            for (i, d) in kurban.iter_days().take(kurban_days).enumerate() {
                assert!(
                    name_on(d)
                        .unwrap()
                        .contains(&format!("Kurban Bayramı {}. gün", i + 1)),
                    "{d}"
                );
            }
            // 1 Şevval → 10 Zilhicce is two lunar months and nine days.
            let gap = (kurban - ramazan).num_days();
            assert!((67..=69).contains(&gap), "{ry}: {gap} days");
            // Eves are half days unless they are full holidays themselves.
            for first in [ramazan, kurban] {
                let eve = first.pred_opt().unwrap();
                assert!(is_eve(eve) != name_on(eve).is_some(), "{eve}");
            }
        }
        // A lunar year is 354 or 355 days.
        for pair in RAMAZAN_FIRST_DAYS
            .windows(2)
            .chain(KURBAN_FIRST_DAYS.windows(2))
        {
            let (a, b) = (
                day(pair[0].0, pair[0].1, pair[0].2),
                day(pair[1].0, pair[1].1, pair[1].2),
            );
            assert!((354..=355).contains(&(b - a).num_days()), "{a} → {b}");
        }
        assert_eq!(
            holidays
                .iter()
                .filter(|(_, n)| n.contains("Ramazan"))
                .count(),
            42
        );
        assert_eq!(
            holidays
                .iter()
                .filter(|(_, n)| n.contains("Kurban"))
                .count(),
            51
        );
    }

    #[test]
    fn half_day_list() {
        let half_days = turkey_half_days();
        // 28 October, 14 Ramazan and 13 Kurban eves, less 23 April 2029 and 1 January 2033.
        assert_eq!(half_days.len(), 13 + 14 + 13 - 2);
        for year in 2024..=2036 {
            assert!(half_days
                .iter()
                .any(|(d, n)| *d == day(year, 10, 28) && n.contains("Cumhuriyet")));
        }
        assert!(!half_days.iter().any(|(d, _)| *d == day(2029, 4, 23)));
        assert!(!half_days.iter().any(|(d, _)| *d == day(2033, 1, 1)));
        assert!(half_days.iter().any(|(d, _)| *d == day(2036, 2, 7)));
        assert!(!Calendar::turkey_default().is_holiday(day(2036, 2, 11)));
        let cal = Calendar::turkey_default();
        assert_eq!(cal.last_listed_day(), Some(day(2036, 11, 21)));
        assert_eq!(cal.holidays().count(), turkey_holidays().len());
    }
}
