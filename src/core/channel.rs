//! D-engage's master_contact update algorithm for one channel (e-mail, SMS or call) of a row:
//! what a BEFORE trigger does with a change, before anything is queued for IYS.
//!
//! - The channel's fields come together: an address without a permission (or the reverse) is
//!   refused; date and source are required except on a TACIR first record.
//! - Addresses are normalised (E.164 phones, lower-case e-mails).
//! - Same address and same permission, with another date or source: nothing changes in those
//!   columns (IYS cannot take an existing consent with another date) and the app is warned.
//! - Same address, permission changed: an update; IYS's date rules apply (newer than the
//!   stored date, within the reporting window, not in the future).
//! - A new or changed address is a new consent. If its permission is RET it is sent all the
//!   same: IYS may hold an ONAY pg_iys never saw (given before pg_iys, or through another
//!   channel), and an opt-out is never dropped. If IYS holds nothing it answers H175, which
//!   settles the change as "not in IYS", not as an error.
//! - A source IYS set (`IYS_*`, written by a pull) is IYS's, not the app's: when the app changes
//!   the permission and leaves such a source as it was, the change is sent with
//!   [`SOURCE_FOR_INHERITED`] (IYS takes no `IYS_*` source from us), never refused for it.

use chrono::NaiveDateTime;

use super::calendar::Calendar;
use super::model::{ConsentStatus, ConsentType, RecipientType};
use super::problem::Problem;
use super::rules::{check_consent, check_consent_of, normalize_recipient, ConsentInput, PreviousState};

/// One channel's four columns as text (dates already converted to Turkey time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelValues<'a> {
    pub address: Option<&'a str>,
    pub permission: Option<&'a str>,
    pub consent_date: Option<NaiveDateTime>,
    pub source: Option<&'a str>,
}

impl ChannelValues<'_> {
    fn is_empty(&self) -> bool {
        self.address.is_none() && self.permission.is_none() && self.consent_date.is_none() && self.source.is_none()
    }
}

/// The source sent (and written to the row) for a permission change whose source column still
/// holds the `IYS_*` source of a change IYS made: the app changed the permission through its
/// own (electronic) channel without saying which.
pub const SOURCE_FOR_INHERITED: &str = "HS_WEB";

/// What the trigger must do with the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelDecision {
    /// Nothing to check or send (empty channel, or nothing relevant changed).
    Unchanged {
        /// The normalised address to write back when it differs from what was typed.
        normalized_address: Option<String>,
    },
    /// Same address and permission but another date or source: put the old date and source
    /// back and warn.
    KeepOldDateAndSource { normalized_address: String },
    /// A valid change, to be queued for IYS when `send`.
    /// `source`: a source to write over an `IYS_*` one the app left as it was.
    Accept { normalized_address: String, status: ConsentStatus, send: bool, source: Option<&'static str> },
    /// Breaks IYS rules: reject the row or keep the old values, as the table's policy says.
    Invalid { problems: Vec<Problem> },
}

