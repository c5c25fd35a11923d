//! IYS's JSON shapes, as the OpenAPI document 3.2.0 defines them. Optional fields are omitted,
//! never sent as null: IYS refuses unknown or null fields (H118).

use serde::{Deserialize, Serialize};

/// One consent as sent to `POST .../consents/request` (schema `Consent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRecord {
    pub recipient: String,
    #[serde(rename = "type")]
    pub consent_type: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    pub status: String,
    /// `YYYY-MM-DD HH:mm:ss`, Turkey time.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub consent_date: Option<String>,
    pub recipient_type: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retailer_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retailer_access: Option<Vec<i64>>,
}

/// `POST /oauth2/token` answer (schema `Oauth2Response`).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenGrant {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub refresh_expires_in: Option<i64>,
}

/// 202 answer of the async batch add (schema `AddMultipleConsentResponse`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchAccepted {
    pub request_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Success,
    Failure,
    Enqueue,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ItemError {
    #[serde(default, deserialize_with = "string_or_number")]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// One element of `GET .../consents/request/{requestId}` (schema `SearchConsentResponse`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemResult {
    pub index: usize,
    pub status: ItemStatus,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub creation_date: Option<String>,
    #[serde(default)]
    pub error: Option<ItemError>,
}

/// `source` parameter of the changes pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullSource {
    /// Changes citizens made in IYS itself (IYS_* sources).
    Iys,
    /// Changes service providers (including us) sent.
    Hs,
}

impl PullSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PullSource::Iys => "IYS",
            PullSource::Hs => "HS",
        }
    }
}

/// 200 answer of `GET .../consents/changes` (schema `AgreementPull`). The items stay as IYS
/// sent them (every field, even ones this version does not know): one item this version cannot
/// read must not fail the page, so each is read on its own when recorded (`ChangeItem::read`,
/// and iys_internal.record_iys_changes, which quarantines what it cannot read).
#[derive(Debug, Clone, Deserialize)]
pub struct ChangesPage {
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub list: Vec<serde_json::Value>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<serde_json::Value>, D::Error> {
    Ok(Option::<Vec<serde_json::Value>>::deserialize(d)?.unwrap_or_default())
}

/// One connection of `POST .../push/registration` (inside `connection`) and the body of
/// `POST .../push/unregistration`: where IYS pushes a brand's IYS_* movements of one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushConnection {
    pub url: String,
    #[serde(rename = "type")]
    pub consent_type: String,
    pub username: String,
    pub password: String,
}

/// One item of `GET .../push/registration`. `status` is IYS's words ("Bağlantı Oluşturuldu",
/// "Bağlantı Oluşturulamadı"), `registerTime` when it came to be.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushStatus {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default, rename = "type")]
    pub consent_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub register_time: Option<String>,
}

/// One movement of a changes page, read. (The worker hands the items to SQL as they came; the
/// tests read them.)
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeItem {
    pub recipient: String,
    #[serde(rename = "type")]
    pub consent_type: String,
    pub status: String,
    #[serde(default)]
    pub recipient_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub consent_date: Option<String>,
    #[serde(default)]
    pub creation_date: Option<String>,
    #[serde(default)]
    pub transaction_id: Option<String>,
}

#[cfg(test)]
impl ChangeItem {
    /// The item of a page read as a movement; an error for one this version cannot read.
    pub fn read(item: &serde_json::Value) -> Result<ChangeItem, serde_json::Error> {
        ChangeItem::deserialize(item)
    }
}

/// 200 answer of `POST .../consents/{recipientType}/status/{type}`: the addresses asked for
/// that are in ONAY, as IYS holds them (e-mails lower-cased). Its `requestId` names the query
/// only; nothing refers to it later, so it is not kept.
#[derive(Debug, Clone, Deserialize)]
pub struct ApprovedRecipients {
    /// A missing or `null` list means nobody asked for is in ONAY.
    #[serde(default)]
    pub list: Option<Vec<String>>,
}

/// The consent IYS holds for one address (schema `ConsentDetailResponse` of
/// `POST .../consents/status`). The schema requires no field; `status` is what makes an answer
/// a consent at all (see [`parse_consent_detail`]), everything else may be missing. It
/// serialises under IYS's own names, missing values omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentDetail {
    pub status: String,
    /// `YYYY-MM-DD HH:mm:ss`, Turkey time; a TACIR consent may have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// An integer in the document, kept as text like every other IYS number we pass on.
    #[serde(default, deserialize_with = "optional_string_or_number", skip_serializing_if = "Option::is_none")]
    pub retailer_code: Option<String>,
}

