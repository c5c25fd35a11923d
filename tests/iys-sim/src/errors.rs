//! IYS error codes: their HTTP status and message (from the "HATA KODLARI" table of the
//! OpenAPI document), and the `{"errors":[...]}` envelope IYS answers with.

use serde_json::{json, Map, Value};

use crate::rules::ConsentType;

/// HTTP status and Turkish message IYS uses for a code. Unknown codes map to 500/H015's text so
/// a typo shows up as a server error in tests instead of passing silently.
pub fn describe(code: &str) -> (u16, &'static str) {
    match code {
        "H014" => (400, "Gönderilen istek JSON formatına uygun olmalıdır."),
        "H015" => (500, "Beklenmedik bir hata oluştu."),
        "H084" => (429, "Saatte kabul edilen kimlik doğrulama istek limitine ulaşıldı. Lütfen daha sonra tekrar deneyiniz."),
        "H085" => (400, "İzin ekleme isteği geçerli olmalıdır."),
        "H086" => (429, "Saatte kabul edilen tekil izin durumu sorgulama istek limitine ulaşıldı. Lütfen daha sonra tekrar deneyiniz."),
        "H091" => (422, "İzin ekleme sayısı en fazla 1000 olmalıdır."),
        "H092" => (400, "Çoklu izin ekleme isteği geçerli olmalıdır."),
        // The table's text; the push operations answer H093 with their own texts (see
        // `api::PUSH_USERNAME_MISSING`), as their examples do.
        "H093" => (422, "transactionId bulunamadı."),
        "H097" => (400, "İzin sorgulama isteği geçerli olmalıdır."),
        "H098" => (400, "Günlük izin değişim sorgulama isteği geçerli olmalıdır."),
        "H101" => (500, "Sunucuya esas veri kaydedilemedi."),
        "H110" => (422, "Durum (status) bulunamadı."),
        "H111" => (422, "İzin tipi (type) bulunamadı."),
        "H112" => (422, "İzin tarihi (consentDate) bulunamadı."),
        "H113" => (422, "İzin kaynağı (source) bulunamadı."),
        "H114" => (422, "Alıcı (recipient) bulunamadı."),
        "H115" => (422, "Durum (status) için uygun değerler: ONAY, RET"),
        "H116" => (422, "Alıcı tipi (recipientType) için uygun değerler: BIREYSEL, TACIR"),
        "H117" => (422, "İzin tipi (type) için uygun değerler: ARAMA, MESAJ, EPOSTA"),
        "H118" => (422, "Alan değeri kabul edilemedi. İstek gövdesinde bulunabilecek değerler: recipientType, retailerAccess, recipient, retailerCode, source, type, consentDate, status olmalıdır."),
        "H119" => (422, "İzin kaynağı (source) için uygun değerler: HS_FIZIKSEL_ORTAM, HS_ISLAK_IMZA, HS_WEB, HS_CAGRI_MERKEZI, HS_SOSYAL_MEDYA, HS_EPOSTA, HS_MESAJ, HS_MOBIL, HS_EORTAM, HS_ETKINLIK, HS_2015, HS_ATM, HS_KARAR"),
        "H120" => (422, "Alıcı (recipient) kabul edilemedi. Geçerli bir eposta adresi giriniz."),
        "H121" => (422, "Alıcı (recipient) için E164 uluslararası([+][country code][area code][local phone number]) formatına uygun bir telefon numarası girilmelidir. (örn. +905992000000)"),
        "H124" => (429, "Saniyede kabul edilen istek limitine ulaşıldı. Lütfen daha sonra tekrar deneyiniz."),
        "H126" => (422, "İzin erişimi olan bayilerin (retailer) liste uzunluğu en fazla 3000 olmalıdır."),
        "H127" => (422, "Alıcı listesi (recipients) uzunluğu en fazla 1000 olmalıdır."),
        "H155" => (422, "İzin kaynağı “1 Mayıs 2015 öncesi” olan izinler için, izin tarihi sadece 2015-05-01 00:00:00 olabilir."),
        "H156" => (422, "İzinler için 1 Mayıs 2015’den önceki tarihler kabul edilmemektedir."),
        "H157" => (422, "Geçerli bir tarih girilmelidir."),
        "H158" => (422, "İzin tarihi yyyy-mm-dd hh:mm:ss formatında olmalıdır."),
        "H160" => (422, "Alıcı için telefon numaraları 15 karakterden uzun olmamalıdır."),
        "H162" => (422, "Mevcut tarih ve saatten ileri bir tarih ve saat girilmemelidir."),
        "H163" => (422, "İzin erişimi olan bayilerin (retailer) listesi boş olmamalıdır."),
        "H164" => (422, "Alıcı listesi (recipients) kabul edilemedi. Liste boş olmamalıdır."),
        "H166" => (422, "Alıcı (recipient) kabul edilemedi. Telefon numaraları 15 karakterden uzun olamaz."),
        "H168" => (422, "Alıcı listesi (recipients) bulunamadı."),
        "H170" => (422, "Alıcı tipi (recipientType) bulunamadı."),
        "H174" => (400, "İzin durumu (status) güncellemesi için farklı bir durum girilmelidir. İzin durumu: RET"),
        "H175" => (400, "İlk defa kaydedilen bir iznin durum (status) bilgisi RET olmamalıdır."),
        "H178" => (400, "Sistemdeki iznin tarihinden önceki tarihli izinlerle güncelleme yapılamaz."),
        "H190" => (422, "iysCode integer bir değer olmalıdır."),
        "H191" => (422, "brandCode integer bir değer olmalıdır."),
        "H192" => (503, "İstek zaman aşımına uğradı."),
        "H193" => (422, "Alıcı (recipient) değeri liste içinde tekrarlanamaz."),
        "H194" => (422, "İzin listede daha önce tanımlandı. Liste içinde izinler alıcı tipi (recipientType), tip (type) ve alıcı (recipient) değerleri için tekrarlanamaz."),
        "H198" => (422, "requestId 36 karakterden daha uzun olamaz."),
        "H199" => (422, "requestId sadece harflerden meydana gelemez."),
        "H351" => (401, "Eksik veya geçersiz jeton!"),
        "H353" => (403, "Alan, kullanıcı izinleriyle eşleştirilemiyor"),
        "H400" => (422, "requestId sadece sayılardan meydana gelemez."),
        "H408" => (422, "HS_KARAR kaynağından iletilen izinler için durum bilgisi RET olmalıdır."),
        "H462" => (400, "TACIR izinleri güncellenirken izin tarihi (consentDate) verilmelidir"),
        "H463" => (400, "TACIR izinleri güncellenirken izin kaynağı (source) verilmelidir."),
        // The table's text names MESAJ; answers name the queried type (see [`h464_message`]).
        "H464" => (422, "İzin tipi (type) MESAJ için, alıcı (recipient) telefon formatında olmalıdır."),
        "H467" => (422, "Üç iş günü öncesinde alınan izinler kaydedilemez."),
        "H478" => (422, "Alıcı listesi (recipients) liste olmalıdır."),
        // H501 and H502 are missing from the table; their texts are the daily movement file's
        // (agreementFile) 422 examples.
        "H501" => (422, "Tarih formatı yyyy-aa-gg şeklinde olmalıdır."),
        "H502" => (422, "reportDate alanı en fazla 7 gün önce olabilir."),
        // H520 is missing from the table; release note 1.3.2 gives its text.
        "H520" => (403, "Abonelik durumu PAUSED iken api kullanılamamaktadır"),
        "H521" => (403, "Abonelik durumu CLOSED iken api kullanılamamaktadır."),
        "H524" => (403, "{{iysCode}} için ait abonelik kaydı bulunamadı"),
        "H525" => (422, "Kullanılan izin sayısı maksimum sayıya ulaştığı için yeni izin eklenememektedir."),
        // H530 and H531 are missing from the table; their texts are the push registration's
        // 422 examples (unregistration answers H530 as "Bağlantı kaldırılamadı.").
        "H530" => (422, "Bağlantı oluşturulamadı."),
        "H531" => (422, "Bağlantı linki (url) https ile başlamalıdır."),
        "H586" => (403, "Aboneliğiniz API kullanımını içermemektedir."),
        "H506" => (422, "İzin kaynağı (source) bulunamadı."),
        "H507" => (422, "limit alanı için karakter üst sınırı 1000 olmalıdır."),
        // İLETİ ViA (`crate::via`). Where the operations' examples word a code differently
        // from the table, the examples' text is used; codes whose text names a field or a
        // value ({{...}} in the table) get theirs filled in by `crate::via`.
        "H568" => (200, "Sadece ONAY durumunda olan izinler için link üretilmelidir."),
        "H1005" => (400, "{{requestField}} bulunamadı."),
        "H1010" => (400, "{{verificationType}} | {{consenttypes}} alanına girilen değer uygun değil."),
        "H1012" => (400, "verificationType alanı için gereken değerler: SMS_SHORTURL,EPOSTA_SHORTURL, SMS_OTP, EPOSTA_OTP olmalıdır."),
        "H1013" => (400, "title alanı için gereken değerler: ETK, KVK olmalıdır."),
        "H1014" => (400, "Verilen marka kodları, istekte verilen IYS koda ait değildir."),
        "H1016" => (400, "Gönderilen istek JSON formatına uygun olmalıdır."),
        "H1026" => (400, "Alıcı (recipient) için E164 uluslararası([+][country code][area code][local phone number]) formatına uygun bir telefon numarası girilmelidir. (örn. `+905992000000`)"),
        "H1027" => (400, "Alıcı (recipient) kabul edilemedi. Geçerli bir eposta adresi giriniz."),
        "H1029" => (400, "'{{brandCodes}} | {{title}}' alanı '{{integer}} | {{String}}' tipinde olmalıdır."),
        "H1030" => (400, "Daha önceden işlem başlatılmış bir requestId ile süreç tamamlama işlemi yapılmalıdır."),
        "H1031" => (400, "Kullanılan izin sayısı maksimum sayıya ulaştığı için yeni izin eklenememektedir"),
        "H1032" => (400, "Verilen işlem id için süreç daha önce tamamlanmıştır."),
        "H1033" => (400, "Verilen işlem id için via yönetim bilgileri güncellenmediği için süreç tamamlanamaz."),
        "H1040" => (403, "iysCode, kullanıcı izinleriyle eşleştirilemiyor."),
        "H1045" => (401, "Eksik veya geçersiz jeton!"),
        "H1050" => (400, "Otp kodu maksimum 3 defa hatalı girilebilir."),
        "H1052" => (400, "Girilen otp kodu geçerli değildir."),
        "H1057" => (400, "{{formId, verificationType etc.}} alanı boş veya null olmamalıdır."),
        "H1060" => (400, "İstek tiplerinin(consentTypes) başlık(title) alanları tekrarlı olmamalıdır."),
        "H1063" => (400, "Alıcı tipi (recipientType) için uygun değerler: [BIREYSEL, TACIR] olmalıdır."),
        "H1064" => (400, "Doğrulama tipi (verificationType), işlem başlatma isteğinde belirtilenle uyuşmamaktadır."),
        "H1066" => (400, "İstekte verilen ETK izni EPOSTA tipi için yalnızca bir adet olmalıdır."),
        "H1067" => (409, "Daha önceden kullanılmamış bir hash link için işlem yapılmalıdır."),
        "H1074" => (400, "Belirtilen hashId için saat içinde işlem yapılmamıştır."),
        "H1085" => (400, "Geçersiz izin tipi: {invalidType}. Lütfen geçerli izin tiplerini kullanın: {EPOSTA,ARAMA vb.}"),
        "H1086" => (400, "Girdiğiniz '{EPOSTA}' izin tipi, doğrulama tipi 'SMS_SHORTURL' ile uyuşmamaktadır. Uyuşan geçerli değerler: [MESAJ, ARAMA]"),
        "H1090" => (400, "JSON verisinde eksik alanlar: {{fieldName}}"),
        "H1096" => (400, "Girdiğiniz TC kimlik numarası: formata uygun değildir."),
        "H1112" => (404, "İlgili requeste ait request detayı bulunamadı!"),
        _ => (500, "Beklenmedik bir hata oluştu."),
    }
}

