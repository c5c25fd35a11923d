//! İLETİ ViA on the wire: starting a consent request (`POST /via/sps/{iysCode}/consent`),
//! following it (`GET /via/sps/{iysCode}/consent/request/{requestId}`), confirming a one-time
//! code (`POST /via/sps/{iysCode}/confirmation`) and e-mail opt-out links
//! (`POST /sps/{iysCode}/brands/{brandCode}/via-hash-links`).
//!
//! IYS's document shows these answers in more than one shape (the payload under `message` or at
//! the top, a list or a single object, dates as text or as epoch milliseconds, errors as a list,
//! an object or flat `{message, code, value}`): every shape it shows is read.

use super::client::{Client, Endpoint};
use super::outcome::{Call, CallFailure};
use serde::Serialize;
use serde_json::Value;

/// The body of `startViaRequest`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ViaStart {
    pub form_id: i64,
    pub recipient: String,
    pub verification_type: String,
    pub consent_types: Vec<ViaConsentType>,
}

/// One `consentTypes` item: ETK (the brands' consents) or KVK (the personal-data texts).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ViaConsentType {
    Etk {
        title: &'static str,
        #[serde(rename = "brandCodes")]
        brand_codes: Vec<i64>,
        types: Vec<String>,
        #[serde(rename = "recipientType")]
        recipient_type: String,
    },
    Kvk {
        title: &'static str,
        types: Vec<String>,
        #[serde(rename = "personData")]
        person_data: PersonData,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PersonData {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_id_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Where a ViA request stands, as `getViaRequest` tells it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ViaState {
    /// IYS has finished with it: the recipient answered, or the link or code expired.
    pub completed: bool,
    /// `lastStatus.status` (SUCCESS, OTP_CODE_EXPIRED, ...), as IYS spelled it.
    pub status: Option<String>,
    /// The IYS source of the consents it registered (IYS_KISAMESAJ, IYS_EPOSTA, ...).
    pub source: Option<String>,
    pub details: Vec<ViaDetail>,
}

/// One asked-for consent of a request and what became of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ViaDetail {
    /// ETK or KVK.
    pub kind: String,
    /// The brand (ETK only).
    pub brand_code: Option<String>,
    /// MESAJ, ARAMA, EPOSTA, or the KVK text.
    pub choice: String,
    pub approved: bool,
    pub message: Option<String>,
    pub transaction_id: Option<String>,
    /// Turkey time, `YYYY-MM-DD HH:MM:SS`.
    pub consent_date: Option<String>,
}

/// One recipient's answer of `via-hash-links`: the link, or IYS's code why there is none
/// (H568: the recipient's EPOSTA consent is not ONAY).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HashLink {
    pub recipient: String,
    pub url: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// IYS takes at most this many recipients in one `via-hash-links` call.
pub const HASH_LINKS_PER_CALL: usize = 100;

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The payload of an answer: under `message` when IYS wraps it (`{"message": ..., "code": "OK"}`),
/// else the answer itself.
fn payload(answer: &Value) -> &Value {
    match answer.get("message") {
        Some(inner @ (Value::Object(_) | Value::Array(_))) => inner,
        _ => answer,
    }
}

/// IYS's request id from `startViaRequest`'s answer.
pub fn parse_started(body: &str) -> Result<String, String> {
    let answer: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    text(payload(&answer).get("requestId")).ok_or_else(|| "the answer names no requestId".to_owned())
}

/// A consent date as IYS gives it: `YYYY-MM-DD HH:MM:SS[.fff]` (Turkey time) or epoch
/// milliseconds (as `getKVKConsent` shows), to Turkey time without fractions.
fn consent_date(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.len() >= 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = raw.parse().ok()?;
        let utc = chrono::DateTime::from_timestamp_millis(ms)?;
        return Some(crate::core::utc_to_turkey(utc).format("%Y-%m-%d %H:%M:%S").to_string());
    }
    let parsed = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()?;
    Some(parsed.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Statuses of a request IYS has not finished with, when it gives a status without a stage.
/// (With a stage, only COMPLETED is final: IYS's tables list SUCCESS/START for a request just
/// sent, CONSENT_REQUESTED, REQUEST_OPENED and ENQUEUE while the recipient or IYS is at it.)
const OPEN_STATUSES: &[&str] = &["START", "PENDING", "WAITING", "STARTED", "IN_PROGRESS", "SENT", "ENQUEUE", "SYSTEM_FAILURE"];

/// `getViaRequest`'s answer.
pub fn parse_state(body: &str) -> Result<ViaState, String> {
    let answer: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let message = payload(&answer);
    if !message.is_object() {
        return Err("the answer holds no request".to_owned());
    }
    let last = message.get("lastStatus");
    let stage = text(last.and_then(|l| l.get("stage"))).map(|s| s.to_ascii_uppercase());
    let status = text(last.and_then(|l| l.get("status")));
    let completed = match (&stage, &status) {
        (Some(stage), _) => stage == "COMPLETED",
        (None, Some(status)) => !OPEN_STATUSES.contains(&status.to_ascii_uppercase().as_str()),
        (None, None) => false,
    };
    let details = match message.get("requestDetails") {
        Some(Value::Array(items)) => items.iter().filter(|i| i.is_object()).map(detail).collect(),
        _ => Vec::new(),
    };
    Ok(ViaState { completed, status, source: text(message.get("source")), details })
}

fn detail(item: &Value) -> ViaDetail {
    let message = text(item.get("operationStatusMessage"));
    let transaction_id = text(item.get("transactionId"));
    // "Onay verildi" (approved) / "Onay verilmedi" (not approved): an approval is the one
    // that carries IYS's transaction.
    let refused = message.as_deref().is_some_and(|m| m.to_lowercase().contains("verilmedi"));
    ViaDetail {
        kind: text(item.get("consentType")).map(|k| k.to_ascii_uppercase()).unwrap_or_else(|| "ETK".to_owned()),
        brand_code: text(item.get("brandCode")),
        choice: text(item.get("consentTypeChoice")).or_else(|| text(item.get("type"))).unwrap_or_default(),
        approved: transaction_id.is_some() && !refused,
        message,
        transaction_id,
        consent_date: text(item.get("consentDate")).and_then(|d| consent_date(&d)),
    }
}

/// `via-hash-links`'s answer: a list (or a list under `message`/`list`) of `{url, recipient}`
/// and `{recipient, code, message}`.
pub fn parse_hash_links(body: &str) -> Result<Vec<HashLink>, String> {
    let answer: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let list = match &answer {
        Value::Array(items) => items,
        other => match other.get("message").or_else(|| other.get("list")) {
            Some(Value::Array(items)) => items,
            _ => return Err("the answer holds no list of links".to_owned()),
        },
    };
    Ok(list
        .iter()
        .filter_map(|item| {
            Some(HashLink {
                recipient: text(item.get("recipient"))?,
                url: text(item.get("url")),
                code: text(item.get("code")),
                message: text(item.get("message")),
            })
        })
        .collect())
}

impl Client {
    /// Starts a ViA request; IYS's request id.
    pub fn via_start(&self, token: &str, iys_code: &str, request: &ViaStart) -> Result<String, CallFailure> {
        let url = format!("{}/via/sps/{}/consent", self.base(), iys_code);
        let text = self.post(token, &url, request, Call::Via)?;
        parse_started(&text).map_err(super::client::unexpected)
    }

    /// Where a ViA request stands.
    pub fn via_state(&self, token: &str, iys_code: &str, request_id: &str) -> Result<ViaState, CallFailure> {
        let url = format!("{}/via/sps/{}/consent/request/{}", self.base(), iys_code, super::client::urlencode(request_id));
        let text = self.get(token, &url, Call::Via)?;
        parse_state(&text).map_err(super::client::unexpected)
    }

    /// Confirms the one-time codes the recipient received (`otp`: title ETK or KVK, and code).
    pub fn via_confirm(&self, token: &str, iys_code: &str, request_id: &str, verification_type: &str, otp: &[(&str, &str)]) -> Result<(), CallFailure> {
        let url = format!("{}/via/sps/{}/confirmation", self.base(), iys_code);
        let consent_types: Vec<Value> = otp.iter().map(|(title, code)| serde_json::json!({"title": title, "otpCode": code})).collect();
        let body = serde_json::json!({"requestId": request_id, "verificationType": verification_type, "consentTypes": consent_types});
        self.post(token, &url, &body, Call::Via).map(|_| ())
    }

    /// Opt-out links for at most [`HASH_LINKS_PER_CALL`] e-mail recipients
    /// (`(recipient, recipientType)`).
    pub fn via_hash_links(&self, token: &str, to: &Endpoint, recipients: &[(String, String)]) -> Result<Vec<HashLink>, CallFailure> {
        let url = format!("{}/sps/{}/brands/{}/via-hash-links", self.base(), to.iys_code, to.brand_code);
        let list: Vec<Value> = recipients
            .iter()
            .take(HASH_LINKS_PER_CALL)
            .map(|(recipient, recipient_type)| serde_json::json!({"recipient": recipient, "recipientType": recipient_type}))
            .collect();
        let text = self.post(token, &url, &serde_json::json!({ "recipients": list }), Call::Via)?;
        parse_hash_links(&text).map_err(super::client::unexpected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iys::wire::parse_error_envelope;
    use crate::iys::FailureKind;

    #[test]
    fn the_start_body_is_iys_s_shape() {
        let body = ViaStart {
            form_id: 1,
            recipient: "+905123456789".into(),
            verification_type: "SMS_SHORTURL".into(),
            consent_types: vec![
                ViaConsentType::Etk { title: "ETK", brand_codes: vec![661467], types: vec!["MESAJ".into(), "ARAMA".into()], recipient_type: "BIREYSEL".into() },
                ViaConsentType::Kvk {
                    title: "KVK",
                    types: vec!["AYDINLATMA_METNI".into()],
                    person_data: PersonData { name: "Aslı Can".into(), recipient_id_number: None, address: Some("Çankaya Ankara".into()) },
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"formId": 1, "recipient": "+905123456789", "verificationType": "SMS_SHORTURL", "consentTypes": [
                {"title": "ETK", "brandCodes": [661467], "types": ["MESAJ", "ARAMA"], "recipientType": "BIREYSEL"},
                {"title": "KVK", "types": ["AYDINLATMA_METNI"], "personData": {"name": "Aslı Can", "address": "Çankaya Ankara"}}]})
        );
    }

    #[test]
    fn the_request_id_is_read_wrapped_or_not() {
        assert_eq!(parse_started(r#"{"message":{"requestId":"5b42"},"code":"OK"}"#).unwrap(), "5b42");
        assert_eq!(parse_started(r#"{"requestId":"5b43"}"#).unwrap(), "5b43");
        assert!(parse_started(r#"{"message":"OK","code":"OK"}"#).is_err());
    }

    /// The document's own success example of getViaRequest.
    #[test]
    fn a_completed_request_tells_what_was_approved() {
        let body = r#"{"message":{"requestId":"5dase269","formId":"84cr","source":"IYS_KISAMESAJ","recipient":"+905555555555",
            "recipientType":"BIREYSEL","consentSource":"SMS_SHORTURL","requestDate":"2024-07-09 10:43:16.038",
            "requestDetails":[
              {"brandCode":"111111","consentTypeChoice":"MESAJ","consentType":"ETK","operationStatusMessage":"Onay verilmedi"},
              {"brandCode":"630157","consentTypeChoice":"ARAMA","consentType":"ETK","operationStatusMessage":"Onay verildi","transactionId":"1sdf","consentDate":"2024-07-09 10:43:45"},
              {"consentTypeChoice":"AYDINLATMA_METNI","consentType":"KVK","operationStatusMessage":"Onay verildi","transactionId":"1ef4","consentDate":"1709035055950"}],
            "lastStatus":{"stage":"COMPLETED","status":"SUCCESS"}},"code":"OK"}"#;
        let state = parse_state(body).unwrap();
        assert!(state.completed);
        assert_eq!(state.status.as_deref(), Some("SUCCESS"));
        assert_eq!(state.source.as_deref(), Some("IYS_KISAMESAJ"));
        let approved: Vec<(&str, &str)> = state.details.iter().filter(|d| d.approved).map(|d| (d.kind.as_str(), d.choice.as_str())).collect();
        assert_eq!(approved, [("ETK", "ARAMA"), ("KVK", "AYDINLATMA_METNI")]);
        assert_eq!(state.details[1].brand_code.as_deref(), Some("630157"));
        assert_eq!(state.details[1].consent_date.as_deref(), Some("2024-07-09 10:43:45"));
        // 1709035055950 ms is 2024-02-27 11:57:35 UTC, 14:57:35 in Turkey.
        assert_eq!(state.details[2].consent_date.as_deref(), Some("2024-02-27 14:57:35"));
    }

    #[test]
    fn an_open_request_is_not_completed_in_any_shape() {
        assert!(!parse_state(r#"{"message":{"requestDetails":[],"lastStatus":{"stage":"STARTED","status":"WAITING"}},"code":"OK"}"#).unwrap().completed);
        assert!(!parse_state(r#"{"message":{"lastStatus":{"status":"WAITING"}}}"#).unwrap().completed);
        assert!(!parse_state(r#"{"message":{"lastStatus":{"stage":"SUCCESS","status":"START"}}}"#).unwrap().completed);
        assert!(!parse_state(r#"{"message":{"lastStatus":{"stage":"CONSENT_REQUESTED","status":"OTP_CODE_INCORRECT"}}}"#).unwrap().completed);
        assert!(parse_state(r#"{"message":{"lastStatus":{"stage":"COMPLETED","status":"SHORT_URL_EXPIRED"}}}"#).unwrap().completed);
        assert!(!parse_state(r#"{"message":{}}"#).unwrap().completed);
        assert!(parse_state(r#"{"lastStatus":{"status":"OTP_CODE_EXPIRED"}}"#).unwrap().completed);
        assert!(parse_state(r#"[1]"#).is_err());
    }

    #[test]
    fn hash_links_are_read_with_their_refusals() {
        let links = parse_hash_links(
            r#"[{"url":"https://viamanager.vkk.io/RET/x","recipient":"a@b.co"},{"recipient":"c@d.co","code":"H568","message":"Sadece ONAY"}]"#,
        )
        .unwrap();
        assert_eq!(links[0].url.as_deref(), Some("https://viamanager.vkk.io/RET/x"));
        assert_eq!((links[1].url.as_deref(), links[1].code.as_deref()), (None, Some("H568")));
        assert_eq!(parse_hash_links(r#"{"message":[{"recipient":"a@b.co","url":"u"}],"code":"OK"}"#).unwrap().len(), 1);
        assert!(parse_hash_links(r#"{"code":"OK"}"#).is_err());
    }

    /// ViA answers errors flat (`{message, code, value}`), as an object under `errors`, or as a
    /// list: each is read, and classified for a ViA call.
    #[test]
    fn via_errors_are_read_in_every_shape_and_classified() {
        let flat = parse_error_envelope(r#"{"message":"Geçersiz izin tipi: FAKS","code":"H1085","value":"FAKS"}"#);
        assert_eq!((flat[0].code.as_str(), flat[0].value.as_deref()), ("H1085", Some("FAKS")));
        let object = parse_error_envelope(r#"{"errors":{"message":"kontör","code":"H1015"}}"#);
        assert_eq!(object[0].code, "H1015");
        let listed = parse_error_envelope(r#"{"errors":[{"message":"otp","code":"H1052","value":989274}]}"#);
        assert_eq!((listed[0].code.as_str(), listed[0].value.as_deref()), ("H1052", Some("989274")));
        assert_eq!(CallFailure::from_status(400, flat, Call::Via).kind, FailureKind::Final);
        assert_eq!(CallFailure::from_status(400, object, Call::Via).kind, FailureKind::AccountRefused);
        assert_eq!(CallFailure::from_status(404, parse_error_envelope(r#"{"message":"yok","code":"H1112"}"#), Call::Via).kind, FailureKind::Final);
        assert_eq!(CallFailure::from_status(500, parse_error_envelope(r#"{"message":"x","code":"H1019"}"#), Call::Via).kind, FailureKind::Retryable);
        assert_eq!(CallFailure::from_status(401, parse_error_envelope(r#"{"errors":[{"code":"H1045"}]}"#), Call::Via).kind, FailureKind::Unauthorized);
        assert_eq!(CallFailure::from_status(403, parse_error_envelope(r#"{"errors":[{"code":"H1040"}]}"#), Call::Via).kind, FailureKind::AccountRefused);
    }
}
