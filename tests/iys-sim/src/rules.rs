//! IYS's consent rules, written from the OpenAPI document independently of the extension.
//!
//! Two layers, matching how IYS answers:
//! * [`parse_consent`]: format rules (HTTP 422 codes). A single add answers them at once; an
//!   async batch is rejected as a whole, each error carrying the item `index`.
//! * [`check_transition`]: rules that need the stored consent (HTTP 400 codes: H174, H175,
//!   H178, H462, H463). A single add answers them at once; a batch reports them per item.

use serde_json::{Map, Value};

use crate::calendar;
use crate::clock::{self, DateError};
use crate::errors::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsentType {
    Mesaj,
    Arama,
    Eposta,
}

impl ConsentType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "MESAJ" => Some(Self::Mesaj),
            "ARAMA" => Some(Self::Arama),
            "EPOSTA" => Some(Self::Eposta),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mesaj => "MESAJ",
            Self::Arama => "ARAMA",
            Self::Eposta => "EPOSTA",
        }
    }
    pub fn wants_email(self) -> bool {
        self == Self::Eposta
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecipientType {
    Bireysel,
    Tacir,
}

impl RecipientType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "BIREYSEL" => Some(Self::Bireysel),
            "TACIR" => Some(Self::Tacir),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bireysel => "BIREYSEL",
            Self::Tacir => "TACIR",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Onay,
    Ret,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ONAY" => Some(Self::Onay),
            "RET" => Some(Self::Ret),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Onay => "ONAY",
            Self::Ret => "RET",
        }
    }
}

/// The 13 sources a service provider may send. IYS_* sources are set by IYS only.
pub const HS_SOURCES: [&str; 13] = [
    "HS_FIZIKSEL_ORTAM",
    "HS_ISLAK_IMZA",
    "HS_ETKINLIK",
    "HS_ATM",
    "HS_EORTAM",
    "HS_WEB",
    "HS_MOBIL",
    "HS_MESAJ",
    "HS_EPOSTA",
    "HS_CAGRI_MERKEZI",
    "HS_SOSYAL_MEDYA",
    "HS_2015",
    "HS_KARAR",
];

/// Fields a consent object may carry; anything else is H118.
const CONSENT_FIELDS: [&str; 8] = [
    "recipient",
    "type",
    "source",
    "status",
    "consentDate",
    "recipientType",
    "retailerCode",
    "retailerAccess",
];

/// 2015-05-01 00:00:00, the earliest consent date IYS accepts (H156) and the only one HS_2015
/// may carry (H155).
pub fn cutoff_2015() -> i64 {
    clock::days_from_civil(2015, 5, 1) * 86_400
}


/// A consent that passed the format rules, normalised (e-mail lower-cased, defaults applied).
#[derive(Clone, Debug, PartialEq)]
pub struct ConsentInput {
    pub recipient: String,
    pub consent_type: ConsentType,
    pub recipient_type: RecipientType,
    pub status: Status,
    pub source: Option<String>,
    pub consent_date: Option<String>,
    /// `consent_date` as Turkey-local seconds, for comparisons.
    pub consent_date_secs: Option<i64>,
    pub retailer_code: Option<i64>,
    pub retailer_access: Option<Vec<i64>>,
}

impl ConsentInput {
    /// The normalised consent as JSON, in the request's own shape.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("recipient".into(), Value::from(self.recipient.as_str()));
        m.insert("recipientType".into(), Value::from(self.recipient_type.as_str()));
        m.insert("type".into(), Value::from(self.consent_type.as_str()));
        m.insert("status".into(), Value::from(self.status.as_str()));
        if let Some(s) = &self.source {
            m.insert("source".into(), Value::from(s.as_str()));
        }
        if let Some(d) = &self.consent_date {
            m.insert("consentDate".into(), Value::from(d.as_str()));
        }
        if let Some(r) = self.retailer_code {
            m.insert("retailerCode".into(), Value::from(r));
        }
        if let Some(r) = &self.retailer_access {
            m.insert("retailerAccess".into(), Value::from(r.clone()));
        }
        m
    }
}

/// The part of the stored consent the transition rules look at.
#[derive(Clone, Debug)]
pub struct CurrentState {
    pub status: Status,
    pub consent_date_secs: Option<i64>,
}

