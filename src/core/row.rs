//! One row of an attached table, decided one way for both of its readers: the row trigger (every
//! INSERT and UPDATE) and `iys.validate_table` (a snapshot, each row as if it were inserted now).
//! They read columns differently (heap tuples, an SPI scan) but hand the same stored values here,
//! so validate_table reports exactly the rows the trigger would refuse or keep back.
//!
//! A row is read through its mapping: a boolean or a value-mapped permission becomes ONAY/RET, a
//! free-text or missing source becomes IYS's `HS_*` source, a contact type in the table's own
//! words becomes BIREYSEL/TACIR. Each channel is then decided by D-engage's algorithm
//! ([`decide_channel`]); a contact type IYS would refuse (H116) holds back every movement of the
//! row; a row that queues a movement needs a brand and valid retailers ([`delivery_problems`]).

use chrono::NaiveDateTime;

use super::calendar::Calendar;
use super::channel::{decide_channel, ChannelDecision, ChannelValues};
use super::mapping::{ChannelColumns, TableMapping};
use super::model::{ConsentStatus, RecipientType};
use super::problem::Problem;
use super::retailer;

/// A channel's columns as stored, before the mapping's vocabulary is applied (a boolean
/// permission as `t`/`f` or `true`/`false`, a source in the table's words): the shape of
/// [`ChannelValues`], which [`RowReader::channel_values`] turns them into.
pub type StoredChannel<'a> = ChannelValues<'a>;

/// A row's stored values: the contact type (only a new row's is read) and each channel, in the
/// mapping's channel order.
#[derive(Debug, Clone, Default)]
pub struct StoredRow<'a> {
    pub contact_type: Option<&'a str>,
    pub channels: Vec<StoredChannel<'a>>,
}

/// A mapping together with what the table's column types add to it.
#[derive(Debug, Clone)]
pub struct RowReader {
    pub mapping: TableMapping,
    /// Per channel of the mapping: the permission column is boolean (true is ONAY).
    permission_is_bool: Vec<bool>,
}

/// Which of a channel's columns (or the row's contact type) a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Address,
    Permission,
    ConsentDate,
    Source,
    ContactType,
    Brand,
    RetailerCode,
    RetailerAccess,
}

impl Slot {
    /// The slot of a [`Problem::field`] (IYS's field names).
    pub fn of(problem_field: &str) -> Slot {
        match problem_field {
            "status" => Slot::Permission,
            "consentDate" => Slot::ConsentDate,
            "source" => Slot::Source,
            "recipientType" => Slot::ContactType,
            "brandCode" => Slot::Brand,
            "retailerCode" => Slot::RetailerCode,
            "retailerAccess" => Slot::RetailerAccess,
            _ => Slot::Address,
        }
    }

    /// The column a slot names in `channel` of `mapping` (a channel without a source column: its
    /// fixed source's key).
    pub fn column<'m>(self, mapping: &'m TableMapping, channel: &'m ChannelColumns) -> &'m str {
        match self {
            Slot::Address => &channel.address,
            Slot::Permission => &channel.permission,
            Slot::ConsentDate => &channel.consent_date,
            Slot::Source if channel.source.is_empty() => "(fixed source)",
            Slot::Source => &channel.source,
            Slot::ContactType => mapping.contact_type.as_deref().unwrap_or(&channel.address),
            Slot::Brand => mapping.brand_column.as_deref().unwrap_or("brand_code"),
            Slot::RetailerCode => mapping.retailer_code_column().unwrap_or("retailer_code"),
            Slot::RetailerAccess => mapping.retailer_access_column().unwrap_or("retailer_access"),
        }
    }
}

impl RowReader {
    /// `permission_is_bool` holds one flag per channel of `mapping`.
    pub fn new(mapping: TableMapping, permission_is_bool: Vec<bool>) -> RowReader {
        assert_eq!(mapping.channels.len(), permission_is_bool.len(), "one flag per channel");
        RowReader { mapping, permission_is_bool }
    }

    /// The permission as ONAY/RET where the mapping says what it means; else as written (a value
    /// outside the map stays as it is, for the H115 that names it).
    pub fn permission<'a>(&'a self, channel: usize, raw: Option<&'a str>) -> Option<&'a str> {
        let raw = raw?;
        if self.permission_is_bool[channel] {
            return Some(match raw {
                "t" | "true" => ConsentStatus::Onay.as_str(),
                "f" | "false" => ConsentStatus::Ret.as_str(),
                other => other,
            });
        }
        match &self.mapping.channels[channel].permission_values {
            Some(values) => Some(values.status_of(raw).map_or(raw, |s| s.as_str())),
            None => Some(raw),
        }
    }

