//! İLETİ ViA: asking a recipient for consent through IYS itself. IYS sends the recipient a short
//! link or a one-time code (SMS or e-mail); once the recipient approves, IYS registers the
//! consent with an IYS source. A request asks for ETK (the brands' commercial-message consents:
//! MESAJ, ARAMA, EPOSTA), KVK (the service provider's personal-data texts), or both at once.
//!
//! [`check_via_request`] applies, before anything is queued, the rules IYS's `startViaRequest`
//! answers with its ViA codes (H1005, H1012, H1026, H1027, H1057, H1061, H1063, H1066, H1085,
//! H1086, H1090, H1096 and H1029 for a brand code that is not a number), every problem at once, and
//! hands back the recipient in IYS's form.

use super::email::normalize_email_for_iys;
use super::model::{ConsentType, RecipientType};
use super::phone::normalize_phone;
use super::problem::{CodeInfo, Problem};

/// How IYS reaches the recipient: a short link or a one-time code, by SMS or e-mail, or (for
/// e-mail) an approval link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationType {
    SmsOtp,
    SmsShortUrl,
    EpostaOtp,
    EpostaShortUrl,
    EpostaApprovalUrl,
}

impl VerificationType {
    pub const ALL: &'static [&'static str] = &["SMS_OTP", "SMS_SHORTURL", "EPOSTA_OTP", "EPOSTA_SHORTURL", "EPOSTA_APPROVALURL"];

    pub fn parse(raw: &str) -> Option<VerificationType> {
        Some(match raw.trim().to_ascii_uppercase().as_str() {
            "SMS_OTP" => VerificationType::SmsOtp,
            "SMS_SHORTURL" => VerificationType::SmsShortUrl,
            "EPOSTA_OTP" => VerificationType::EpostaOtp,
            "EPOSTA_SHORTURL" => VerificationType::EpostaShortUrl,
            "EPOSTA_APPROVALURL" => VerificationType::EpostaApprovalUrl,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VerificationType::SmsOtp => "SMS_OTP",
            VerificationType::SmsShortUrl => "SMS_SHORTURL",
            VerificationType::EpostaOtp => "EPOSTA_OTP",
            VerificationType::EpostaShortUrl => "EPOSTA_SHORTURL",
            VerificationType::EpostaApprovalUrl => "EPOSTA_APPROVALURL",
        }
    }

    /// Reached by SMS: the recipient is a phone number and the ETK types are MESAJ and ARAMA.
    pub fn by_sms(self) -> bool {
        matches!(self, VerificationType::SmsOtp | VerificationType::SmsShortUrl)
    }

    /// The recipient types a code (OTP) back to the brand, which confirms it to IYS.
    pub fn uses_otp(self) -> bool {
        matches!(self, VerificationType::SmsOtp | VerificationType::EpostaOtp)
    }
}

/// The KVK (personal data protection law) texts a recipient can be asked to approve.
pub const KVK_TYPES: &[&str] = &["AYDINLATMA_METNI", "ACIK_RIZA_METNI", "YURTDISI_AKTARIM"];

/// One ViA request as given, before checking.
#[derive(Debug, Clone, Default)]
pub struct ViaRequestInput<'a> {
    pub recipient: Option<&'a str>,
    pub verification_type: Option<&'a str>,
    pub form_id: Option<i64>,
    /// ETK: the consent types asked for (MESAJ, ARAMA, EPOSTA) and the brands asking.
    pub etk_types: &'a [Option<&'a str>],
    pub brand_codes: &'a [Option<&'a str>],
    pub recipient_type: Option<&'a str>,
    /// KVK: the texts asked for and the recipient's personal data.
    pub kvk_types: &'a [Option<&'a str>],
    pub person_name: Option<&'a str>,
    pub person_id_number: Option<&'a str>,
}

/// A request IYS would take, in IYS's spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaRequest {
    pub recipient: String,
    pub verification_type: VerificationType,
    pub form_id: i64,
    pub etk_types: Vec<ConsentType>,
    pub brand_codes: Vec<String>,
    pub recipient_type: Option<RecipientType>,
    pub kvk_types: Vec<&'static str>,
}

