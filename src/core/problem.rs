//! IYS-coded validation problems and the catalogue of IYS error codes we know.
//!
//! A [`Problem`] is one broken IYS rule for one field of one consent record. Validation
//! collects every problem of a record (not just the first) so that a DBA running
//! `iys.validate_table` sees all of them at once.
//!
//! The Turkish texts in [`CODES`] are IYS's own wording, taken from the error-code table and
//! the response examples of IYS's OpenAPI document 3.2.0. The English summaries are ours.

use std::fmt;

/// Longest offending value kept in a [`Problem`]; longer input is cut (on a character
/// boundary) so that a garbage column cannot blow up error reports.
const MAX_VALUE_CHARS: usize = 200;

/// One broken IYS rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// IYS error code, e.g. `"H120"`.
    pub code: &'static str,
    /// IYS field name the problem is about: `recipient`, `type`, `status`, `source`,
    /// `consentDate` or `recipientType`.
    pub field: &'static str,
    /// The offending value as given (cut to 200 characters), or `""` when the value is missing.
    pub value: String,
    /// What is wrong, in English, specific to this value.
    pub message_en: String,
    /// IYS's own Turkish message for the code.
    pub message_tr: String,
}

impl Problem {
    /// A problem whose Turkish text is IYS's catalogue message for `code`.
    pub fn new(
        code: &'static str,
        field: &'static str,
        value: &str,
        message_en: impl Into<String>,
    ) -> Problem {
        let message_tr = code_info(code).map_or("", |info| info.message_tr);
        Problem::with_tr(code, field, value, message_en, message_tr)
    }

    /// A problem with an explicit Turkish text (for codes whose IYS wording depends on context,
    /// such as H464 which names the consent type).
    pub fn with_tr(
        code: &'static str,
        field: &'static str,
        value: &str,
        message_en: impl Into<String>,
        message_tr: &str,
    ) -> Problem {
        Problem {
            code,
            field,
            value: cut_chars(value, MAX_VALUE_CHARS),
            message_en: message_en.into(),
            message_tr: message_tr.to_owned(),
        }
    }
}

impl fmt::Display for Problem {
    /// `H121 recipient '0532 12': <English message>`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(
                f,
                "{} {} (missing): {}",
                self.code, self.field, self.message_en
            )
        } else {
            write!(
                f,
                "{} {} '{}': {}",
                self.code, self.field, self.value, self.message_en
            )
        }
    }
}

/// Static description of one IYS error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    /// HTTP status IYS answers with.
    pub http_status: u16,
    /// IYS's Turkish message.
    pub message_tr: &'static str,
    /// Our English summary.
    pub summary_en: &'static str,
    /// IYS lists the code among those whose request should be sent again.
    pub retryable: bool,
}

const fn info(
    code: &'static str,
    http_status: u16,
    message_tr: &'static str,
    summary_en: &'static str,
    retryable: bool,
) -> CodeInfo {
    CodeInfo {
        code,
        http_status,
        message_tr,
        summary_en,
        retryable,
    }
}