/// Reads the 200 body of a single status query. IYS does not document how it answers for an
/// address it holds nothing for, so an empty body, `null`, `{}` or any object without a
/// `status` all mean "no consent" (`Ok(None)`); only a body that is not JSON at all, or JSON
/// that is no object, is an error.
pub fn parse_consent_detail(body: &str) -> Result<Option<ConsentDetail>, String> {
    if body.trim().is_empty() {
        return Ok(None);
    }
    let json: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("the consent status is not JSON: {e}"))?;
    match json {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(ref fields) => match fields.get("status") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                serde_json::from_value(json).map(Some).map_err(|e| format!("unreadable consent status: {e}"))
            }
            _ => Ok(None),
        },
        other => Err(format!("the consent status is not a JSON object: {}", type_name(&other))),
    }
}

fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// One line of IYS's daily movement file (`GET .../changes/{reportDate}/file`): a movement of
/// the day, the service provider's or the citizen's. Empty values are `None`. It serialises
/// under the file's column names, empty values omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMovement {
    /// `YYYY-MM-DD HH:mm:ss`, Turkey time: when IYS recorded the movement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    pub transaction_id: String,
    pub recipient: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_type: Option<String>,
    #[serde(rename = "type")]
    pub consent_type: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Separators the daily file might use; the header line tells which.
const FILE_SEPARATORS: [char; 4] = [',', ';', '\t', '|'];

/// Column positions of a daily file, found by header name.
struct FileColumns {
    creation_date: Option<usize>,
    transaction_id: usize,
    recipient: usize,
    recipient_type: Option<usize>,
    consent_type: usize,
    status: usize,
    consent_date: Option<usize>,
    source: Option<usize>,
}

/// Header names compared without case, spaces, `_` or `-` (`transactionId`, `TRANSACTION_ID`).
fn column_key(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
}

impl FileColumns {
    fn from_header(names: &[String]) -> Result<FileColumns, String> {
        let keys: Vec<String> = names.iter().map(|n| column_key(n)).collect();
        let find = |name: &str| keys.iter().position(|k| *k == column_key(name));
        let required = |name: &str| find(name).ok_or_else(|| format!("the daily file has no {name} column (header: {})", names.join(", ")));
        Ok(FileColumns {
            creation_date: find("creationDate"),
            transaction_id: required("transactionId")?,
            recipient: required("recipient")?,
            recipient_type: find("recipientType"),
            consent_type: required("type")?,
            status: required("status")?,
            consent_date: find("consentDate"),
            source: find("source"),
        })
    }

    fn movement(&self, fields: &[String]) -> Result<FileMovement, String> {
        let value = |at: Option<usize>| at.and_then(|i| fields.get(i)).filter(|v| !v.is_empty()).cloned();
        let required = |at: usize, name: &str| value(Some(at)).ok_or_else(|| format!("empty {name}"));
        Ok(FileMovement {
            creation_date: value(self.creation_date),
            transaction_id: required(self.transaction_id, "transactionId")?,
            recipient: required(self.recipient, "recipient")?,
            recipient_type: value(self.recipient_type),
            consent_type: required(self.consent_type, "type")?,
            status: required(self.status, "status")?,
            consent_date: value(self.consent_date),
            source: value(self.source),
        })
    }
}

/// The separator of a header line: the candidate it holds most often (outside quotes).
fn detect_separator(header: &str) -> char {
    let mut best = (0, ',');
    for sep in FILE_SEPARATORS {
        let count = split_fields(header, sep).len() - 1;
        if count > best.0 {
            best = (count, sep);
        }
    }
    best.1
}

/// Splits one line on `sep`, honouring double quotes (`""` inside quotes is a quote), and trims
/// each value. A table row written `|a|b|` loses the empty values outside its outer pipes.
/// Values never span lines: IYS's addresses, codes and dates hold no line break.
fn split_fields(line: &str, sep: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            c if c == sep && !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    let mut fields: Vec<String> = fields.iter().map(|f| f.trim().to_owned()).collect();
    if sep == '|' && line.trim_end().ends_with('|') && fields.len() > 1 {
        fields.pop();
    }
    if sep == '|' && line.trim_start().starts_with('|') && fields.len() > 1 {
        fields.remove(0);
    }
    fields
}