/// The request in IYS's form, or every problem IYS would answer it with.
pub fn check_via_request(input: &ViaRequestInput<'_>) -> Result<ViaRequest, Vec<Problem>> {
    let mut problems = Vec::new();
    let verification = match input.verification_type.map(str::trim).filter(|v| !v.is_empty()) {
        None => {
            problems.push(empty("verificationType", "verificationType is missing"));
            None
        }
        Some(raw) => {
            let parsed = VerificationType::parse(raw);
            if parsed.is_none() {
                problems.push(Problem::new("H1012", "verificationType", raw, format!("use one of {}", VerificationType::ALL.join(", "))));
            }
            parsed
        }
    };
    let recipient = match (input.recipient.map(str::trim).filter(|r| !r.is_empty()), verification) {
        (None, _) => {
            problems.push(empty("recipient", "recipient is missing"));
            None
        }
        (Some(_), None) => None,
        (Some(raw), Some(v)) if v.by_sms() => match normalize_phone(raw) {
            Ok(phone) => Some(phone),
            Err(p) => {
                problems.push(Problem::new("H1026", "recipient", raw, format!("{} is reached by SMS: {}", v.as_str(), p.message_en)));
                None
            }
        },
        (Some(raw), Some(v)) => match normalize_email_for_iys(raw) {
            Ok(email) => Some(email),
            Err(p) => {
                problems.push(Problem::new("H1027", "recipient", raw, format!("{} is reached by e-mail: {}", v.as_str(), p.message_en)));
                None
            }
        },
    };
    match input.form_id {
        None => problems.push(Problem::new("H1005", "formId", "", "formId is missing: the id of a ViA form approved in IYS Web (ViA Yönetimi)")),
        Some(id) if id <= 0 || id > i64::from(i32::MAX) => {
            problems.push(Problem::new("H1029", "formId", &id.to_string(), "formId is a positive 32-bit integer (IYS Web's ViA form id)"))
        }
        Some(_) => {}
    }
    let given = |list: &[Option<&str>]| list.iter().any(|t| t.is_some_and(|t| !t.trim().is_empty()));
    let asks_etk = given(input.etk_types) || given(input.brand_codes);
    let asks_kvk = given(input.kvk_types) || input.person_name.is_some_and(|n| !n.trim().is_empty());
    if !asks_etk && !asks_kvk {
        problems.push(empty("consentTypes", "ask for ETK (etk_types and brand_codes), KVK (kvk_types), or both"));
    }
    let (etk_types, brand_codes, recipient_type) = if asks_etk { check_etk(input, verification, &mut problems) } else { (Vec::new(), Vec::new(), None) };
    let kvk_types = if asks_kvk { check_kvk(input, &mut problems) } else { Vec::new() };
    match (recipient, verification, input.form_id) {
        (Some(recipient), Some(verification_type), Some(form_id)) if problems.is_empty() => {
            Ok(ViaRequest { recipient, verification_type, form_id, etk_types, brand_codes, recipient_type, kvk_types })
        }
        _ => Err(problems),
    }
}

fn check_etk(
    input: &ViaRequestInput<'_>,
    verification: Option<VerificationType>,
    problems: &mut Vec<Problem>,
) -> (Vec<ConsentType>, Vec<String>, Option<RecipientType>) {
    let mut brands = Vec::new();
    for code in input.brand_codes.iter().map(|c| c.map(str::trim).unwrap_or("")) {
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) || code.len() > 18 {
            problems.push(Problem::new("H1029", "brandCodes", code, "a brand code is IYS's number of the brand"));
        } else if !brands.iter().any(|b| b == code) {
            brands.push(code.to_owned());
        }
    }
    if input.brand_codes.is_empty() {
        problems.push(empty("brandCodes", "an ETK request names the brands asking for consent"));
    }
    let recipient_type = match input.recipient_type.map(str::trim).filter(|r| !r.is_empty()) {
        None => {
            problems.push(empty("recipientType", "recipientType is missing: BIREYSEL or TACIR"));
            None
        }
        Some(raw) => match RecipientType::parse(raw) {
            Ok(t) => Some(t),
            Err(_) => {
                problems.push(Problem::new("H1063", "recipientType", raw, "recipientType must be BIREYSEL or TACIR"));
                None
            }
        },
    };
    let mut types = Vec::new();
    for raw in input.etk_types.iter().map(|t| t.map(str::trim).unwrap_or("")) {
        let Ok(t) = ConsentType::parse(raw) else {
            problems.push(Problem::new("H1085", "types", raw, "an ETK type is MESAJ, ARAMA or EPOSTA"));
            continue;
        };
        if types.contains(&t) {
            // IYS has a code of its own for EPOSTA given twice.
            let code = if t == ConsentType::Eposta { "H1066" } else { "H1061" };
            problems.push(Problem::new(code, "types", raw, "a type is asked for once"));
            continue;
        }
        if let Some(v) = verification {
            if t.uses_phone() != v.by_sms() {
                let fits = if v.by_sms() { "MESAJ, ARAMA" } else { "EPOSTA" };
                problems.push(Problem::new("H1086", "types", raw, format!("{} reaches the recipient by {}: it asks for {fits} only", v.as_str(), if v.by_sms() { "SMS" } else { "e-mail" })));
                continue;
            }
        }
        types.push(t);
    }
    if input.etk_types.is_empty() {
        problems.push(empty("types", "an ETK request names the consent types asked for (etk_types)"));
    }
    (types, brands, recipient_type)
}

