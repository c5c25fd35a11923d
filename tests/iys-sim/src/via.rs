//! İLETİ ViA: IYS itself collects a consent for the service provider. The provider starts a
//! request (`startViaRequest`); IYS sends the recipient OTP codes or a short link by SMS or
//! e-mail; the recipient approves, either by giving the codes to the provider, who relays them
//! (`POST /via/sps/{iysCode}/confirmation`), or on the link's page (played by tests through
//! `/admin/via/{requestId}/approve`). Approved ETK channels become consents with source
//! IYS_KISAMESAJ or IYS_EPOSTA, recorded like any change made in IYS itself (pulled with
//! `source=IYS`, pushed); KVK approvals stay with the request. Also the e-mail opt-out links of
//! `via-hash-links`, which record a RET when used.
//!
//! Requests are checked outside the locks; the ViA lock is taken before the store's, never after.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::clock::{format_turkey_ms, TURKEY_OFFSET_SECS};
use crate::errors::{self, ApiError};
use crate::http::{Request, Response};
use crate::ids;
use crate::router::error_response;
use crate::rules::{self, ConsentInput, ConsentType, RecipientType, Status};
use crate::state::{lock, State};
use crate::store::{ConsentKey, Store};

/// "SMS_OTP ve EPOSTA_OTP için geçerlilik süresi 3 dakika" (the confirmation operation).
pub const OTP_VALIDITY_MS: i64 = 3 * 60 * 1000;
/// "SMS_SHORTURL, EPOSTA_SHORTURL ve EPOSTA_APPROVALURL için geçerlilik süresi 24 saattir".
pub const LINK_VALIDITY_MS: i64 = 24 * 3600 * 1000;
/// "3 dakika içerisinde yalnızca 3 defa doğrulama kodunu istek olarak gönderebilir".
pub const OTP_ATTEMPTS: u32 = 3;
/// "E-posta ret linki geçerlilik süresi 90 gündür."
pub const HASH_LINK_VALIDITY_MS: i64 = 90 * 24 * 3600 * 1000;
/// "aynı anda en fazla 100 adet RET linki".
pub const MAX_HASH_LINKS: usize = 100;

/// H127 as the code table words it; the table's text serves the multi-status query's 1000
/// elsewhere (`errors::describe`).
const H127_HASH_LINKS: &str = "Alıcı listesi (recipients) uzunluğu en fazla 100 olmalıdır.";

/// The KVK texts a recipient can be asked to approve.
pub const KVK_TYPES: [&str; 3] = ["AYDINLATMA_METNI", "ACIK_RIZA_METNI", "YURTDISI_AKTARIM"];

const ETK: &str = "ETK";
const KVK: &str = "KVK";

/// How IYS reaches the recipient and how the recipient approves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    SmsOtp,
    SmsShortUrl,
    EpostaOtp,
    EpostaShortUrl,
    EpostaApprovalUrl,
}

impl Verification {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "SMS_OTP" => Some(Self::SmsOtp),
            "SMS_SHORTURL" => Some(Self::SmsShortUrl),
            "EPOSTA_OTP" => Some(Self::EpostaOtp),
            "EPOSTA_SHORTURL" => Some(Self::EpostaShortUrl),
            "EPOSTA_APPROVALURL" => Some(Self::EpostaApprovalUrl),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::SmsOtp => "SMS_OTP",
            Self::SmsShortUrl => "SMS_SHORTURL",
            Self::EpostaOtp => "EPOSTA_OTP",
            Self::EpostaShortUrl => "EPOSTA_SHORTURL",
            Self::EpostaApprovalUrl => "EPOSTA_APPROVALURL",
        }
    }

    fn by_sms(self) -> bool {
        matches!(self, Self::SmsOtp | Self::SmsShortUrl)
    }

    fn is_otp(self) -> bool {
        matches!(self, Self::SmsOtp | Self::EpostaOtp)
    }

    /// The consents' source: "Kısa mesaj yoluyla alınan onaylarda IYS_KISAMESAJ, E-posta
    /// kanalıyla alınan onaylarda IYS_EPOSTA".
    fn source(self) -> &'static str {
        if self.by_sms() {
            "IYS_KISAMESAJ"
        } else {
            "IYS_EPOSTA"
        }
    }

    /// ETK channels this method can ask for: SMS for calls and messages, e-mail for e-mail.
    fn allows(self, t: ConsentType) -> bool {
        self.by_sms() != (t == ConsentType::Eposta)
    }

    fn allowed_text(self) -> &'static str {
        if self.by_sms() {
            "MESAJ, ARAMA"
        } else {
            "EPOSTA"
        }
    }

    fn validity_ms(self) -> i64 {
        if self.is_otp() {
            OTP_VALIDITY_MS
        } else {
            LINK_VALIDITY_MS
        }
    }

    /// The final status of a request nobody answered in time, from the document's status
    /// tables: OTP "3 dk. içinde girilmedi", short link "24 sa. içinde onay verilmedi. Link
    /// süresi doldu", approval link "24 saat içinde link açılmadı".
    fn expired_status(self) -> &'static str {
        match self {
            Self::SmsOtp | Self::EpostaOtp => "OTP_CODE_EXPIRED",
            Self::SmsShortUrl | Self::EpostaShortUrl => "SHORT_URL_EXPIRED",
            Self::EpostaApprovalUrl => "LINK_CLICK_TIMEOUT",
        }
    }
}

// ---- error bodies -------------------------------------------------------------------------------