/// The IYS codes pg_iys produces locally or has to react to, in code order.
pub const CODES: &[CodeInfo] = &[
    info("H015", 500, "Beklenmedik bir hata oluştu.", "unexpected IYS server error", true),
    info(
        "H084",
        429,
        "Saatte kabul edilen kimlik doğrulama istek limitine ulaşıldı. Lütfen daha sonra tekrar deneyiniz.",
        "hourly token request limit reached; make no token call for a full hour",
        false,
    ),
    info("H091", 422, "İzin ekleme sayısı en fazla 1000 olmalıdır.", "more than 1000 consents in one request", false),
    info("H101", 500, "Sunucuya esas veri kaydedilemedi.", "IYS could not store the data", true),
    info("H102", 500, "Şifreleme işlemleri yapılamadı.", "IYS encryption failure", true),
    info("H103", 500, "Sunucuda arama yapılamadı.", "IYS search failure", true),
    info("H110", 422, "Durum (status) bulunamadı.", "status is missing", false),
    info("H111", 422, "İzin tipi (type) bulunamadı.", "type is missing", false),
    info("H112", 422, "İzin tarihi (consentDate) bulunamadı.", "consentDate is missing", false),
    info("H113", 422, "İzin kaynağı (source) bulunamadı.", "source is missing", false),
    info("H114", 422, "Alıcı (recipient) bulunamadı.", "recipient is missing", false),
    info("H115", 422, "Durum (status) için uygun değerler: ONAY, RET", "status must be ONAY or RET", false),
    info(
        "H116",
        422,
        "Alıcı tipi (recipientType) için uygun değerler: BIREYSEL, TACIR",
        "recipientType must be BIREYSEL or TACIR",
        false,
    ),
    info(
        "H117",
        422,
        "İzin tipi (type) için uygun değerler: ARAMA, MESAJ, EPOSTA",
        "type must be ARAMA, MESAJ or EPOSTA",
        false,
    ),
    info(
        "H119",
        422,
        "İzin kaynağı (source) için uygun değerler: HS_FIZIKSEL_ORTAM, HS_ISLAK_IMZA, HS_WEB, HS_CAGRI_MERKEZI, HS_SOSYAL_MEDYA, HS_EPOSTA, HS_MESAJ, HS_MOBIL, HS_EORTAM, HS_ETKINLIK, HS_2015, HS_ATM, HS_KARAR",
        "source must be one of the 13 HS_* values",
        false,
    ),
    info(
        "H120",
        422,
        "Alıcı (recipient) kabul edilemedi. Geçerli bir eposta adresi giriniz.",
        "recipient is not a valid e-mail address",
        false,
    ),
    info(
        "H121",
        422,
        "Alıcı (recipient) için E164 uluslararası([+][country code][area code][local phone number]) formatına uygun bir telefon numarası girilmelidir. (örn. +905992000000)",
        "recipient is not a valid E.164 phone number",
        false,
    ),
    info(
        "H123",
        400,
        "Ulaşmaya çalıştığınız servis şu anda meşguldür. Lütfen daha sonra tekrar deneyiniz.",
        "IYS service busy",
        true,
    ),
    info(
        "H124",
        429,
        "Saniyede kabul edilen istek limitine ulaşıldı. Lütfen daha sonra tekrar deneyiniz.",
        "per-second request limit reached",
        true,
    ),
    info(
        "H125",
        422,
        "Tek seferde eklenecek izin sayısı en fazla 1000 olmalıdır.",
        "more than 1000 consents in one request",
        false,
    ),
    info(
        "H155",
        422,
        "İzin kaynağı “1 Mayıs 2015 öncesi” olan izinler için, izin tarihi sadece 2015-05-01 00:00:00 olabilir.",
        "with source HS_2015 the consentDate must be exactly 2015-05-01 00:00:00",
        false,
    ),
    info(
        "H156",
        422,
        "İzinler için 1 Mayıs 2015’den önceki tarihler kabul edilmemektedir.",
        "consentDate before 2015-05-01 00:00:00",
        false,
    ),
    info("H157", 422, "Geçerli bir tarih girilmelidir.", "consentDate is not a real calendar date/time", false),
    info(
        "H158",
        422,
        "İzin tarihi yyyy-mm-dd hh:mm:ss formatında olmalıdır.",
        "consentDate must be formatted YYYY-MM-DD HH:mm:ss",
        false,
    ),
    info(
        "H160",
        422,
        "Alıcı için telefon numaraları 15 karakterden uzun olmamalıdır.",
        "phone number longer than 15 characters",
        false,
    ),
    info(
        "H162",
        422,
        "Mevcut tarih ve saatten ileri bir tarih ve saat girilmemelidir.",
        "consentDate is in the future",
        false,
    ),
    info(
        "H166",
        422,
        "Alıcı (recipient) kabul edilemedi. Telefon numaraları 15 karakterden uzun olamaz.",
        "phone number longer than 15 characters",
        false,
    ),
    info(
        "H174",
        400,
        "İzin durumu (status) güncellemesi için farklı bir durum girilmelidir. İzin durumu: RET",
        "RET sent over a consent that is already RET",
        false,
    ),
    info(
        "H175",
        400,
        "İlk defa kaydedilen bir iznin durum (status) bilgisi RET olmamalıdır.",
        "the first record of a consent cannot be RET",
        false,
    ),
    info(
        "H178",
        400,
        "Sistemdeki iznin tarihinden önceki tarihli izinlerle güncelleme yapılamaz.",
        "consentDate is not later than the stored consent's date",
        false,
    ),
    info("H179", 500, "İzin tarihi karşılaştırması yapılamadı.", "IYS could not compare consent dates", true),
    info("H192", 503, "İstek zaman aşımına uğradı.", "IYS request timed out", true),
    info(
        "H194",
        422,
        "İzin listede daha önce tanımlandı. Liste içinde izinler alıcı tipi (recipientType), tip (type) ve alıcı (recipient) değerleri için tekrarlanamaz.",
        "same recipient, recipientType and type twice in one batch",
        false,
    ),
    info("H351", 401, "Eksik veya geçersiz jeton!", "missing or expired access token", false),
    info(
        "H408",
        422,
        "HS_KARAR kaynağından iletilen izinler için durum bilgisi RET olmalıdır.",
        "source HS_KARAR requires status RET",
        false,
    ),
    info("H412", 500, "Beklenmedik bir hata oluştu.", "unexpected IYS server error", true),
    info(
        "H462",
        400,
        "TACIR izinleri güncellenirken izin tarihi (consentDate) verilmelidir.",
        "a TACIR consent update needs a consentDate",
        false,
    ),
    info(
        "H463",
        400,
        "TACIR izinleri güncellenirken izin kaynağı (source) verilmelidir.",
        "a TACIR consent update needs a source",
        false,
    ),
    info(
        "H464",
        422,
        "İzin tipi (type) MESAJ için, alıcı (recipient) telefon formatında olmalıdır.",
        "recipient kind does not match the consent type (phone vs e-mail)",
        false,
    ),
    info(
        "H467",
        422,
        "Üç iş günü öncesinde alınan izinler kaydedilemez.",
        "consent collected more than 3 business days ago",
        false,
    ),
    info("H470", 500, "Beklenmedik bir hata oluştu.", "unexpected IYS server error", true),
];