/// Decides one channel. `old` is None on INSERT.
pub fn decide_channel(
    consent_type: ConsentType,
    new: &ChannelValues<'_>,
    old: Option<&ChannelValues<'_>>,
    recipient_type: RecipientType,
    now_turkey: NaiveDateTime,
    cal: &Calendar,
) -> ChannelDecision {
    let address = new.address.map(str::trim).filter(|a| !a.is_empty());
    let permission = new.permission.map(str::trim).filter(|p| !p.is_empty());
    // A source alone says nothing about this channel (one source column may serve several).
    if new.is_empty() || (address.is_none() && permission.is_none() && new.consent_date.is_none()) {
        return ChannelDecision::Unchanged { normalized_address: None };
    }
    let Some(address) = address else {
        return ChannelDecision::Invalid {
            problems: vec![Problem::new("H114", "recipient", "", "the channel has a permission, date or source but no address; its fields come together")],
        };
    };
    let Some(permission) = permission else {
        // An address without a permission (and without a date) is contact data, not a consent
        // movement: it is normalised when it can be, kept as typed when not (a landline in the
        // GSM column), and never blocks the row.
        if new.consent_date.is_none() {
            return ChannelDecision::Unchanged { normalized_address: normalize_recipient(address, consent_type).ok() };
        }
        return ChannelDecision::Invalid {
            problems: vec![Problem::new("H110", "status", "", "the channel has a date or source but no permission (ONAY or RET); its fields come together")],
        };
    };
    let (status, normalized) = match (ConsentStatus::parse(permission).ok(), normalize_recipient(address, consent_type)) {
        (Some(status), Ok(normalized)) => (status, normalized),
        (status, _) => {
            // An unreadable permission or address: every problem of the channel at once, checked as
            // a first record (the DBA fixes the row once, not once per problem).
            let mut problems = Vec::new();
            if status.is_none() {
                problems.push(Problem::new("H115", "status", permission, "permission must be ONAY or RET"));
            }
            let input = ConsentInput {
                recipient: address,
                consent_type,
                status: status.unwrap_or(ConsentStatus::Onay),
                source: new.source,
                consent_date: new.consent_date,
                recipient_type,
            };
            let first_ret = status == Some(ConsentStatus::Ret);
            problems.extend(check_consent(&input, None, now_turkey, cal).problems.into_iter().filter(|p| p.field != "status" && !(first_ret && p.code == "H175")));
            return ChannelDecision::Invalid { problems };
        }
    };

    // The previous state on the same address, when there is one.
    let previous = old.and_then(|old| {
        let old_address = old.address.map(str::trim).filter(|a| !a.is_empty())?;
        let same = normalize_recipient(old_address, consent_type).map(|o| o == normalized).unwrap_or(old_address == address);
        if !same {
            return None;
        }
        let old_status = ConsentStatus::parse(old.permission?.trim()).ok()?;
        Some((old_status, old))
    });

    if let Some((old_status, old)) = previous {
        if old_status == status {
            let same_date = old.consent_date == new.consent_date;
            let same_source = old.source.map(str::trim) == new.source.map(str::trim);
            return if same_date && same_source {
                ChannelDecision::Unchanged { normalized_address: Some(normalized) }
            } else {
                ChannelDecision::KeepOldDateAndSource { normalized_address: normalized }
            };
        }
    }

    // The permission changes over a source IYS set, which the app left as it was.
    let inherited = previous.is_some_and(|(_, old)| {
        let unchanged = old.source.map(str::trim) == new.source.map(str::trim);
        unchanged && new.source.is_some_and(|s| s.trim().to_ascii_uppercase().starts_with("IYS_"))
    });
    let source = if inherited { Some(SOURCE_FOR_INHERITED) } else { new.source };
    let input = ConsentInput {
        recipient: &normalized,
        consent_type,
        status,
        source,
        consent_date: new.consent_date,
        recipient_type,
    };
    let stored = previous.map(|(status, old)| PreviousState { status, consent_date: old.consent_date });
    // normalize_recipient is idempotent: the normalised address is its own normal form.
    let check = check_consent_of(&input, Ok(normalized.clone()), stored.as_ref(), now_turkey, cal);
    // A first record that is RET is not an error for the table: it is kept and sent (IYS may
    // hold an ONAY pg_iys never saw).
    let first_ret = stored.is_none() && status == ConsentStatus::Ret;
    let problems: Vec<Problem> = check.problems.into_iter().filter(|p| !(first_ret && p.code == "H175")).collect();
    if problems.is_empty() {
        ChannelDecision::Accept { normalized_address: normalized, status, send: true, source: inherited.then_some(SOURCE_FOR_INHERITED) }
    } else {
        ChannelDecision::Invalid { problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn now() -> NaiveDateTime {
        // A Wednesday with no holiday around it.
        NaiveDate::from_ymd_opt(2026, 11, 18).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    fn hours_ago(h: i64) -> Option<NaiveDateTime> {
        Some(now() - chrono::Duration::hours(h))
    }

    fn decide(new: ChannelValues, old: Option<ChannelValues>) -> ChannelDecision {
        decide_channel(ConsentType::Mesaj, &new, old.as_ref(), RecipientType::Bireysel, now(), &Calendar::turkey_default())
    }

    fn gsm<'a>(address: &'a str, permission: &'a str, date: Option<NaiveDateTime>, source: &'a str) -> ChannelValues<'a> {
        ChannelValues { address: Some(address), permission: Some(permission), consent_date: date, source: Some(source) }
    }

    #[test]
    fn empty_channel_is_unchanged() {
        assert_eq!(decide(ChannelValues::default(), None), ChannelDecision::Unchanged { normalized_address: None });
    }

    #[test]
    fn new_onay_is_accepted_and_normalised() {
        let d = decide(gsm("0532 123 45 67", "onay", hours_ago(1), "HS_WEB"), None);
        assert_eq!(d, ChannelDecision::Accept { normalized_address: "+905321234567".into(), status: ConsentStatus::Onay, send: true, source: None });
    }

    #[test]
    fn new_ret_is_stored_and_sent() {
        let d = decide(gsm("05321234567", "RET", hours_ago(1), "HS_WEB"), None);
        assert_eq!(d, ChannelDecision::Accept { normalized_address: "+905321234567".into(), status: ConsentStatus::Ret, send: true, source: None });
    }

    #[test]
    fn fields_come_together() {
        let no_permission = ChannelValues { address: Some("+905321234567"), permission: None, consent_date: hours_ago(1), source: Some("HS_WEB") };
        assert!(matches!(decide(no_permission, None), ChannelDecision::Invalid { ref problems } if problems[0].code == "H110"));
        let no_address = ChannelValues { address: None, permission: Some("ONAY"), consent_date: hours_ago(1), source: Some("HS_WEB") };
        assert!(matches!(decide(no_address, None), ChannelDecision::Invalid { ref problems } if problems[0].code == "H114"));
        let missing_date = gsm("+905321234567", "ONAY", None, "HS_WEB");
        assert!(matches!(decide(missing_date, None), ChannelDecision::Invalid { ref problems } if problems[0].code == "H112"));
        // An address alone is contact data: normalised, not a consent.
        let address_only = ChannelValues { address: Some("0532 123 45 67"), ..Default::default() };
        assert_eq!(decide(address_only, None), ChannelDecision::Unchanged { normalized_address: Some("+905321234567".into()) });
        // ...even one IYS would refuse (a landline in the GSM column), or with a source shared
        // with another channel: kept as typed, never blocking the row.
        let landline = ChannelValues { address: Some("0212 123 45 67"), source: Some("HS_WEB"), ..Default::default() };
        assert_eq!(decide(landline, None), ChannelDecision::Unchanged { normalized_address: None });
        let source_only = ChannelValues { source: Some("HS_WEB"), ..Default::default() };
        assert_eq!(decide(source_only, None), ChannelDecision::Unchanged { normalized_address: None });
    }

    #[test]
    fn same_address_and_permission_with_other_date_keeps_old_and_warns() {
        let old = gsm("+905321234567", "ONAY", hours_ago(10), "HS_WEB");
        let new = gsm("0532 123 45 67", "ONAY", hours_ago(1), "HS_MOBIL");
        assert_eq!(decide(new, Some(old)), ChannelDecision::KeepOldDateAndSource { normalized_address: "+905321234567".into() });
        assert_eq!(decide(old, Some(old)), ChannelDecision::Unchanged { normalized_address: Some("+905321234567".into()) });
    }

    #[test]
    fn permission_change_is_an_update_with_date_rules() {
        let old = gsm("+905321234567", "ONAY", hours_ago(10), "HS_WEB");
        let ret = gsm("+905321234567", "RET", hours_ago(1), "HS_WEB");
        assert_eq!(decide(ret, Some(old)), ChannelDecision::Accept { normalized_address: "+905321234567".into(), status: ConsentStatus::Ret, send: true, source: None });
        // Not newer than the stored date: H178.
        let older = gsm("+905321234567", "RET", hours_ago(20), "HS_WEB");
        assert!(matches!(decide(older, Some(old)), ChannelDecision::Invalid { ref problems } if problems.iter().any(|p| p.code == "H178")));
        // Outside the reporting window: H467.
        let stale = gsm("+905321234567", "RET", hours_ago(24 * 8), "HS_WEB");
        let old_older = gsm("+905321234567", "ONAY", hours_ago(24 * 9), "HS_WEB");
        assert!(matches!(decide(stale, Some(old_older)), ChannelDecision::Invalid { ref problems } if problems.iter().any(|p| p.code == "H467")));
    }

    #[test]
    fn changed_address_is_a_new_consent() {
        let old = gsm("+905321234567", "ONAY", hours_ago(10), "HS_WEB");
        let moved = gsm("+905329999999", "ONAY", hours_ago(1), "HS_WEB");
        assert_eq!(decide(moved, Some(old)), ChannelDecision::Accept { normalized_address: "+905329999999".into(), status: ConsentStatus::Onay, send: true, source: None });
        let moved_ret = gsm("+905329999999", "RET", hours_ago(1), "HS_WEB");
        assert!(matches!(decide(moved_ret, Some(old)), ChannelDecision::Accept { send: true, status: ConsentStatus::Ret, .. }));
    }

    #[test]
    fn future_and_bad_values_are_invalid_with_codes() {
        let future = gsm("+905321234567", "ONAY", Some(now() + chrono::Duration::seconds(1)), "HS_WEB");
        assert!(matches!(decide(future, None), ChannelDecision::Invalid { ref problems } if problems.iter().any(|p| p.code == "H162")));
        let bad_phone = gsm("+9005321234567", "ONAY", hours_ago(1), "HS_WEB");
        assert!(matches!(decide(bad_phone, None), ChannelDecision::Invalid { ref problems } if problems[0].code == "H121"));
        let bad_status = gsm("+905321234567", "EVET", hours_ago(1), "HS_WEB");
        assert!(matches!(decide(bad_status, None), ChannelDecision::Invalid { ref problems } if problems[0].code == "H115"));
        let bad_source = gsm("+905321234567", "ONAY", hours_ago(1), "IYS_WEB");
        assert!(matches!(decide(bad_source, None), ChannelDecision::Invalid { ref problems } if problems[0].code == "H119"));
    }

    #[test]
    fn tacir_first_record_may_omit_date_and_source() {
        let new = ChannelValues { address: Some("+905321234567"), permission: Some("ONAY"), consent_date: None, source: None };
        let d = decide_channel(ConsentType::Mesaj, &new, None, RecipientType::Tacir, now(), &Calendar::turkey_default());
        assert!(matches!(d, ChannelDecision::Accept { send: true, .. }), "{d:?}");
    }

    #[test]
    fn a_permission_change_over_a_source_iys_set_is_sent_with_our_own_source() {
        let old = ChannelValues { address: Some("+905321234567"), permission: Some("ONAY"), consent_date: hours_ago(30), source: Some("IYS_WEB") };
        let ret = ChannelValues { permission: Some("RET"), consent_date: hours_ago(1), ..old };
        assert_eq!(
            decide(ret, Some(old)),
            ChannelDecision::Accept { normalized_address: "+905321234567".into(), status: ConsentStatus::Ret, send: true, source: Some(SOURCE_FOR_INHERITED) }
        );
        // A source the app typed itself is the app's: an IYS_* one is still refused.
        let typed = ChannelValues { source: Some("IYS_MOBIL"), ..ret };
        assert!(matches!(decide(typed, Some(old)), ChannelDecision::Invalid { .. }));
        // An unchanged IYS_* source with an unchanged permission changes nothing.
        assert!(matches!(decide(old, Some(old)), ChannelDecision::Unchanged { .. }));
    }
}