/// The three ways the ViA examples write an error body. They follow the code, not the
/// operation, so the shape is looked up by code ([`shape_of`]).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// `{"errors":[{"message","code"}]}`
    List,
    /// `{"errors":{"message","code"}}`
    Object,
    /// `{"message","code","value"}`, no `errors`
    Flat,
}

/// H1030 appears both flat (getViaRequest) and as an object (the confirmation); it is answered
/// flat. H1050 and H1074 follow their only examples.
fn shape_of(code: &str) -> Shape {
    match code {
        "H1019" | "H1030" | "H1065" | "H1066" | "H1085" | "H1086" | "H1090" | "H1096" | "H1112" => Shape::Flat,
        "H1015" | "H1031" | "H1032" | "H1033" | "H1050" => Shape::Object,
        _ => Shape::List,
    }
}

/// One ViA error: its code, its text (the table's, or one naming the field or value) and the
/// offending value where the examples show one.
#[derive(Clone, Debug, PartialEq)]
pub struct ViaError {
    pub code: &'static str,
    pub message: String,
    pub value: Option<Value>,
}

impl ViaError {
    fn new(code: &'static str) -> Self {
        ViaError { code, message: errors::describe(code).1.to_string(), value: None }
    }

    fn text(code: &'static str, message: String) -> Self {
        ViaError { code, message, value: None }
    }

    fn with_value(mut self, value: &Value) -> Self {
        self.value = Some(value.clone());
        self
    }

    pub fn response(&self) -> Response {
        let mut e = Map::new();
        e.insert("message".into(), Value::from(self.message.as_str()));
        e.insert("code".into(), Value::from(self.code));
        if let Some(v) = &self.value {
            e.insert("value".into(), v.clone());
        }
        let body = match shape_of(self.code) {
            Shape::List => json!({ "errors": [e] }),
            Shape::Object => json!({ "errors": e }),
            Shape::Flat => Value::Object(e),
        };
        Response::json(errors::status_of(self.code), &body)
    }
}

/// H1057: a required field missing, null or blank.
fn blank(field: &str) -> ViaError {
    ViaError::text("H1057", format!("{field} alanı boş veya null olmamalıdır."))
}

/// H1005: a required field missing altogether.
fn not_found(field: &str) -> ViaError {
    ViaError::text("H1005", format!("{field} bulunamadı."))
}

/// H1010: a field of the wrong kind (a list that is not one).
fn unfit(field: &str) -> ViaError {
    ViaError::text("H1010", format!("{field} alanına girilen değer uygun değil."))
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// H1085 for a type outside `valid`.
fn invalid_type(v: &Value, valid: &str) -> ViaError {
    ViaError::text("H1085", format!("Geçersiz izin tipi: {}. Lütfen geçerli izin tiplerini kullanın: {valid}", text_of(v))).with_value(v)
}

/// The consent quota reached (an injected H525 account refusal): ViA answers it as H1031.
pub fn quota_refused() -> Response {
    ViaError::new("H1031").response()
}

/// A required string: missing, null or blank is H1057.
fn required<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a Value, ViaError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(blank(field)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(blank(field)),
        Some(v) => Ok(v),
    }
}

/// A required non-empty list: missing, null or empty is H1057 (naming `name`), not a list H1010.
fn list<'a>(obj: &'a Map<String, Value>, field: &str, name: &str) -> Result<&'a Vec<Value>, ViaError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(blank(name)),
        Some(Value::Array(a)) if a.is_empty() => Err(blank(name)),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(unfit(name)),
    }
}

// ---- the request ---------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Etk {
    brands: Vec<u64>,
    types: Vec<ConsentType>,
    recipient_type: RecipientType,
}

#[derive(Clone, Debug)]
struct Kvk {
    types: Vec<&'static str>,
    name: String,
    id_number: Option<String>,
    address: Option<String>,
}

/// A validated `startViaRequest` body.
#[derive(Clone, Debug)]
struct NewRequest {
    recipient: String,
    verification: Verification,
    form_id: String,
    etk: Option<Etk>,
    kvk: Option<Kvk>,
}

/// An approved item: its transactionId and when it was approved (UTC ms).
#[derive(Clone, Debug)]
struct Approval {
    transaction_id: String,
    at_ms: i64,
}

#[derive(Clone, Debug)]
struct Completion {
    /// `lastStatus.status` once `COMPLETED`.
    status: &'static str,
    at_ms: i64,
}

#[derive(Clone, Debug)]
struct ViaRequest {
    id: String,
    iys_code: u64,
    req: NewRequest,
    requested_ms: i64,
    /// (title, code) of an OTP request, one code per title, as IYS sends them.
    otp_codes: Vec<(&'static str, String)>,
    wrong_otps: u32,
    etk_approvals: HashMap<(u64, ConsentType), Approval>,
    kvk_approvals: HashMap<&'static str, Approval>,
    completion: Option<Completion>,
}

impl ViaRequest {
    /// A request nobody answered within its validity ends, as of the moment it ran out.
    fn expire_if_due(&mut self, now_ms: i64) {
        let deadline = self.requested_ms + self.req.verification.validity_ms();
        if self.completion.is_none() && now_ms >= deadline {
            self.completion = Some(Completion { status: self.req.verification.expired_status(), at_ms: deadline });
        }
    }

    fn otp_of(&self, title: &str) -> Option<&str> {
        self.otp_codes.iter().find(|(t, _)| *t == title).map(|(_, c)| c.as_str())
    }