    /// The source as IYS's `HS_*` name: the channel's fixed source, the source map's entry, or
    /// the value as written.
    pub fn source<'a>(&'a self, channel: usize, raw: Option<&'a str>) -> Option<&'a str> {
        let columns = &self.mapping.channels[channel];
        if let Some(fixed) = columns.fixed_source() {
            return Some(fixed);
        }
        let raw = raw?;
        Some(columns.source_values.as_ref().and_then(|v| v.source_of(raw)).unwrap_or(raw))
    }

    /// The channel's values in IYS's words.
    pub fn channel_values<'a>(&'a self, channel: usize, stored: &StoredChannel<'a>) -> ChannelValues<'a> {
        ChannelValues {
            address: stored.address,
            permission: self.permission(channel, stored.permission),
            consent_date: stored.consent_date,
            source: self.source(channel, stored.source),
        }
    }

    /// The recipient type of a row: its contact type in IYS's or the table's words, the table's
    /// default when empty; H116 for a value neither knows.
    pub fn recipient_type(&self, contact_type: Option<&str>) -> Result<RecipientType, Problem> {
        let Some(raw) = contact_type.filter(|t| !t.trim().is_empty()) else { return Ok(self.mapping.recipient_type) };
        let parsed = match &self.mapping.contact_type_values {
            Some(values) => values.type_of(raw).ok_or_else(|| format!("contact type must be {}", values.describe())),
            None => RecipientType::parse(raw).map_err(|_| "contact type must be BIREYSEL or TACIR".to_owned()),
        };
        parsed.map_err(|message| Problem::new("H116", "recipientType", raw.trim(), message))
    }

    /// Decides every channel of `new` (`old`: the row before an UPDATE).
    pub fn decide(&self, new: &StoredRow<'_>, old: Option<&StoredRow<'_>>, now_turkey: NaiveDateTime, cal: &Calendar) -> RowDecision {
        let (recipient_type, contact_type_problem) = match self.recipient_type(new.contact_type) {
            Ok(t) => (t, None),
            Err(problem) => (self.mapping.recipient_type, Some(problem)),
        };
        let channels = self
            .mapping
            .channels
            .iter()
            .enumerate()
            .map(|(i, columns)| {
                let new_values = self.channel_values(i, &new.channels[i]);
                let old_values = old.map(|o| self.channel_values(i, &o.channels[i]));
                let decision = decide_channel(columns.consent_type, &new_values, old_values.as_ref(), recipient_type, now_turkey, cal);
                match (&contact_type_problem, decision) {
                    // A movement under a refused contact type is held back like any invalid
                    // change, except an opt-out: it goes with the table's default type.
                    (Some(problem), ChannelDecision::Accept { status: ConsentStatus::Onay, .. } | ChannelDecision::KeepOldDateAndSource { .. }) => {
                        ChannelDecision::Invalid { problems: vec![problem.clone()] }
                    }
                    (_, ChannelDecision::Invalid { mut problems }) => {
                        // An H115 on a value names the values this column may hold.
                        let expected = match (&columns.permission_values, self.permission_is_bool[i]) {
                            (Some(values), _) => values.describe(),
                            (None, true) => "true (ONAY) or false (RET)".to_owned(),
                            (None, false) => format!("ONAY or RET (another vocabulary needs a value map: \"{}_permission_values\")", columns.key()),
                        };
                        for problem in problems.iter_mut().filter(|p| p.code == "H115" && !p.value.is_empty()) {
                            problem.message_en = format!("permission must be {expected}");
                        }
                        ChannelDecision::Invalid { problems }
                    }
                    (_, decision) => decision,
                }
            })
            .collect();
        RowDecision { recipient_type, contact_type_problem, channels }
    }
}

/// What the row trigger must do with a row, channel by channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDecision {
    pub recipient_type: RecipientType,
    /// H116: the row's contact type is neither BIREYSEL nor TACIR in any spelling the mapping knows.
    pub contact_type_problem: Option<Problem>,
    /// In the mapping's channel order.
    pub channels: Vec<ChannelDecision>,
}

impl RowDecision {
    /// The row withdraws a consent on some channel. An opt-out is never blocked: such a row is
    /// stored even when another channel of it breaks IYS's rules (that channel keeps its old values).
    pub fn withdraws(&self) -> bool {
        self.channels.iter().any(|d| matches!(d, ChannelDecision::Accept { status: ConsentStatus::Ret, .. }))
    }

    /// The row queues a movement for IYS, which then needs a brand and valid retailers.
    pub fn queues(&self) -> bool {
        self.channels.iter().any(|d| matches!(d, ChannelDecision::Accept { send: true, .. }))
    }
}

/// The row's columns that say where its movements go.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery<'a> {
    /// The brand column's value (None also when the table has no brand column).
    pub brand: Option<&'a str>,
    pub retailer_code: Option<&'a str>,
    pub retailer_access: Option<&'a str>,
}