/// E-mail rules of the document: 6..=265 characters, ASCII only (no Turkish letters), no spaces
/// or special characters, `{1}@{2}.{2}` at least, `+` allowed in the local part for labels.
pub fn is_valid_email(s: &str) -> bool {
    if s.len() < 6 || s.len() > 265 || !s.is_ascii() {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
    if !local_ok {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let labels_ok = labels.iter().all(|l| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let tld = labels[labels.len() - 1];
    let name_len = domain.len() - tld.len() - 1;
    labels_ok && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()) && name_len >= 2
}

/// E.164: `+`, a non-zero country code digit, at most 15 characters in all. Turkish numbers
/// (`+90`) carry exactly ten national digits and never a leading trunk `0` (the `+9005...`
/// mistake the document warns about).
pub fn is_valid_phone(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    if s.len() > 15 || digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if digits.starts_with('0') {
        return false;
    }
    if let Some(national) = digits.strip_prefix("90") {
        return national.len() == 10 && matches!(national.as_bytes()[0], b'2'..=b'5' | b'8' | b'9');
    }
    true
}

/// A phone number IYS takes for `consent_type`: E.164 ([`is_valid_phone`]) and, for a Turkish
/// number, in use by libphonenumber 8.12.47 ([`crate::numbering`]); MESAJ only for a mobile
/// (the stricter reading: the document does not say IYS takes an SMS consent for a landline).
/// Foreign numbers are checked for their shape only (the simulator carries Turkey's plan only).
pub fn is_valid_phone_for(s: &str, consent_type: ConsentType) -> bool {
    if !is_valid_phone(s) {
        return false;
    }
    let Some(national) = s.strip_prefix("+90") else { return true };
    match crate::numbering::turkish_kind(national) {
        None => false,
        Some(kind) => consent_type != ConsentType::Mesaj || kind == crate::numbering::Kind::Mobile,
    }
}

/// Checks a recipient against the channel: returns the normalised recipient or the errors.
pub fn check_recipient(raw: &str, consent_type: ConsentType) -> Result<String, Vec<ApiError>> {
    let value = Value::from(raw);
    if consent_type.wants_email() {
        let lowered = raw.to_ascii_lowercase();
        if is_valid_email(&lowered) {
            Ok(lowered)
        } else {
            Err(vec![ApiError::at("H120", "recipient").with_value(&value)])
        }
    } else if is_valid_phone_for(raw, consent_type) {
        Ok(raw.to_string())
    } else {
        let mut errs = Vec::new();
        if raw.len() > 15 {
            errs.push(ApiError::at("H160", "recipient").with_value(&value));
        }
        errs.push(ApiError::at("H121", "recipient").with_value(&value));
        Err(errs)
    }
}

/// Whether IYS would take `recipient` (as it travels on the wire) for a consent of `consent_type`
/// (MESAJ, ARAMA or EPOSTA): for tests that compare another validator's verdicts with the
/// simulator's.
pub fn accepts_recipient(recipient: &str, consent_type: &str) -> bool {
    ConsentType::parse(consent_type).is_some_and(|t| check_recipient(recipient, t).is_ok())
}

/// Applies every format rule to one consent object. `now_local` is Turkey-local seconds.
pub fn parse_consent(v: &Value, now_local: i64) -> Result<ConsentInput, Vec<ApiError>> {
    let Some(obj) = v.as_object() else {
        return Err(vec![ApiError::new("H085")]);
    };
    let mut errs: Vec<ApiError> = Vec::new();

    for (k, val) in obj {
        if !CONSENT_FIELDS.contains(&k.as_str()) {
            errs.push(ApiError::at("H118", k).with_value(val));
        }
    }

    let recipient_type = match obj.get("recipientType") {
        None => Some(RecipientType::Bireysel),
        Some(val) => {
            let rt = val.as_str().and_then(RecipientType::parse);
            if rt.is_none() {
                errs.push(ApiError::at("H116", "recipientType").with_value(val));
            }
            rt
        }
    };
    // TACIR may omit source and date on its first record; everything else needs them.
    let tacir = recipient_type == Some(RecipientType::Tacir);

    let consent_type = match obj.get("type") {
        None => {
            errs.push(ApiError::at("H111", "type"));
            None
        }
        Some(val) => {
            let t = val.as_str().and_then(ConsentType::parse);
            if t.is_none() {
                errs.push(ApiError::at("H117", "type").with_value(val));
            }
            t
        }
    };

    let recipient = match obj.get("recipient") {
        None => {
            errs.push(ApiError::at("H114", "recipient"));
            None
        }
        Some(Value::String(s)) if !s.is_empty() => match consent_type {
            Some(t) => match check_recipient(s, t) {
                Ok(r) => Some(r),
                Err(mut e) => {
                    errs.append(&mut e);
                    None
                }
            },
            None => None, // channel unknown: H117 already says why
        },
        Some(val) => {
            errs.push(ApiError::at("H114", "recipient").with_value(val));
            None
        }
    };

    let status = match obj.get("status") {
        None => {
            errs.push(ApiError::at("H110", "status"));
            None
        }
        Some(val) => {
            let s = val.as_str().and_then(Status::parse);
            if s.is_none() {
                errs.push(ApiError::at("H115", "status").with_value(val));
            }
            s
        }
    };

    let source = match obj.get("source") {
        None => {
            if !tacir {
                errs.push(ApiError::at("H113", "source"));
            }
            None
        }
        Some(val) => match val.as_str() {
            Some(s) if HS_SOURCES.contains(&s) => Some(s.to_string()),
            _ => {
                errs.push(ApiError::at("H119", "source").with_value(val));
                None
            }
        },
    };

    if source.as_deref() == Some("HS_KARAR") && status == Some(Status::Onay) {
        errs.push(ApiError::at("H408", "status").with_value(&Value::from("ONAY")));
    }

    let mut consent_date = None;
    let mut consent_date_secs = None;
    match obj.get("consentDate") {
        None => {
            if !tacir {
                errs.push(ApiError::at("H112", "consentDate"));
            }
        }
        Some(val) => {
            let parsed = match val.as_str() {
                Some(s) => clock::parse_local(s),
                None => Err(DateError::Format),
            };
            match parsed {
                Err(DateError::Format) => errs.push(ApiError::at("H158", "consentDate").with_value(val)),
                Err(DateError::Invalid) => errs.push(ApiError::at("H157", "consentDate").with_value(val)),
                Ok(secs) => {
                    let before = errs.len();
                    let is_2015 = source.as_deref() == Some("HS_2015");
                    if secs < cutoff_2015() {
                        errs.push(ApiError::at("H156", "consentDate").with_value(val));
                    }
                    if is_2015 && secs != cutoff_2015() {
                        errs.push(ApiError::at("H155", "consentDate").with_value(val));
                    }
                    if secs > now_local {
                        errs.push(ApiError::at("H162", "consentDate").with_value(val));
                    }
                    // Three business days: until the same clock time on the third business day
                    // after the collection date. HS_2015 is a declaration about the past by
                    // definition; the age limit cannot apply to it (its only date is years old).
                    if !is_2015 && secs >= cutoff_2015() && now_local > calendar::h467_deadline(secs) {
                        errs.push(ApiError::at("H467", "consentDate").with_value(val));
                    }
                    if errs.len() == before {
                        consent_date = val.as_str().map(str::to_string);
                        consent_date_secs = Some(secs);
                    }
                }
            }
        }
    }

    let retailer_code = match obj.get("retailerCode") {
        None => None,
        Some(val) => match val.as_i64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                errs.push(ApiError::at("H118", "retailerCode").with_value(val));
                None
            }
        },
    };

    let retailer_access = match obj.get("retailerAccess") {
        None => None,
        Some(Value::Array(items)) if items.is_empty() => {
            errs.push(ApiError::at("H163", "retailerAccess").with_value(&Value::Array(vec![])));
            None
        }
        Some(Value::Array(items)) if items.len() > 3000 => {
            errs.push(ApiError::at("H126", "retailerAccess"));
            None
        }
        Some(Value::Array(items)) => {
            let codes: Option<Vec<i64>> = items.iter().map(|i| i.as_i64().filter(|n| *n > 0)).collect();
            if codes.is_none() {
                errs.push(ApiError::at("H118", "retailerAccess").with_value(&Value::Array(items.clone())));
            }
            codes
        }
        Some(val) => {
            errs.push(ApiError::at("H118", "retailerAccess").with_value(val));
            None
        }
    };

    if !errs.is_empty() {
        return Err(errs);
    }
    // All options are Some here: every None path above pushed an error (or is allowed for TACIR).
    Ok(ConsentInput {
        recipient: recipient.unwrap_or_default(),
        consent_type: consent_type.unwrap_or(ConsentType::Mesaj),
        recipient_type: recipient_type.unwrap_or(RecipientType::Bireysel),
        status: status.unwrap_or(Status::Onay),
        source,
        consent_date,
        consent_date_secs,
        retailer_code,
        retailer_access,
    })
}