    /// Records the approvals and ends the request: one consent per brand × approved ETK type
    /// (as a change made in IYS: pulled with `source=IYS`, pushed), one transactionId per
    /// approved KVK text. Returns the confirmation's items in requestDetails order.
    fn complete(&mut self, st: &State, store: &mut Store, now_ms: i64, etk_types: &[ConsentType], kvk_types: &[&'static str]) -> Vec<Value> {
        let mut items = Vec::new();
        let local_secs = now_ms.div_euclid(1000) + TURKEY_OFFSET_SECS;
        if let Some(etk) = self.req.etk.clone() {
            for &brand in &etk.brands {
                for &t in etk.types.iter().filter(|t| etk_types.contains(t)) {
                    let input = ConsentInput {
                        recipient: self.req.recipient.clone(),
                        consent_type: t,
                        recipient_type: etk.recipient_type,
                        status: Status::Onay,
                        source: Some(self.req.verification.source().to_string()),
                        consent_date: Some(crate::clock::format_local(local_secs)),
                        consent_date_secs: Some(local_secs),
                        retailer_code: None,
                        retailer_access: None,
                    };
                    let acc = store.iys_change(now_ms, self.iys_code, brand, &input, "via/consent");
                    if let Some(m) = store.last_movement() {
                        st.push.movement_recorded(m);
                    }
                    items.push(json!({ "transactionId": acc.transaction_id, "creationDate": acc.creation_date, "type": t.as_str(), "brandCode": brand.to_string() }));
                    self.etk_approvals.insert((brand, t), Approval { transaction_id: acc.transaction_id, at_ms: now_ms });
                }
            }
        }
        if let Some(kvk) = self.req.kvk.clone() {
            for &t in kvk.types.iter().filter(|t| kvk_types.contains(t)) {
                let approval = Approval { transaction_id: ids::transaction_id(), at_ms: now_ms };
                items.push(json!({ "transactionId": approval.transaction_id, "creationDate": format_turkey_ms(now_ms), "type": t }));
                self.kvk_approvals.insert(t, approval);
            }
        }
        // The document names no status for a recipient who approved nothing; REJECTED says so.
        let status = if items.is_empty() { "REJECTED" } else { "SUCCESS" };
        self.completion = Some(Completion { status, at_ms: now_ms });
        items
    }

    /// `lastStatus`. The examples show completed requests only; the waiting states are the
    /// description's status tables: the SMS or e-mail went out (CONSENT_REQUESTED, PENDING),
    /// an OTP code was entered wrong fewer than three times (CONSENT_REQUESTED,
    /// OTP_CODE_INCORRECT).
    fn last_status(&self) -> Value {
        match &self.completion {
            Some(c) => json!({ "stage": "COMPLETED", "status": c.status }),
            None if self.wrong_otps > 0 => json!({ "stage": "CONSENT_REQUESTED", "status": "OTP_CODE_INCORRECT" }),
            None => json!({ "stage": "CONSENT_REQUESTED", "status": "PENDING" }),
        }
    }

    fn detail(&self, mut item: Map<String, Value>, approval: Option<&Approval>) -> Value {
        // "Onay bekleniyor" while waiting is the simulator's wording; the examples show
        // completed requests only.
        let message = match (approval, &self.completion) {
            (Some(_), _) => "Onay verildi",
            (None, Some(_)) => "Onay verilmedi",
            (None, None) => "Onay bekleniyor",
        };
        item.insert("operationStatusMessage".into(), Value::from(message));
        if let Some(a) = approval {
            item.insert("transactionId".into(), Value::from(a.transaction_id.as_str()));
            item.insert("consentDate".into(), Value::from(format_turkey_ms(a.at_ms)));
        }
        Value::Object(item)
    }

    /// One item per ETK brand × type, then one per KVK text.
    fn details(&self) -> Vec<Value> {
        let mut out = Vec::new();
        if let Some(etk) = &self.req.etk {
            for &brand in &etk.brands {
                for &t in &etk.types {
                    let mut item = Map::new();
                    item.insert("brandCode".into(), Value::from(brand.to_string()));
                    item.insert("consentTypeChoice".into(), Value::from(t.as_str()));
                    item.insert("consentType".into(), Value::from(ETK));
                    out.push(self.detail(item, self.etk_approvals.get(&(brand, t))));
                }
            }
        }
        if let Some(kvk) = &self.req.kvk {
            for &t in &kvk.types {
                let mut item = Map::new();
                item.insert("consentTypeChoice".into(), Value::from(t));
                item.insert("consentType".into(), Value::from(KVK));
                out.push(self.detail(item, self.kvk_approvals.get(t)));
            }
        }
        out
    }

    /// The `message` of getViaRequest. Fields the request has no value for (a name without a
    /// KVK part, a recipientType without an ETK part) are left out, never null.
    fn message_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("requestId".into(), Value::from(self.id.as_str()));
        m.insert("formId".into(), Value::from(self.req.form_id.as_str()));
        m.insert("source".into(), Value::from(self.req.verification.source()));
        if let Some(kvk) = &self.req.kvk {
            m.insert("recipientName".into(), Value::from(kvk.name.as_str()));
            if let Some(n) = &kvk.id_number {
                m.insert("recipientIdNumber".into(), Value::from(n.as_str()));
            }
        }
        m.insert("iysCode".into(), Value::from(self.iys_code.to_string()));
        m.insert("recipient".into(), Value::from(self.req.recipient.as_str()));
        if let Some(etk) = &self.req.etk {
            m.insert("recipientType".into(), Value::from(etk.recipient_type.as_str()));
        }
        m.insert("consentSource".into(), Value::from(self.req.verification.as_str()));
        m.insert("requestDate".into(), Value::from(format_turkey_millis(self.requested_ms)));
        m.insert("requestDetails".into(), Value::Array(self.details()));
        m.insert("lastStatus".into(), self.last_status());
        Value::Object(m)
    }

