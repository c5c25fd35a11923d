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

/// 200 answer of `GET .../consents/changes` (schema `AgreementPull`).
#[derive(Debug, Clone, Deserialize)]
pub struct ChangesPage {
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub list: Vec<ChangeItem>,
}

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

/// IYS writes some codes as numbers (`"code": 48`); we keep them as text.
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
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

    #[test]
    fn changes_page_parses() {
        let page: ChangesPage = serde_json::from_str(
            r#"{"after":"abc","list":[{"recipient":"a@b.com","type":"EPOSTA","status":"RET","recipientType":"BIREYSEL","source":"IYS_WEB","consentDate":"2026-11-20 10:00:00","creationDate":"2026-11-20 10:00:01","transactionId":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(page.after.as_deref(), Some("abc"));
        assert_eq!(page.list[0].source.as_deref(), Some("IYS_WEB"));
    }
}