/// A line with nothing in it: blank, separators only, or a table rule such as `|---|---|`.
fn is_empty_row(fields: &[String]) -> bool {
    fields.iter().all(|f| f.chars().all(|c| matches!(c, '-' | ':' | '=' | '+')))
}

/// Reads IYS's daily movement file. The document shows the columns and says the file ends with
/// `\n`, but not its exact CSV dialect, so this takes every plausible one: `,` `;` tab or `|`
/// separators (whichever the header line holds most), a UTF-8 byte-order mark, CRLF line ends,
/// double-quoted values, columns in any order (found by header name, without case), extra
/// columns (ignored), blank lines, and a last line with or without its line break. An empty
/// `creationDate`, `recipientType`, `consentDate` or `source` is `None` (a TACIR consent may
/// have no date or source); a missing `transactionId`, `recipient`, `type` or `status` column,
/// or an empty value in one, is an error naming it (and the line). No text at all is no
/// movement.
pub fn parse_movement_file(text: &str) -> Result<Vec<FileMovement>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let sep = detect_separator(header);
    let columns = FileColumns::from_header(&split_fields(header, sep))?;
    let mut movements = Vec::new();
    for (index, line) in lines {
        let fields = split_fields(line, sep);
        if is_empty_row(&fields) {
            continue;
        }
        movements.push(columns.movement(&fields).map_err(|e| format!("line {} of the daily file: {e}", index + 1))?);
    }
    Ok(movements)
}

/// IYS writes some codes as numbers (`"code": 48`); we keep them as text.
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn optional_string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(string_or_number(d)?).filter(|s| !s.is_empty()))
}

/// One error of an IYS error envelope, whatever its shape: `{"errors":[{...}]}`,
/// `{"errors":{...}}` (InvalidErrorFor422) or `{error, error_description}` (token endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvelopeError {
    pub code: String,
    pub message: String,
    /// Position of the offending item in a batch, when IYS names one.
    pub index: Option<usize>,
    pub location: Option<String>,
    pub value: Option<String>,
}