    /// `/admin/via`: the request as given, its state, and what IYS sent the recipient.
    fn admin_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("requestId".into(), Value::from(self.id.as_str()));
        m.insert("iysCode".into(), Value::from(self.iys_code));
        m.insert("recipient".into(), Value::from(self.req.recipient.as_str()));
        m.insert("verificationType".into(), Value::from(self.req.verification.as_str()));
        m.insert("formId".into(), Value::from(self.req.form_id.as_str()));
        if let Some(etk) = &self.req.etk {
            let types: Vec<&str> = etk.types.iter().map(|t| t.as_str()).collect();
            m.insert("etk".into(), json!({ "brandCodes": etk.brands, "types": types, "recipientType": etk.recipient_type.as_str() }));
        }
        if let Some(kvk) = &self.req.kvk {
            let mut person = Map::new();
            person.insert("name".into(), Value::from(kvk.name.as_str()));
            if let Some(n) = &kvk.id_number {
                person.insert("recipientIdNumber".into(), Value::from(n.as_str()));
            }
            if let Some(a) = &kvk.address {
                person.insert("address".into(), Value::from(a.as_str()));
            }
            m.insert("kvk".into(), json!({ "types": kvk.types, "personData": person }));
        }
        m.insert("requestDate".into(), Value::from(format_turkey_millis(self.requested_ms)));
        m.insert("expiresAt".into(), Value::from(format_turkey_millis(self.requested_ms + self.req.verification.validity_ms())));
        if !self.otp_codes.is_empty() {
            let codes: Map<String, Value> = self.otp_codes.iter().map(|(t, c)| (t.to_string(), Value::from(c.as_str()))).collect();
            m.insert("otpCodes".into(), Value::Object(codes));
            m.insert("wrongOtpAttempts".into(), Value::from(self.wrong_otps));
        }
        m.insert("state".into(), Value::from(if self.completion.is_some() { "COMPLETED" } else { "WAITING" }));
        if let Some(c) = &self.completion {
            m.insert("completedAt".into(), Value::from(format_turkey_millis(c.at_ms)));
        }
        m.insert("lastStatus".into(), self.last_status());
        m.insert("requestDetails".into(), Value::Array(self.details()));
        Value::Object(m)
    }
}

/// `YYYY-MM-DD HH:mm:ss.SSS`, Turkey time, as getViaRequest's requestDate.
fn format_turkey_millis(utc_ms: i64) -> String {
    format!("{}.{:03}", format_turkey_ms(utc_ms), utc_ms.rem_euclid(1000))
}

/// An e-mail opt-out link.
#[derive(Clone, Debug)]
struct HashLink {
    hash: String,
    url: String,
    iys_code: u64,
    brand_code: u64,
    recipient: String,
    recipient_type: RecipientType,
    issued_ms: i64,
    used_ms: Option<i64>,
}

impl HashLink {
    fn expires_ms(&self) -> i64 {
        self.issued_ms + HASH_LINK_VALIDITY_MS
    }

    fn admin_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("url".into(), Value::from(self.url.as_str()));
        m.insert("hash".into(), Value::from(self.hash.as_str()));
        m.insert("recipient".into(), Value::from(self.recipient.as_str()));
        m.insert("recipientType".into(), Value::from(self.recipient_type.as_str()));
        m.insert("iysCode".into(), Value::from(self.iys_code));
        m.insert("brandCode".into(), Value::from(self.brand_code));
        m.insert("issuedAt".into(), Value::from(format_turkey_ms(self.issued_ms)));
        m.insert("expiresAt".into(), Value::from(format_turkey_ms(self.expires_ms())));
        m.insert("used".into(), Value::from(self.used_ms.is_some()));
        if let Some(u) = self.used_ms {
            m.insert("usedAt".into(), Value::from(format_turkey_ms(u)));
        }
        Value::Object(m)
    }
}

/// Every ViA request and hash link, for the life of the simulator (or until `/admin/reset`).
#[derive(Debug, Default)]
pub struct Via {
    requests: HashMap<String, ViaRequest>,
    /// Request ids in the order they were started.
    order: Vec<String>,
    links: Vec<HashLink>,
    by_hash: HashMap<String, usize>,
}

impl Via {
    /// The account's request, expired first if its time ran out.
    fn request_mut(&mut self, now_ms: i64, iys: Option<u64>, id: &str) -> Option<&mut ViaRequest> {
        let r = self.requests.get_mut(id).filter(|r| iys.is_none_or(|i| r.iys_code == i))?;
        r.expire_if_due(now_ms);
        Some(r)
    }
}

// ---- startViaRequest -----------------------------------------------------------------------------