/// H464's text for the queried consent type: the document's multi-status examples say
/// "MESAJ ... telefon" and "EPOSTA ... e-posta", each naming the type of the query.
pub fn h464_message(consent_type: ConsentType) -> &'static str {
    match consent_type {
        ConsentType::Mesaj => "İzin tipi (type) MESAJ için, alıcı (recipient) telefon formatında olmalıdır.",
        ConsentType::Arama => "İzin tipi (type) ARAMA için, alıcı (recipient) telefon formatında olmalıdır.",
        ConsentType::Eposta => "İzin tipi (type) EPOSTA için, alıcı (recipient) e-posta formatında olmalıdır.",
    }
}

/// HTTP status IYS uses for `code`.
pub fn status_of(code: &str) -> u16 {
    describe(code).0
}

/// One entry of the `errors` array. Optional parts are omitted, never null, as IYS does.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: &'static str,
    pub location: Vec<Value>,
    /// The offending value, rendered as a string (the document types `value` as string).
    pub value: Option<String>,
    /// Position of the item in a batch list.
    pub index: Option<usize>,
    /// A text that depends on the request (H464 names the queried type); else the code's own.
    pub message: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: &'static str) -> Self {
        ApiError { code, location: Vec::new(), value: None, index: None, message: None }
    }

    pub fn at(code: &'static str, field: &str) -> Self {
        ApiError { code, location: vec![Value::from(field)], value: None, index: None, message: None }
    }

    pub fn with_value(mut self, value: &Value) -> Self {
        self.value = Some(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        self
    }

    pub fn with_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    pub fn with_message(mut self, message: &'static str) -> Self {
        self.message = Some(message);
        self
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), Value::from(self.code));
        m.insert("message".into(), Value::from(self.message.unwrap_or(describe(self.code).1)));
        if !self.location.is_empty() {
            m.insert("location".into(), Value::Array(self.location.clone()));
        }
        if let Some(v) = &self.value {
            m.insert("value".into(), Value::from(v.as_str()));
        }
        if let Some(i) = self.index {
            m.insert("index".into(), Value::from(i));
        }
        Value::Object(m)
    }
}

/// `{"errors":[...]}` body.
pub fn envelope(errors: &[ApiError]) -> Value {
    json!({ "errors": errors.iter().map(ApiError::to_json).collect::<Vec<_>>() })
}

/// The body of an account-level refusal: `{"errors":[{"code", "message"}]}`, the message being
/// the code's text with `{{iysCode}}` filled in; a 404 has no code.
pub fn account_refusal_body(code: Option<&str>, iys_code: u64) -> Value {
    match code {
        Some(c) => json!({ "errors": [{ "code": c, "message": describe(c).1.replace("{{iysCode}}", &iys_code.to_string()) }] }),
        None => json!({ "errors": [{ "message": "İstenen kaynak bulunamadı." }] }),
    }
}

/// The short `{code, message}` form used inside batch results.
pub fn short(code: &str) -> Value {
    json!({ "code": code, "message": describe(code).1 })
}