pub fn parse_error_envelope(body: &str) -> Vec<EnvelopeError> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let text = |v: Option<&serde_json::Value>| -> Option<String> {
        match v? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let one = |e: &serde_json::Value| EnvelopeError {
        code: text(e.get("code")).unwrap_or_default(),
        message: text(e.get("message")).unwrap_or_default(),
        index: e.get("index").and_then(|i| i.as_u64()).map(|i| i as usize),
        location: e.get("location").and_then(|l| match l {
            serde_json::Value::Array(parts) => parts.last().and_then(|p| p.as_str()).map(str::to_owned),
            serde_json::Value::String(s) => Some(s.clone()),
            _ => None,
        }),
        value: text(e.get("value")),
    };
    match json.get("errors") {
        Some(serde_json::Value::Array(items)) => items.iter().map(one).collect(),
        Some(obj @ serde_json::Value::Object(_)) => vec![one(obj)],
        _ => match json.get("error") {
            Some(serde_json::Value::String(code)) => vec![EnvelopeError {
                code: code.clone(),
                message: text(json.get("error_description")).unwrap_or_default(),
                ..Default::default()
            }],
            Some(obj @ serde_json::Value::Object(_)) => vec![one(obj)],
            // A flat `{code, message}` (one shape IYS's H084 may take).
            _ if json.get("code").is_some() => vec![one(&json)],
            _ => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_omitted_not_null() {
        let record = ConsentRecord {
            recipient: "+905321234567".into(),
            consent_type: "MESAJ".into(),
            source: None,
            status: "ONAY".into(),
            consent_date: None,
            recipient_type: "TACIR".into(),
            retailer_code: None,
            retailer_access: None,
        };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(json, r#"{"recipient":"+905321234567","type":"MESAJ","status":"ONAY","recipientType":"TACIR"}"#);
    }

    #[test]
    fn batch_results_parse_with_either_subrequest_spelling_and_numeric_codes() {
        let body = r#"[{"index":0,"status":"success","subrequestId":"a","transactionId":"t1","creationDate":"2026-11-23 10:00:00"},
                       {"index":1,"status":"failure","subRequestId":"b","error":{"code":"H175","message":"ilk RET"}},
                       {"index":2,"status":"enqueue"},
                       {"index":3,"status":"failure","error":{"code":48,"message":"tarih"}}]"#;
        let items: Vec<ItemResult> = serde_json::from_str(body).unwrap();
        assert_eq!(items[0].status, ItemStatus::Success);
        assert_eq!(items[0].transaction_id.as_deref(), Some("t1"));
        assert_eq!(items[1].error.as_ref().unwrap().code, "H175");
        assert_eq!(items[2].status, ItemStatus::Enqueue);
        assert_eq!(items[3].error.as_ref().unwrap().code, "48");
    }

    #[test]
    fn error_envelopes_of_every_shape_parse() {
        let array = parse_error_envelope(r#"{"errors":[{"code":"H467","message":"eski","location":["consentDate"],"value":"2020-01-01 00:00:00","index":3}]}"#);
        assert_eq!(array.len(), 1);
        assert_eq!(array[0].code, "H467");
        assert_eq!(array[0].index, Some(3));
        assert_eq!(array[0].location.as_deref(), Some("consentDate"));
        let object = parse_error_envelope(r#"{"errors":{"code":99,"location":["type"],"value":"MESA","message":"type"}}"#);
        assert_eq!(object[0].code, "99");
        assert_eq!(object[0].value.as_deref(), Some("MESA"));
        let token = parse_error_envelope(r#"{"error":"invalid_grant","error_description":"bad password"}"#);
        assert_eq!(token[0].code, "invalid_grant");
        assert!(parse_error_envelope("<html>502</html>").is_empty());
    }

    /// A movement from its values in the file's column order, `""` for none.
    fn movement([creation, tx, recipient, rt, ty, status, date, source]: [&str; 8]) -> FileMovement {
        let some = |v: &str| Some(v.to_owned()).filter(|v| !v.is_empty());
        FileMovement {
            creation_date: some(creation),
            transaction_id: tx.into(),
            recipient: recipient.into(),
            recipient_type: some(rt),
            consent_type: ty.into(),
            status: status.into(),
            consent_date: some(date),
            source: some(source),
        }
    }

    /// The two movements every dialect below spells.
    fn expected_pair() -> Vec<FileMovement> {
        vec![
            movement(["2020-07-19 23:58:53", "f26a", "ornek@mail.com", "BIREYSEL", "EPOSTA", "ONAY", "2017-06-28 19:39:28", "HS_FIZIKSEL_ORTAM"]),
            movement(["2020-07-19 23:58:54", "576a", "+905320000001", "TACIR", "MESAJ", "RET", "", ""]),
        ]
    }

    #[test]
    fn movement_file_as_the_simulator_writes_it() {
        let text = "creationDate,transactionId,recipient,recipientType,type,status,consentDate,source\n\
                    2020-07-19 23:58:53,f26a,ornek@mail.com,BIREYSEL,EPOSTA,ONAY,2017-06-28 19:39:28,HS_FIZIKSEL_ORTAM\n\
                    2020-07-19 23:58:54,576a,+905320000001,TACIR,MESAJ,RET,,\n";
        assert_eq!(parse_movement_file(text).unwrap(), expected_pair());
    }

    #[test]
    fn movement_file_in_every_plausible_dialect() {
        let dialects = [
            // Semicolons, CRLF, a byte-order mark, every value quoted, no final line break.
            "\u{feff}\"creationDate\";\"transactionId\";\"recipient\";\"recipientType\";\"type\";\"status\";\"consentDate\";\"source\"\r\n\
             \"2020-07-19 23:58:53\";\"f26a\";\"ornek@mail.com\";\"BIREYSEL\";\"EPOSTA\";\"ONAY\";\"2017-06-28 19:39:28\";\"HS_FIZIKSEL_ORTAM\"\r\n\
             \"2020-07-19 23:58:54\";\"576a\";\"+905320000001\";\"TACIR\";\"MESAJ\";\"RET\";\"\";\"\"",
            // Tabs, columns in another order, an extra column, upper-case names, blank lines.
            "\n\nSTATUS\tTYPE\tRECIPIENT\tTRANSACTIONID\tbrandCode\tSOURCE\tCONSENTDATE\tRECIPIENTTYPE\tCREATIONDATE\n\n\
             ONAY\tEPOSTA\tornek@mail.com\tf26a\t700001\tHS_FIZIKSEL_ORTAM\t2017-06-28 19:39:28\tBIREYSEL\t2020-07-19 23:58:53\n\
             \t\t\t\t\t\t\t\t\n\
             RET\tMESAJ\t+905320000001\t576a\t700001\t\t\tTACIR\t2020-07-19 23:58:54\n\n",
            // The document's own example: a pipe table with padded values and a rule line.
            "|creationDate       |transactionId|recipient      |recipientType|type  |status|consentDate        |source           |\n\
             |-------------------|-------------|---------------|-------------|------|------|-------------------|-----------------|\n\
             |2020-07-19 23:58:53|f26a         |ornek@mail.com |BIREYSEL     |EPOSTA|ONAY  |2017-06-28 19:39:28|HS_FIZIKSEL_ORTAM|\n\
             |2020-07-19 23:58:54|576a         |+905320000001  |TACIR        |MESAJ |RET   |                   |                 |\n",
            // Pipes without the outer ones; snake_case names; a short last row.
            "creation_date|transaction_id|recipient|recipient_type|type|status|consent_date|source\n\
             2020-07-19 23:58:53|f26a|ornek@mail.com|BIREYSEL|EPOSTA|ONAY|2017-06-28 19:39:28|HS_FIZIKSEL_ORTAM\n\
             2020-07-19 23:58:54|576a|+905320000001|TACIR|MESAJ|RET",
        ];
        for text in dialects {
            assert_eq!(parse_movement_file(text), Ok(expected_pair()), "{text:?}");
        }
    }

    #[test]
    fn movement_file_quotes_may_hold_separators_and_quotes() {
        let text = "transactionId,recipient,type,status,source\n\"t,1\",\"a\"\"b@mail.com\",EPOSTA,ONAY, HS_WEB \n";
        let got = parse_movement_file(text).unwrap();
        assert_eq!((got[0].transaction_id.as_str(), got[0].recipient.as_str()), ("t,1", "a\"b@mail.com"));
        assert_eq!(got[0].source.as_deref(), Some("HS_WEB"));
        assert_eq!((got[0].creation_date.as_ref(), got[0].recipient_type.as_ref(), got[0].consent_date.as_ref()), (None, None, None));
    }

    #[test]
    fn movement_file_without_movements() {
        for text in ["", "\n", "\u{feff}", "creationDate,transactionId,recipient,recipientType,type,status,consentDate,source\n", "transactionId;recipient;type;status"] {
            assert_eq!(parse_movement_file(text), Ok(Vec::new()), "{text:?}");
        }
    }

    #[test]
    fn movement_file_without_a_required_column_or_value_is_an_error_naming_it() {
        let full = ["creationDate", "transactionId", "recipient", "recipientType", "type", "status", "consentDate", "source"];
        for missing in ["transactionId", "recipient", "type", "status"] {
            let header: Vec<&str> = full.iter().copied().filter(|c| *c != missing).collect();
            let err = parse_movement_file(&format!("{}\n", header.join(","))).unwrap_err();
            assert!(err.contains(&format!("no {missing} column")), "{missing}: {err}");
        }
        let err = parse_movement_file("transactionId,recipient,type,status\nt1,+905320000001,MESAJ,ONAY\nt2,,MESAJ,RET\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("empty recipient"), "{err}");
        let err = parse_movement_file("transactionId,recipient,type,status\n,+905320000001,MESAJ,ONAY\n").unwrap_err();
        assert!(err.contains("empty transactionId"), "{err}");
        assert!(parse_movement_file("not a csv file at all\n").unwrap_err().contains("no transactionId column"));
    }

    #[test]
    fn movements_serialise_under_the_file_column_names() {
        let json = serde_json::to_value(&expected_pair()[1]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"creationDate": "2020-07-19 23:58:54", "transactionId": "576a", "recipient": "+905320000001",
                               "recipientType": "TACIR", "type": "MESAJ", "status": "RET"})
        );
    }

    #[test]
    fn consent_detail_or_no_consent() {
        for none in ["", "  ", "{}", "null", r#"{"recipient":"+905320000001"}"#, r#"{"status":""}"#, r#"{"status":null}"#] {
            assert_eq!(parse_consent_detail(none), Ok(None), "{none:?}");
        }
        let full = r#"{"consentDate":"2020-07-08 07:07:07","source":"HS_CAGRI_MERKEZI","recipientType":"BIREYSEL","status":"ONAY",
                       "type":"EPOSTA","recipient":"ornekeposta@ornekeposta.com","retailerCode":55550127,"creationDate":"2020-08-06 15:50:23",
                       "retailerTitle":"XYZ TİCARET","retailerAccessCount":3,"transactionId":"abc623"}"#;
        let detail = parse_consent_detail(full).unwrap().unwrap();
        assert_eq!(detail.status, "ONAY");
        assert_eq!(detail.consent_date.as_deref(), Some("2020-07-08 07:07:07"));
        assert_eq!(detail.creation_date.as_deref(), Some("2020-08-06 15:50:23"));
        assert_eq!(detail.source.as_deref(), Some("HS_CAGRI_MERKEZI"));
        assert_eq!(detail.transaction_id.as_deref(), Some("abc623"));
        assert_eq!(detail.retailer_code.as_deref(), Some("55550127"));
        let tacir = parse_consent_detail(r#"{"status":"RET","retailerCode":null}"#).unwrap().unwrap();
        assert_eq!((tacir.consent_date, tacir.source, tacir.retailer_code), (None, None, None));
        assert_eq!(serde_json::to_string(&parse_consent_detail(r#"{"status":"RET","transactionId":"t"}"#).unwrap().unwrap()).unwrap(), r#"{"status":"RET","transactionId":"t"}"#);
        assert!(parse_consent_detail("<html>502</html>").is_err());
        assert!(parse_consent_detail("[]").is_err());
    }

    #[test]
    fn approved_lists_tolerate_null_and_absence() {
        for (body, want) in [(r#"{"requestId":"r","list":["a@b.com"]}"#, vec!["a@b.com"]), (r#"{"requestId":"r","list":null}"#, vec![]), (r#"{"requestId":"r"}"#, vec![])] {
            let answer: ApprovedRecipients = serde_json::from_str(body).unwrap();
            assert_eq!(answer.list.unwrap_or_default(), want, "{body}");
        }
    }

    #[test]
    fn changes_page_parses() {
        let page: ChangesPage = serde_json::from_str(
            r#"{"after":"abc","list":[{"recipient":"a@b.com","type":"EPOSTA","status":"RET","recipientType":"BIREYSEL","source":"IYS_WEB","consentDate":"2026-11-20 10:00:00","creationDate":"2026-11-20 10:00:01","transactionId":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(page.after.as_deref(), Some("abc"));
        assert_eq!(ChangeItem::read(&page.list[0]).unwrap().source.as_deref(), Some("IYS_WEB"));
    }

    #[test]
    fn push_connections_are_written_and_read_as_the_document_shows() {
        let c = PushConnection { url: "https://push.example.com/iys".into(), consent_type: "EPOSTA".into(), username: "Api123".into(), password: "p".into() };
        assert_eq!(serde_json::to_value(&c).unwrap(), serde_json::json!({"url": "https://push.example.com/iys", "type": "EPOSTA", "username": "Api123", "password": "p"}));
        let listed: Vec<PushStatus> = serde_json::from_str(
            r#"[{"url":"https://iys.org.tr/sp/10001/brands/10001/push","type":"ARAMA","registerTime":"2021-12-01 13:36:31","status":"Bağlantı Oluşturuldu"}]"#,
        )
        .unwrap();
        assert_eq!(listed[0].status.as_deref(), Some("Bağlantı Oluşturuldu"));
        assert_eq!(listed[0].register_time.as_deref(), Some("2021-12-01 13:36:31"));
    }

    #[test]
    fn an_unreadable_item_does_not_fail_its_page() {
        let page: ChangesPage = serde_json::from_str(
            r#"{"after":"abc","list":[{"recipient":null,"type":"MESAJ","status":7,"citizenName":"x"},{"recipient":"+905320000001","type":"MESAJ","status":"RET","source":"IYS_3338"}]}"#,
        )
        .unwrap();
        assert_eq!(page.list.len(), 2);
        assert!(ChangeItem::read(&page.list[0]).is_err());
        assert_eq!(page.list[0]["citizenName"], "x", "kept as IYS sent it");
        assert_eq!(ChangeItem::read(&page.list[1]).unwrap().source.as_deref(), Some("IYS_3338"));
        let empty: ChangesPage = serde_json::from_str(r#"{"after":null,"list":null}"#).unwrap();
        assert!(empty.list.is_empty());
    }
}