/// Checks a body in the order IYS's codes are listed for it; the first failure answers.
fn parse_start(body: &Value) -> Result<NewRequest, ViaError> {
    let Some(obj) = body.as_object() else {
        return Err(ViaError::new("H1016"));
    };
    let items = list(obj, "consentTypes", "consentTypes")?;
    let recipient = required(obj, "recipient")?;
    let verification = required(obj, "verificationType")?;
    let form_id = match obj.get("formId") {
        None => return Err(not_found("formId")),
        Some(_) => required(obj, "formId")?,
    };
    let verification = verification.as_str().and_then(Verification::parse).ok_or_else(|| ViaError::new("H1012"))?;
    // An SMS goes to a mobile: the recipient must take a MESAJ consent whatever the types.
    let (channel, code) = if verification.by_sms() { (ConsentType::Mesaj, "H1026") } else { (ConsentType::Eposta, "H1027") };
    let recipient = recipient.as_str().and_then(|r| rules::check_recipient(r, channel).ok()).ok_or_else(|| ViaError::new(code))?;
    let form_id = match form_id {
        Value::Number(n) if n.is_u64() => n.to_string(),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.clone(),
        _ => return Err(ViaError::text("H1029", "'formId' alanı 'integer' tipinde olmalıdır.".into()).with_value(form_id)),
    };
    let mut titled: Vec<(&'static str, &Map<String, Value>)> = Vec::new();
    for item in items {
        let Some((item, title)) = item.as_object().and_then(|o| o.get("title").map(|t| (o, t))) else {
            return Err(not_found("title"));
        };
        let title = match title.as_str() {
            Some("ETK") => ETK,
            Some("KVK") => KVK,
            _ => return Err(ViaError::new("H1013")),
        };
        if titled.iter().any(|(t, _)| *t == title) {
            return Err(ViaError::new("H1060"));
        }
        titled.push((title, item));
    }
    let part = |title: &str| titled.iter().find(|(t, _)| *t == title).map(|(_, o)| *o);
    let etk = part(ETK).map(|o| parse_etk(o, verification)).transpose()?;
    let kvk = part(KVK).map(parse_kvk).transpose()?;
    Ok(NewRequest { recipient, verification, form_id, etk, kvk })
}

fn parse_etk(obj: &Map<String, Value>, verification: Verification) -> Result<Etk, ViaError> {
    let mut brands = Vec::new();
    for b in list(obj, "brandCodes", "brandCodes")? {
        // Every positive integer is a brand of the account, as on the consent routes.
        let brand = b.as_u64().filter(|n| *n > 0).ok_or_else(|| ViaError::new("H1014"))?;
        if !brands.contains(&brand) {
            brands.push(brand);
        }
    }
    let recipient_type = required(obj, "recipientType")?;
    let recipient_type = recipient_type.as_str().and_then(RecipientType::parse).ok_or_else(|| ViaError::new("H1063"))?;
    let given = list(obj, "types", "etkTypes")?;
    let mut types = Vec::new();
    for v in given {
        let t = v.as_str().and_then(ConsentType::parse).ok_or_else(|| invalid_type(v, "MESAJ, ARAMA, EPOSTA"))?;
        if !verification.allows(t) {
            let message = format!(
                "Girdiğiniz '{}' izin tipi, doğrulama tipi '{}' ile uyuşmamaktadır. Uyuşan geçerli değerler: [{}]",
                t.as_str(),
                verification.as_str(),
                verification.allowed_text()
            );
            return Err(ViaError::text("H1086", message).with_value(v));
        }
        if types.contains(&t) {
            if t == ConsentType::Eposta {
                return Err(ViaError::new("H1066").with_value(&Value::Array(given.clone())));
            }
            continue;
        }
        types.push(t);
    }
    Ok(Etk { brands, types, recipient_type })
}

fn parse_kvk(obj: &Map<String, Value>) -> Result<Kvk, ViaError> {
    let mut types = Vec::new();
    for v in list(obj, "types", "kvkTypes")? {
        let t = v.as_str().and_then(|s| KVK_TYPES.iter().find(|k| **k == s).copied()).ok_or_else(|| invalid_type(v, &KVK_TYPES.join(", ")))?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    let person = obj.get("personData").and_then(Value::as_object);
    let name = person.and_then(|p| p.get("name"));
    let name = match name.and_then(Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => return Err(ViaError::text("H1090", "JSON verisinde eksik alanlar: personData.name".into()).with_value(name.unwrap_or(&Value::Null))),
    };
    let id_number = match person.and_then(|p| p.get("recipientIdNumber")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_tc_id_shape(s) => Some(s.clone()),
        Some(v) => return Err(ViaError::new("H1096").with_value(v)),
    };
    let address = person.and_then(|p| p.get("address")).and_then(Value::as_str).map(str::to_string);
    Ok(Kvk { types, name, id_number, address })
}

/// A Turkish identity number's shape: 11 digits, the first not 0 (the check digits are not
/// verified: the document asks for none).
fn is_tc_id_shape(s: &str) -> bool {
    s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0')
}

fn six_digits() -> String {
    format!("{:06}", fastrand::u32(..1_000_000))
}

/// `POST /via/sps/{iysCode}/consent`.
pub fn start(st: &State, req: &Request, iys: u64) -> Response {
    let body = serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::Null);
    let new = match parse_start(&body) {
        Ok(n) => n,
        Err(e) => return e.response(),
    };
    let id = ids::uuid();
    let mut otp_codes = Vec::new();
    if new.verification.is_otp() {
        otp_codes.extend(new.etk.as_ref().map(|_| (ETK, six_digits())));
        otp_codes.extend(new.kvk.as_ref().map(|_| (KVK, six_digits())));
    }
    let request = ViaRequest {
        id: id.clone(),
        iys_code: iys,
        req: new,
        requested_ms: st.clock.now_ms(),
        otp_codes,
        wrong_otps: 0,
        etk_approvals: HashMap::new(),
        kvk_approvals: HashMap::new(),
        completion: None,
    };
    let mut via = lock(&st.via);
    via.requests.insert(id.clone(), request);
    via.order.push(id.clone());
    Response::json(200, &json!({ "message": { "requestId": id }, "code": "OK" }))
}

/// `GET /via/sps/{iysCode}/consent/request/{requestId}`: another account's id is unknown too.
pub fn status(st: &State, iys: u64, request_id: &str) -> Response {
    let now = st.clock.now_ms();
    let mut via = lock(&st.via);
    match via.request_mut(now, Some(iys), request_id) {
        Some(r) => Response::json(200, &json!({ "message": r.message_json(), "code": "OK" })),
        None => ViaError::new("H1112").with_value(&Value::from(request_id)).response(),
    }
}

// ---- the confirmation ------------------------------------------------------------------------------

/// A checked confirmation body.
struct Confirmation {
    request_id: String,
    verification: Verification,
    /// (title, otpCode as given)
    codes: Vec<(&'static str, Value)>,
}

fn parse_confirmation(body: &Value) -> Result<Confirmation, ViaError> {
    let Some(obj) = body.as_object() else {
        return Err(ViaError::new("H1016"));
    };
    let request_id = text_of(required(obj, "requestId")?);
    let verification = required(obj, "verificationType")?;
    let verification = verification.as_str().and_then(Verification::parse).ok_or_else(|| ViaError::new("H1012"))?;
    let mut codes: Vec<(&'static str, Value)> = Vec::new();
    for item in list(obj, "consentTypes", "consentTypes")? {
        let Some((item, title)) = item.as_object().and_then(|o| o.get("title").map(|t| (o, t))) else {
            return Err(not_found("title"));
        };
        let title = match title.as_str() {
            Some("ETK") => ETK,
            Some("KVK") => KVK,
            _ => return Err(ViaError::new("H1013")),
        };
        if codes.iter().any(|(t, _)| *t == title) {
            return Err(ViaError::new("H1060"));
        }
        codes.push((title, required(item, "otpCode")?.clone()));
    }
    Ok(Confirmation { request_id, verification, codes })
}

/// `POST /via/sps/{iysCode}/confirmation`: the recipient's OTP codes, relayed by the provider.
/// Each title given must carry its right code; the titles given are approved in full (a title
/// left out stays "Onay verilmedi"). A wrong code counts as one of the three attempts; the
/// third wrong one ends the request (COMPLETED, OTP_CODE_INCORRECT) and a fourth call is H1050.
pub fn confirm(st: &State, req: &Request, iys: u64) -> Response {
    let body = serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::Null);
    let c = match parse_confirmation(&body) {
        Ok(c) => c,
        Err(e) => return e.response(),
    };
    let now = st.clock.now_ms();
    let mut via = lock(&st.via);
    let Some(r) = via.request_mut(now, Some(iys), &c.request_id) else {
        return ViaError::new("H1030").with_value(&Value::from(c.request_id.as_str())).response();
    };
    if let Some(done) = &r.completion {
        let code = if done.status == "OTP_CODE_INCORRECT" { "H1050" } else { "H1032" };
        return ViaError::new(code).response();
    }
    if !r.req.verification.is_otp() {
        // A link request completes on the link's page, never through this call.
        return ViaError::new("H1033").with_value(&Value::from(c.request_id.as_str())).response();
    }
    if c.verification != r.req.verification {
        return ViaError::new("H1064").response();
    }
    let wrong = c.codes.iter().find(|(title, given)| {
        let given = match given {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        given.is_none() || r.otp_of(title) != given.as_deref()
    });
    if let Some((_, given)) = wrong {
        r.wrong_otps += 1;
        if r.wrong_otps >= OTP_ATTEMPTS {
            r.completion = Some(Completion { status: "OTP_CODE_INCORRECT", at_ms: now });
        }
        return ViaError::new("H1052").with_value(given).response();
    }
    let etk_types = match (&r.req.etk, c.codes.iter().any(|(t, _)| *t == ETK)) {
        (Some(etk), true) => etk.types.clone(),
        _ => Vec::new(),
    };
    let kvk_types = match (&r.req.kvk, c.codes.iter().any(|(t, _)| *t == KVK)) {
        (Some(kvk), true) => kvk.types.clone(),
        _ => Vec::new(),
    };
    let mut store = lock(&st.store);
    let items = r.complete(st, &mut store, now, &etk_types, &kvk_types);
    Response::json(200, &json!({ "message": items, "code": "OK" }))
}

// ---- e-mail opt-out links ---------------------------------------------------------------------------

/// `POST /sps/{iysCode}/brands/{brandCode}/via-hash-links`: a RET link for each recipient whose
/// EPOSTA consent of this brand and recipientType is in ONAY, H568 in its place for any other.
/// Format errors are all reported at once (422, each with the item's `index`), as the consent
/// lists are.
pub fn hash_links(st: &State, req: &Request, iys: u64, brand: u64) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return error_response("H014");
    };
    let Some(obj) = body.as_object() else {
        return error_response("H097");
    };
    let refused = |e: ApiError| Response::json(422, &errors::envelope(&[e]));
    let items = match obj.get("recipients") {
        None => return refused(ApiError::at("H168", "recipients")),
        Some(Value::Array(l)) if l.is_empty() => return refused(ApiError::at("H164", "recipients").with_value(&json!([]))),
        Some(Value::Array(l)) => l,
        Some(other) => return refused(ApiError::at("H478", "recipients").with_value(other)),
    };
    if items.len() > MAX_HASH_LINKS {
        return refused(ApiError::at("H127", "recipients").with_message(H127_HASH_LINKS));
    }
    let mut errs = Vec::new();
    let mut wanted = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let before = errs.len();
        let recipient = match item.get("recipient") {
            None => {
                errs.push(ApiError::at("H114", "recipient"));
                None
            }
            Some(Value::String(r)) => match rules::check_recipient(r, ConsentType::Eposta) {
                Ok(r) => Some(r),
                Err(mut e) => {
                    errs.append(&mut e);
                    None
                }
            },
            Some(v) => {
                errs.push(ApiError::at("H114", "recipient").with_value(v));
                None
            }
        };
        let rt = match item.get("recipientType") {
            None => {
                errs.push(ApiError::at("H170", "recipientType"));
                None
            }
            Some(v) => {
                let rt = v.as_str().and_then(RecipientType::parse);
                if rt.is_none() {
                    errs.push(ApiError::at("H116", "recipientType").with_value(v));
                }
                rt
            }
        };
        for e in &mut errs[before..] {
            e.index = Some(index);
        }
        if let (Some(r), Some(rt)) = (recipient, rt) {
            wanted.push((r, rt));
        }
    }
    if !errs.is_empty() {
        return Response::json(422, &errors::envelope(&errs));
    }
    let now = st.clock.now_ms();
    let approved: Vec<bool> = {
        let mut store = lock(&st.store);
        wanted
            .iter()
            .map(|(r, rt)| {
                let key = ConsentKey { iys_code: iys, brand_code: brand, recipient: r.clone(), recipient_type: *rt, consent_type: ConsentType::Eposta };
                store.current(now, &key).is_some_and(|c| c.status == Status::Onay)
            })
            .collect()
    };
    let base = st.base_url.get().map_or("http://127.0.0.1", String::as_str);
    let mut via = lock(&st.via);
    let answers: Vec<Value> = wanted
        .into_iter()
        .zip(approved)
        .map(|((recipient, recipient_type), onay)| {
            if !onay {
                let (_, message) = errors::describe("H568");
                return json!({ "recipient": recipient, "code": "H568", "message": message });
            }
            let hash = ids::transaction_id();
            let url = format!("{base}/via-ret/{hash}");
            let answer = json!({ "url": url, "recipient": recipient });
            let pos = via.links.len();
            via.by_hash.insert(hash.clone(), pos);
            via.links.push(HashLink { hash, url, iys_code: iys, brand_code: brand, recipient, recipient_type, issued_ms: now, used_ms: None });
            answer
        })
        .collect();
    Response::json(200, &Value::Array(answers))
}