/// The rules that depend on what IYS already holds for (brand, recipient, recipientType, type).
/// Returns the code of the first broken rule.
pub fn check_transition(current: Option<&CurrentState>, input: &ConsentInput) -> Result<(), &'static str> {
    let Some(cur) = current else {
        // Nothing stored yet: a first record must be an approval.
        return if input.status == Status::Ret { Err("H175") } else { Ok(()) };
    };
    if input.recipient_type == RecipientType::Tacir {
        if input.consent_date.is_none() {
            return Err("H462");
        }
        if input.source.is_none() {
            return Err("H463");
        }
    }
    if let (Some(new), Some(old)) = (input.consent_date_secs, cur.consent_date_secs) {
        // The document: updates dated *before* the stored consent are refused.
        if new < old {
            return Err("H178");
        }
    }
    if input.status == Status::Ret && cur.status == Status::Ret {
        return Err("H174");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@bc.de", "Ali.Veli+tag@example.com.tr", "x_y-z@sub-domain.example.org"] {
            assert!(is_valid_email(&ok.to_ascii_lowercase()), "{ok}");
        }
        for bad in ["a@b.c", "örnek@mail.com", "a b@example.com", "ab@example", "a..b@example.com",
                    "a!b@example.com", "a@example.c0m", "@example.com", "a@.example.com"] {
            assert!(!is_valid_email(bad), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(260));
        assert!(!is_valid_email(&long));
    }

    #[test]
    fn phones() {
        for ok in ["+905321234567", "+902121230000", "+4915123456789", "+908501234567"] {
            assert!(is_valid_phone(ok), "{ok}");
        }
        for bad in ["905321234567", "+9005321234567", "+90532123456", "+9053212345678", "+0532123",
                    "+90532123456a", "+1234567890123456", "+90 5321234567"] {
            assert!(!is_valid_phone(bad), "{bad}");
        }
    }
}