/// What keeps IYS from taking a row's movements: no numeric brand code (own or the table's, when
/// the table has a brand column), a retailer code or access list IYS refuses (H118, H163, H126).
pub fn delivery_problems(has_brand_column: bool, table_brand: Option<&str>, row: &Delivery<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if has_brand_column {
        let own = row.brand.map(str::trim).filter(|b| !b.is_empty());
        match (own, table_brand) {
            (None, None) => problems.push(Problem::new("PGIYS_BRAND", "brandCode", "", "the row has no brand code and the table has no default brand")),
            (Some(code), _) if !code.chars().all(|c| c.is_ascii_digit()) => {
                problems.push(Problem::new("PGIYS_BRAND", "brandCode", code, "a brand code is IYS's numeric brand code"))
            }
            _ => {}
        }
    }
    if let Some(Err(p)) = row.retailer_code.filter(|t| !t.trim().is_empty()).map(|t| retailer::parse_code(t, "retailerCode")) {
        problems.push(p);
    }
    if let Some(Err(p)) = row.retailer_access.map(retailer::parse_access) {
        problems.push(p);
    }
    problems
}

impl RowDecision {
    /// Applies a queuing row's delivery problems (see [`delivery_problems`]); true: the row is
    /// refused. An opt-out is neither dropped nor blocked: it goes without a retailer IYS would
    /// refuse (retailers are optional), and a row whose opt-out has no brand to go to is refused
    /// whatever `keep` says, so that the application sees it. Otherwise the consents (ONAY) are
    /// held back with `keep`, or the row is refused without it.
    pub fn hold_back_undeliverable(&mut self, problems: &[Problem], keep: bool) -> bool {
        if problems.is_empty() {
            return false;
        }
        let no_brand = problems.iter().any(|p| Slot::of(p.field) == Slot::Brand);
        let withdraws = self.withdraws();
        if (no_brand && withdraws) || (!keep && !withdraws) {
            return true;
        }
        for decision in &mut self.channels {
            if let ChannelDecision::Accept { status, send: true, .. } = decision {
                if no_brand || *status == ConsentStatus::Onay {
                    *decision = ChannelDecision::Invalid { problems: problems.to_vec() };
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 18).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    fn reader(json: &str, bools: Vec<bool>) -> RowReader {
        RowReader::new(TableMapping::from_json(Some(json)).unwrap(), bools)
    }

    fn channel<'a>(address: &'a str, permission: &'a str, source: &'a str) -> StoredChannel<'a> {
        StoredChannel { address: Some(address), permission: Some(permission), consent_date: Some(now() - chrono::Duration::hours(1)), source: Some(source) }
    }

    #[test]
    fn permissions_read_through_the_mapping() {
        let r = reader(r#"{"gsm_permission_values": {"ONAY": ["E", "Evet"], "RET": "H"}}"#, vec![true, false]);
        assert_eq!([r.permission(0, Some("t")), r.permission(0, Some("false")), r.permission(0, Some("ONAY"))], [Some("ONAY"), Some("RET"), Some("ONAY")]);
        assert_eq!([r.permission(1, Some(" evet ")), r.permission(1, Some("h")), r.permission(1, Some("Y"))], [Some("ONAY"), Some("RET"), Some("Y")]);
        let plain = reader("{}", vec![false, false]);
        assert_eq!(plain.permission(0, Some("true")), Some("true"), "text without a map is taken as written");
    }

    #[test]
    fn sources_read_through_the_mapping() {
        let r = reader(r#"{"email_source": null, "email_source_values": {"*": "HS_WEB"}, "gsm_source_values": {"mağaza": "HS_FIZIKSEL_ORTAM", "*": "HS_ETKINLIK"}}"#, vec![false, false]);
        assert_eq!(r.source(0, None), Some("HS_WEB"));
        assert_eq!([r.source(1, Some("MAĞAZA")), r.source(1, Some("fuar")), r.source(1, Some("HS_MESAJ")), r.source(1, None)], [Some("HS_FIZIKSEL_ORTAM"), Some("HS_ETKINLIK"), Some("HS_MESAJ"), None]);
    }

    #[test]
    fn a_refused_contact_type_holds_back_every_consent_but_not_an_opt_out() {
        let r = reader(r#"{"contact_type_values": {"BIREYSEL": "B", "TACIR": "T"}}"#, vec![false, false]);
        let row = StoredRow { contact_type: Some("K"), channels: vec![channel("a@example.com", "ONAY", "HS_WEB"), StoredChannel::default()] };
        let d = r.decide(&row, None, now(), &Calendar::turkey_default());
        assert_eq!(d.contact_type_problem.as_ref().map(|p| p.code), Some("H116"));
        assert!(matches!(&d.channels[0], ChannelDecision::Invalid { problems } if problems[0].code == "H116"));
        assert_eq!(d.channels[1], ChannelDecision::Unchanged { normalized_address: None });
        assert!(!d.queues());
        let opt_out = StoredRow { contact_type: Some("K"), channels: vec![channel("a@example.com", "ONAY", "HS_WEB"), channel("05321234567", "RET", "HS_WEB")] };
        let d = r.decide(&opt_out, None, now(), &Calendar::turkey_default());
        assert!(matches!(&d.channels[0], ChannelDecision::Invalid { problems } if problems[0].code == "H116"));
        assert!(d.withdraws() && d.queues() && d.recipient_type == RecipientType::Bireysel);
        let tacir = StoredRow { contact_type: Some(" t "), ..row };
        assert_eq!(r.decide(&tacir, None, now(), &Calendar::turkey_default()).recipient_type, RecipientType::Tacir);
    }

    #[test]
    fn an_opt_out_is_seen_beside_a_broken_channel() {
        let r = reader(r#"{"gsm_permission_values": {"ONAY": "E", "RET": "H"}}"#, vec![false, false]);
        let row = StoredRow { contact_type: None, channels: vec![channel("a@example.com", "RET", "HS_WEB"), channel("0212 555 44 33", "E", "HS_WEB")] };
        let d = r.decide(&row, None, now(), &Calendar::turkey_default());
        assert!(d.withdraws() && d.queues());
        assert!(matches!(&d.channels[1], ChannelDecision::Invalid { problems } if problems[0].code == "H121"));
        let y = StoredRow { contact_type: None, channels: vec![StoredChannel::default(), channel("05321234567", "Y", "HS_WEB")] };
        let d = r.decide(&y, None, now(), &Calendar::turkey_default());
        assert!(matches!(&d.channels[1], ChannelDecision::Invalid { problems } if problems[0].message_en == "permission must be E (ONAY) or H (RET)"));
    }

    #[test]
    fn delivery_needs_a_brand_and_valid_retailers() {
        let none = Delivery::default();
        assert!(delivery_problems(false, None, &none).is_empty());
        assert_eq!(Slot::of(delivery_problems(true, None, &none)[0].field), Slot::Brand);
        assert!(delivery_problems(true, Some("600001"), &none).is_empty());
        let bad = Delivery { brand: Some("ABC"), retailer_code: Some("123"), retailer_access: Some("{}") };
        let slots: Vec<Slot> = delivery_problems(true, Some("600001"), &bad).iter().map(|p| Slot::of(p.field)).collect();
        assert_eq!(slots, [Slot::Brand, Slot::RetailerCode, Slot::RetailerAccess]);
    }

    #[test]
    fn undeliverable_consents_are_held_back_but_opt_outs_go() {
        let r = reader("{}", vec![false, false]);
        let row = StoredRow { contact_type: None, channels: vec![channel("a@example.com", "ONAY", "HS_WEB"), channel("05321234567", "RET", "HS_WEB")] };
        let decide = || r.decide(&row, None, now(), &Calendar::turkey_default());
        let bad_retailer = delivery_problems(false, None, &Delivery { retailer_code: Some("123"), ..Delivery::default() });
        let mut d = decide();
        assert!(!d.hold_back_undeliverable(&bad_retailer, false), "an opt-out row is not refused");
        assert!(matches!(&d.channels[0], ChannelDecision::Invalid { problems } if problems[0].code == "H118"));
        assert!(matches!(d.channels[1], ChannelDecision::Accept { status: ConsentStatus::Ret, .. }));
        let no_brand = delivery_problems(true, None, &Delivery::default());
        assert!(decide().hold_back_undeliverable(&no_brand, true), "an opt-out with no brand is refused, not dropped");
        let consent_only = StoredRow { contact_type: None, channels: vec![channel("a@example.com", "ONAY", "HS_WEB"), StoredChannel::default()] };
        let mut d = r.decide(&consent_only, None, now(), &Calendar::turkey_default());
        assert!(!d.hold_back_undeliverable(&no_brand, true) && !d.queues());
        let mut d = r.decide(&consent_only, None, now(), &Calendar::turkey_default());
        assert!(d.hold_back_undeliverable(&bad_retailer, false), "reject mode refuses a consent it cannot send");
    }

    #[test]
    fn slots_name_the_mapped_columns() {
        let r = reader(r#"{"contact_type": "tur", "gsm_source": null, "gsm_source_values": {"*": "HS_WEB"}}"#, vec![false, false]);
        let gsm = &r.mapping.channels[1];
        assert_eq!(Slot::of("recipient").column(&r.mapping, gsm), "gsm");
        assert_eq!(Slot::of("status").column(&r.mapping, gsm), "gsm_permission");
        assert_eq!(Slot::of("source").column(&r.mapping, gsm), "(fixed source)");
        assert_eq!(Slot::of("recipientType").column(&r.mapping, gsm), "tur");
    }
}