// ---- test controls (`/admin/via...`) ------------------------------------------------------------------

/// Why an admin action on a request cannot be done: (HTTP status, explanation).
pub type Refusal = (u16, String);

/// `GET /admin/via`: every request, oldest first.
pub fn admin_list(st: &State) -> Value {
    let now = st.clock.now_ms();
    let mut guard = lock(&st.via);
    let via = &mut *guard;
    let mut out = Vec::with_capacity(via.order.len());
    for id in &via.order {
        if let Some(r) = via.requests.get_mut(id) {
            r.expire_if_due(now);
            out.push(r.admin_json());
        }
    }
    Value::Array(out)
}

/// `GET /admin/via/{requestId}`.
pub fn admin_get(st: &State, id: &str) -> Result<Value, Refusal> {
    let now = st.clock.now_ms();
    let mut via = lock(&st.via);
    via.request_mut(now, None, id).map(|r| r.admin_json()).ok_or_else(|| unknown(id))
}

fn unknown(id: &str) -> Refusal {
    (404, format!("no ViA request {id}"))
}

fn completed(r: &ViaRequest) -> Refusal {
    let status = r.completion.as_ref().map_or("", |c| c.status);
    (409, format!("ViA request {} is completed already ({status})", r.id))
}

/// `POST /admin/via/{requestId}/approve`: the recipient approved on the link's page (or gave
/// the codes some other way): `etk_types` / `kvk_types` of what was requested (`None`: all);
/// anything not approved stays "Onay verilmedi".
pub fn admin_approve(st: &State, id: &str, etk_types: Option<Vec<ConsentType>>, kvk_types: Option<Vec<String>>) -> Result<Value, Refusal> {
    let now = st.clock.now_ms();
    let mut via = lock(&st.via);
    let r = via.request_mut(now, None, id).ok_or_else(|| unknown(id))?;
    if r.completion.is_some() {
        return Err(completed(r));
    }
    let requested_etk = r.req.etk.as_ref().map_or(Vec::new(), |e| e.types.clone());
    let requested_kvk = r.req.kvk.as_ref().map_or(Vec::new(), |k| k.types.clone());
    let etk_types = etk_types.unwrap_or_else(|| requested_etk.clone());
    if let Some(t) = etk_types.iter().find(|t| !requested_etk.contains(t)) {
        return Err((400, format!("{} was not requested (ETK types: {requested_etk:?})", t.as_str())));
    }
    let kvk_types: Vec<&'static str> = match kvk_types {
        None => requested_kvk.clone(),
        Some(given) => {
            let set: HashSet<&str> = given.iter().map(String::as_str).collect();
            if let Some(t) = set.iter().find(|t| !requested_kvk.contains(t)) {
                return Err((400, format!("{t} was not requested (KVK types: {requested_kvk:?})")));
            }
            requested_kvk.iter().copied().filter(|t| set.contains(t)).collect()
        }
    };
    let mut store = lock(&st.store);
    r.complete(st, &mut store, now, &etk_types, &kvk_types);
    Ok(r.admin_json())
}