/// Catalogue entry of an IYS code, if we know it.
pub fn code_info(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().chain(super::via::VIA_CODES).find(|info| info.code == code)
}

/// Whether IYS says a request failing with `code` should be sent again.
pub fn is_retryable_code(code: &str) -> bool {
    code_info(code).is_some_and(|info| info.retryable)
}

/// `s` cut to at most `max_chars` characters, with `…` appended when cut.
pub(crate) fn cut_chars(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_owned(),
        Some((byte_end, _)) => {
            let mut cut = String::with_capacity(byte_end + 3);
            cut.push_str(&s[..byte_end]);
            cut.push('…');
            cut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_unique_and_complete() {
        for pair in CODES.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} before {}",
                pair[0].code,
                pair[1].code
            );
        }
        for info in CODES {
            assert_eq!(info.code.len(), 4);
            assert!(info.code.starts_with('H'));
            assert!(!info.message_tr.is_empty() && !info.summary_en.is_empty());
        }
    }

    #[test]
    fn retryable_codes_match_iys_list() {
        let retryable: Vec<&str> = CODES
            .iter()
            .filter(|i| i.retryable)
            .map(|i| i.code)
            .collect();
        assert_eq!(
            retryable,
            ["H015", "H101", "H102", "H103", "H123", "H124", "H179", "H192", "H412", "H470"]
        );
        assert!(!is_retryable_code("H084"));
        assert!(!is_retryable_code("H999"));
    }

    #[test]
    fn problem_takes_turkish_text_from_catalogue() {
        let p = Problem::new("H120", "recipient", "ali@", "no domain");
        assert_eq!(
            p.message_tr,
            "Alıcı (recipient) kabul edilemedi. Geçerli bir eposta adresi giriniz."
        );
        assert_eq!(p.to_string(), "H120 recipient 'ali@': no domain");
        let missing = Problem::new("H112", "consentDate", "", "consentDate is required");
        assert_eq!(
            missing.to_string(),
            "H112 consentDate (missing): consentDate is required"
        );
    }

    #[test]
    fn long_values_are_cut_on_char_boundary() {
        let long = "ş".repeat(500);
        let p = Problem::new("H120", "recipient", &long, "x");
        assert_eq!(p.value.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(p.value.ends_with('…'));
        assert_eq!(cut_chars("abc", 3), "abc");
        assert_eq!(cut_chars("abcd", 3), "abc…");
    }
}