fn check_kvk(input: &ViaRequestInput<'_>, problems: &mut Vec<Problem>) -> Vec<&'static str> {
    let mut types: Vec<&'static str> = Vec::new();
    for raw in input.kvk_types.iter().map(|t| t.map(str::trim).unwrap_or("")) {
        let Some(known) = KVK_TYPES.iter().find(|k| k.eq_ignore_ascii_case(raw)) else {
            problems.push(Problem::new("H1085", "kvkTypes", raw, format!("a KVK type is one of {}", KVK_TYPES.join(", "))));
            continue;
        };
        if types.contains(known) {
            problems.push(Problem::new("H1061", "kvkTypes", raw, "a KVK text is asked for once"));
        } else {
            types.push(known);
        }
    }
    if input.kvk_types.is_empty() {
        problems.push(empty("kvkTypes", "a KVK request names the texts asked for (kvk_types)"));
    }
    if input.person_name.is_none_or(|n| n.trim().is_empty()) {
        problems.push(Problem::new("H1090", "personData.name", "", "a KVK request needs the recipient's name"));
    }
    if let Some(id) = input.person_id_number.map(str::trim).filter(|i| !i.is_empty()) {
        if !is_identity_number(id) {
            problems.push(Problem::new("H1096", "personData.recipientIdNumber", id, "a Turkish identity number has 11 digits, the first not 0, and two check digits"));
        }
    }
    types
}

/// H1057 for an empty field, in IYS's words for that field.
fn empty(field: &'static str, message_en: &str) -> Problem {
    Problem::with_tr("H1057", field, "", message_en, &format!("{field} alanı boş veya null olmamalıdır."))
}

/// A Turkish identity number (T.C. kimlik no): 11 digits, the first not 0; the 10th is
/// (7 × (d1+d3+d5+d7+d9) − (d2+d4+d6+d8)) mod 10 and the 11th the sum of the first ten mod 10.
pub fn is_identity_number(id: &str) -> bool {
    let digits: Vec<u32> = id.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 11 || id.len() != 11 || digits[0] == 0 {
        return false;
    }
    let odd: u32 = digits[0..9].iter().step_by(2).sum();
    let even: u32 = digits[1..8].iter().step_by(2).sum();
    let tenth = (7 * odd + 10 * 9 - even) % 10;
    let eleventh = digits[0..10].iter().sum::<u32>() % 10;
    digits[9] == tenth && digits[10] == eleventh
}

const fn info(code: &'static str, http_status: u16, message_tr: &'static str, summary_en: &'static str, retryable: bool) -> CodeInfo {
    CodeInfo { code, http_status, message_tr, summary_en, retryable }
}

/// IYS's ViA codes pg_iys produces locally or reacts to, in code order (IYS's wording, from its
/// document's error table and examples).
pub const VIA_CODES: &[CodeInfo] = &[
    info("H1001", 500, "Via-Manager servisi ile bağlantı sağlanamadı.", "IYS could not reach its ViA manager", true),
    info("H1002", 500, "Open-Api servisi ile bağlantı sağlanamadı.", "IYS could not reach its API service", true),
    info("H1005", 400, "formId bulunamadı.", "a required field is missing", false),
    info("H1012", 400, "verificationType alanı için gereken değerler: SMS_SHORTURL,EPOSTA_SHORTURL, SMS_OTP, EPOSTA_OTP olmalıdır.", "unknown verification type", false),
    info("H1015", 400, "İşleme devam edebilmek için via kontör miktarı yeterli değildir.", "the account's ViA credit is used up", false),
    info("H1019", 500, "Beklenmedik bir hata oluştu!", "unexpected IYS ViA error", true),
    info("H1026", 400, "Alıcı (recipient) için E164 uluslararası([+][country code][area code][local phone number]) formatına uygun bir telefon numarası girilmelidir. (örn. `+905992000000`)", "an SMS verification needs an E.164 phone number", false),
    info("H1027", 400, "Alıcı (recipient) kabul edilemedi. Geçerli bir eposta adresi giriniz.", "an e-mail verification needs a valid e-mail address", false),
    info("H1029", 400, "Alan tipi uygun değil.", "a field has the wrong type", false),
    info("H1052", 400, "Girilen otp kodu geçerli değildir.", "the one-time code is wrong", false),
    info("H1057", 400, "Alan boş veya null olmamalıdır.", "a required field is empty", false),
    info("H1059", 400, "Verilen işlem id ile süreç tamamlama işlemi sırasında beklenmedik bir hata oluştu. Lütfen daha sonra yeniden deneyiniz.", "IYS asks to try again later", true),
    info("H1061", 400, "İzin tipi ismi(name) değeri liste içinde tekrarlanamaz.", "a type is given twice", false),
    info("H1063", 400, "Alıcı tipi (recipientType) için uygun değerler: [BIREYSEL, TACIR] olmalıdır.", "recipientType must be BIREYSEL or TACIR", false),
    info("H1066", 400, "İstekte verilen ETK izni EPOSTA tipi için yalnızca bir adet olmalıdır.", "EPOSTA is asked for once", false),
    info("H1085", 400, "Geçersiz izin tipi. Lütfen geçerli izin tiplerini kullanın.", "unknown consent or KVK type", false),
    info("H1086", 400, "Girdiğiniz izin tipi, doğrulama tipi ile uyuşmamaktadır.", "the type does not fit the verification channel", false),
    info("H1090", 400, "JSON verisinde eksik alanlar: personData.name", "a KVK request needs the recipient's name", false),
    info("H1096", 400, "Girdiğiniz TC kimlik numarası: formata uygun değildir.", "the identity number is not in the right format", false),
    info("H1112", 404, "İlgili requeste ait request detayı bulunamadı!", "IYS knows no such ViA request", false),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(result: Result<ViaRequest, Vec<Problem>>) -> Vec<&'static str> {
        result.err().unwrap_or_default().iter().map(|p| p.code).collect()
    }

    fn etk<'a>(recipient: &'a str, verification: &'a str, types: &'a [Option<&'a str>]) -> ViaRequestInput<'a> {
        ViaRequestInput {
            recipient: Some(recipient),
            verification_type: Some(verification),
            form_id: Some(7),
            etk_types: types,
            brand_codes: &[Some("100001")],
            recipient_type: Some("BIREYSEL"),
            ..Default::default()
        }
    }

    #[test]
    fn an_sms_short_link_for_messages_and_calls_is_taken_with_the_phone_in_iys_form() {
        let request = check_via_request(&etk("0532 123 45 67", "sms_shorturl", &[Some("MESAJ"), Some("arama")])).unwrap();
        assert_eq!(request.recipient, "+905321234567");
        assert_eq!(request.verification_type, VerificationType::SmsShortUrl);
        assert_eq!(request.etk_types, [ConsentType::Mesaj, ConsentType::Arama]);
        assert_eq!(request.brand_codes, ["100001"]);
        assert_eq!(request.recipient_type, Some(RecipientType::Bireysel));
    }

    #[test]
    fn the_recipient_must_fit_the_channel() {
        assert_eq!(codes(check_via_request(&etk("ali@example.com", "SMS_OTP", &[Some("MESAJ")]))), ["H1026"]);
        assert_eq!(codes(check_via_request(&etk("+905321234567", "EPOSTA_SHORTURL", &[Some("EPOSTA")]))), ["H1027"]);
        let email = check_via_request(&etk(" Ali@Example.com ", "EPOSTA_APPROVALURL", &[Some("EPOSTA")])).unwrap();
        assert_eq!(email.recipient, "ali@example.com");
    }

    #[test]
    fn types_must_fit_the_verification_channel() {
        assert_eq!(codes(check_via_request(&etk("+905321234567", "SMS_SHORTURL", &[Some("EPOSTA")]))), ["H1086"]);
        assert_eq!(codes(check_via_request(&etk("ali@example.com", "EPOSTA_OTP", &[Some("MESAJ")]))), ["H1086"]);
        assert_eq!(codes(check_via_request(&etk("+905321234567", "SMS_SHORTURL", &[Some("FAKS")]))), ["H1085"]);
        assert_eq!(codes(check_via_request(&etk("+905321234567", "SMS_SHORTURL", &[Some("MESAJ"), Some("MESAJ")]))), ["H1061"]);
        assert_eq!(codes(check_via_request(&etk("ali@example.com", "EPOSTA_SHORTURL", &[Some("EPOSTA"), Some("eposta")]))), ["H1066"]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let input = ViaRequestInput {
            recipient: None,
            verification_type: Some("SMS_LINK"),
            form_id: None,
            etk_types: &[Some("MESAJ")],
            brand_codes: &[Some("12a")],
            recipient_type: Some("KURUMSAL"),
            ..Default::default()
        };
        assert_eq!(codes(check_via_request(&input)), ["H1012", "H1057", "H1005", "H1029", "H1063"]);
        assert_eq!(codes(check_via_request(&ViaRequestInput::default())), ["H1057", "H1057", "H1005", "H1057"]);
    }

    #[test]
    fn etk_needs_brands_types_and_a_recipient_type() {
        let input = ViaRequestInput { recipient: Some("+905321234567"), verification_type: Some("SMS_OTP"), form_id: Some(1), brand_codes: &[Some("1")], ..Default::default() };
        assert_eq!(codes(check_via_request(&input)), ["H1057", "H1057"]);
        let problems = check_via_request(&input).unwrap_err();
        assert_eq!((problems[0].field, problems[1].field), ("recipientType", "types"));
    }

    #[test]
    fn kvk_needs_a_name_and_a_well_formed_identity_number() {
        let base = ViaRequestInput {
            recipient: Some("+905321234567"),
            verification_type: Some("SMS_SHORTURL"),
            form_id: Some(1),
            kvk_types: &[Some("AYDINLATMA_METNI"), Some("acik_riza_metni")],
            person_name: Some("Aslı Can"),
            person_id_number: Some("10000000146"),
            ..Default::default()
        };
        let request = check_via_request(&base).unwrap();
        assert_eq!(request.kvk_types, ["AYDINLATMA_METNI", "ACIK_RIZA_METNI"]);
        assert!(request.etk_types.is_empty() && request.recipient_type.is_none());
        assert_eq!(codes(check_via_request(&ViaRequestInput { person_name: None, ..base.clone() })), ["H1090"]);
        assert_eq!(codes(check_via_request(&ViaRequestInput { person_id_number: Some("1111111111"), ..base.clone() })), ["H1096"]);
        assert_eq!(codes(check_via_request(&ViaRequestInput { person_id_number: Some("10000000147"), ..base.clone() })), ["H1096"]);
        assert_eq!(codes(check_via_request(&ViaRequestInput { kvk_types: &[Some("SADAKAT")], ..base })), ["H1085"]);
    }

    #[test]
    fn identity_numbers_are_checked_by_their_check_digits() {
        for good in ["10000000146", "11111111110", "12345678950"] {
            assert!(is_identity_number(good), "{good}");
        }
        for bad in ["01234567890", "1000000014", "100000001466", "1000000014a", "12345678951", "١٠٠٠٠٠٠٠١٤٦"] {
            assert!(!is_identity_number(bad), "{bad}");
        }
    }

    #[test]
    fn via_codes_are_sorted_and_described() {
        for pair in VIA_CODES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} before {}", pair[0].code, pair[1].code);
        }
        for info in VIA_CODES {
            assert_eq!(info.code.len(), 5);
            assert!(!info.message_tr.is_empty() && !info.summary_en.is_empty());
        }
    }
}