/// `POST /admin/via/{requestId}/ignore`: the recipient never answered; the request ends as it
/// would when its time runs out.
pub fn admin_ignore(st: &State, id: &str) -> Result<Value, Refusal> {
    let now = st.clock.now_ms();
    let mut via = lock(&st.via);
    let r = via.request_mut(now, None, id).ok_or_else(|| unknown(id))?;
    if r.completion.is_some() {
        return Err(completed(r));
    }
    r.completion = Some(Completion { status: r.req.verification.expired_status(), at_ms: now });
    Ok(r.admin_json())
}

/// `GET /admin/via-links`: every hash link issued, oldest first.
pub fn admin_links(st: &State) -> Value {
    Value::Array(lock(&st.via).links.iter().map(HashLink::admin_json).collect())
}

/// `POST /admin/via-link/click`: the recipient used an opt-out link. The brand's EPOSTA consent
/// becomes RET (source IYS_EPOSTA, dated now, as a change made in IYS) if it is in ONAY; a
/// consent already RET is left as it is. A used link is 409 H1067 and an expired one 400 H1074,
/// the confirmation operation's answers for hash links.
pub fn admin_click(st: &State, url: &str) -> Result<Value, Response> {
    let now = st.clock.now_ms();
    let mut via = lock(&st.via);
    let hash = url.rsplit('/').next().unwrap_or("");
    let Some(&pos) = via.by_hash.get(hash).filter(|&&p| via.links[p].url == url) else {
        return Err(Response::json(404, &json!({ "error": format!("no hash link {url}") })));
    };
    let link = &mut via.links[pos];
    if link.used_ms.is_some() {
        return Err(ViaError::new("H1067").response());
    }
    if now >= link.expires_ms() {
        let hours = HASH_LINK_VALIDITY_MS / 3_600_000;
        return Err(ViaError::text("H1074", format!("Belirtilen hashId ({hash}) için {hours} saat içinde işlem yapılmamıştır.")).response());
    }
    link.used_ms = Some(now);
    let key = ConsentKey {
        iys_code: link.iys_code,
        brand_code: link.brand_code,
        recipient: link.recipient.clone(),
        recipient_type: link.recipient_type,
        consent_type: ConsentType::Eposta,
    };
    let mut answer = link.admin_json();
    let mut store = lock(&st.store);
    let onay = store.current(now, &key).is_some_and(|c| c.status == Status::Onay);
    answer["changed"] = Value::from(onay);
    if onay {
        let local_secs = now.div_euclid(1000) + TURKEY_OFFSET_SECS;
        let input = ConsentInput {
            recipient: key.recipient.clone(),
            consent_type: ConsentType::Eposta,
            recipient_type: key.recipient_type,
            status: Status::Ret,
            source: Some("IYS_EPOSTA".to_string()),
            consent_date: Some(crate::clock::format_local(local_secs)),
            consent_date_secs: Some(local_secs),
            retailer_code: None,
            retailer_access: None,
        };
        let acc = store.iys_change(now, key.iys_code, key.brand_code, &input, "via/hash-link");
        if let Some(m) = store.last_movement() {
            st.push.movement_recorded(m);
        }
        answer["transactionId"] = Value::from(acc.transaction_id);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels() {
        assert!(Verification::SmsOtp.allows(ConsentType::Mesaj) && Verification::SmsShortUrl.allows(ConsentType::Arama));
        assert!(!Verification::SmsOtp.allows(ConsentType::Eposta));
        assert!(Verification::EpostaApprovalUrl.allows(ConsentType::Eposta) && !Verification::EpostaOtp.allows(ConsentType::Mesaj));
        assert_eq!(Verification::EpostaShortUrl.source(), "IYS_EPOSTA");
        assert_eq!(Verification::SmsShortUrl.source(), "IYS_KISAMESAJ");
    }

    #[test]
    fn shapes() {
        let flat = ViaError::new("H1112").with_value(&Value::from("x")).response();
        let body: Value = serde_json::from_slice(&flat.body).unwrap();
        assert_eq!((flat.status, body["code"].as_str(), body["value"].as_str()), (404, Some("H1112"), Some("x")));
        let object: Value = serde_json::from_slice(&ViaError::new("H1032").response().body).unwrap();
        assert_eq!(object["errors"]["code"], "H1032");
        let list: Value = serde_json::from_slice(&ViaError::new("H1013").response().body).unwrap();
        assert_eq!(list["errors"][0]["code"], "H1013");
    }

    #[test]
    fn identity_numbers() {
        assert!(is_tc_id_shape("11111111111"));
        for bad in ["1111111111", "01111111111", "1111111111a", "111111111111", ""] {
            assert!(!is_tc_id_shape(bad), "{bad}");
        }
    }

    #[test]
    fn millis() {
        assert_eq!(format_turkey_millis(1_038), "1970-01-01 03:00:01.038");
    }
}
