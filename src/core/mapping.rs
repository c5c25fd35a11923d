//! Which columns of a master_contact-shaped table hold each channel. The default is D-engage's
//! layout; a JSON object overrides single column names with the same keys `iys.validate_table`
//! takes (D-engage's column names as keys), so one mapping serves both:
//!
//! ```json
//! {"contact_type": "kind", "email": "mail", "gsm": null, "call_permission": "call_ok"}
//! ```
//! `"email": null` / `"gsm": null` drops that channel. The call channel (ARAMA) is synced only
//! when one of `call`, `call_permission`, `call_consent_date`, `call_source` is given; its
//! address defaults to the GSM column. `brand_column` names a per-row brand code column and
//! `row_id` the column identifying a row (default: the primary key).

use super::error::Error;
use super::model::ConsentType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelColumns {
    pub consent_type: ConsentType,
    pub address: String,
    pub permission: String,
    pub consent_date: String,
    pub source: String,
}

/// Every key a mapping may have.
pub const KEYS: &[&str] = &[
    "row_id", "contact_type", "brand_column",
    "email", "email_permission", "email_consent_date", "email_source",
    "gsm", "gsm_permission", "gsm_consent_date", "gsm_source",
    "call", "call_permission", "call_consent_date", "call_source",
];

impl ChannelColumns {
    fn field_mut(&mut self, field: &str) -> &mut String {
        match field {
            "address" => &mut self.address,
            "permission" => &mut self.permission,
            "consent_date" => &mut self.consent_date,
            _ => &mut self.source,
        }
    }

    fn defaults(consent_type: ConsentType) -> ChannelColumns {
        let (address, prefix) = match consent_type {
            ConsentType::Eposta => ("email", "email"),
            ConsentType::Mesaj => ("gsm", "gsm"),
            ConsentType::Arama => ("gsm", "call"),
        };
        ChannelColumns {
            consent_type,
            address: address.to_owned(),
            permission: format!("{prefix}_permission"),
            consent_date: format!("{prefix}_consent_date"),
            source: format!("{prefix}_source"),
        }
    }

    /// The four column names, in a fixed order.
    pub fn columns(&self) -> [&str; 4] {
        [&self.address, &self.permission, &self.consent_date, &self.source]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMapping {
    /// Column holding BIREYSEL/TACIR; None means every row is BIREYSEL.
    pub contact_type: Option<String>,
    /// Column holding the brand code per row; None means the table's fixed brand.
    pub brand_column: Option<String>,
    /// Column identifying a row; None means the table's primary key.
    pub row_id: Option<String>,
    pub channels: Vec<ChannelColumns>,
}

impl Default for TableMapping {
    /// D-engage's master_contact: contact_type, e-mail and GSM channels.
    fn default() -> TableMapping {
        TableMapping {
            contact_type: Some("contact_type".to_owned()),
            brand_column: None,
            row_id: None,
            channels: vec![ChannelColumns::defaults(ConsentType::Eposta), ChannelColumns::defaults(ConsentType::Mesaj)],
        }
    }
}

impl TableMapping {
    /// The default mapping with `json`'s overrides applied (None or `{}` is the default).
    pub fn from_json(json: Option<&str>) -> Result<TableMapping, Error> {
        let mut mapping = TableMapping::default();
        let Some(json) = json else { return Ok(mapping) };
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::Config(format!("mapping is not valid JSON: {e}")))?;
        let serde_json::Value::Object(object) = value else {
            return Err(Error::Config("mapping must be a JSON object".into()));
        };
        let mut call = ChannelColumns::defaults(ConsentType::Arama);
        let mut wants_call = false;
        let mut dropped = Vec::new();
        for (key, value) in &object {
            let name = optional_name(key, value)?;
            let (channel, field) = match key.as_str() {
                "contact_type" => {
                    mapping.contact_type = name;
                    continue;
                }
                "brand_column" => {
                    mapping.brand_column = name;
                    continue;
                }
                "row_id" => {
                    mapping.row_id = name;
                    continue;
                }
                "email" => (ConsentType::Eposta, "address"),
                "gsm" => (ConsentType::Mesaj, "address"),
                "call" => (ConsentType::Arama, "address"),
                other => match other.split_once('_') {
                    Some((prefix @ ("email" | "gsm" | "call"), field @ ("permission" | "consent_date" | "source"))) => {
                        let channel = match prefix {
                            "email" => ConsentType::Eposta,
                            "gsm" => ConsentType::Mesaj,
                            _ => ConsentType::Arama,
                        };
                        (channel, field)
                    }
                    _ => {
                        return Err(Error::Config(format!(
                            "unknown mapping key \"{other}\"; expected {}",
                            KEYS.join(", ")
                        )))
                    }
                },
            };
            let columns = if channel == ConsentType::Arama {
                wants_call = true;
                &mut call
            } else {
                mapping.channels.iter_mut().find(|c| c.consent_type == channel).expect("default channel")
            };
            match name {
                Some(name) => *columns.field_mut(field) = name,
                None if field == "address" => dropped.push(channel),
                None => return Err(Error::Config(format!("mapping key \"{key}\" must name a column"))),
            }
        }
        if wants_call && !dropped.contains(&ConsentType::Arama) {
            if !object.contains_key("call") {
                // The call channel rings the GSM number unless told otherwise.
                if let Some(gsm) = mapping.channels.iter().find(|c| c.consent_type == ConsentType::Mesaj) {
                    call.address = gsm.address.clone();
                }
            }
            mapping.channels.push(call);
        }
        mapping.channels.retain(|c| !dropped.contains(&c.consent_type));
        if mapping.channels.is_empty() {
            return Err(Error::Config("the mapping leaves no channel to sync".into()));
        }
        Ok(mapping)
    }

    /// Every column the mapping names, without duplicates (the address may serve two channels).
    pub fn all_columns(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.contact_type.iter().chain(&self.brand_column).map(String::as_str).collect();
        for channel in &self.channels {
            for name in channel.columns() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

fn optional_name(key: &str, value: &serde_json::Value) -> Result<Option<String>, Error> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if !s.is_empty() => Ok(Some(s.clone())),
        _ => Err(Error::Config(format!("mapping value of \"{key}\" must be a column name or null"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_dengage_layout() {
        let m = TableMapping::from_json(None).unwrap();
        assert_eq!(m.contact_type.as_deref(), Some("contact_type"));
        assert_eq!(
            m.all_columns(),
            ["contact_type", "email", "email_permission", "email_consent_date", "email_source", "gsm", "gsm_permission", "gsm_consent_date", "gsm_source"]
        );
    }

    #[test]
    fn overrides_drop_and_add_channels() {
        let m = TableMapping::from_json(Some(r#"{"contact_type": null, "brand_column": "brand", "email": "mail", "gsm": null, "call_permission": "call_ok"}"#)).unwrap();
        assert_eq!(m.contact_type, None);
        assert_eq!(m.brand_column.as_deref(), Some("brand"));
        assert_eq!(m.channels.len(), 2);
        let arama = m.channels.iter().find(|c| c.consent_type == ConsentType::Arama).unwrap();
        assert_eq!(arama.columns(), ["gsm", "call_ok", "call_consent_date", "call_source"]);
        let eposta = m.channels.iter().find(|c| c.consent_type == ConsentType::Eposta).unwrap();
        assert_eq!(eposta.columns(), ["mail", "email_permission", "email_consent_date", "email_source"]);
        let renamed_gsm = TableMapping::from_json(Some(r#"{"gsm": "phone", "call_source": "cs"}"#)).unwrap();
        let arama = renamed_gsm.channels.iter().find(|c| c.consent_type == ConsentType::Arama).unwrap();
        assert_eq!(arama.columns(), ["phone", "call_permission", "call_consent_date", "cs"]);
    }

    #[test]
    fn bad_mappings_are_clear_errors() {
        for (json, needle) in [
            ("[1]", "must be a JSON object"),
            ("{", "not valid JSON"),
            (r#"{"sms": "x"}"#, "unknown mapping key \"sms\""),
            (r#"{"email_adress": "x"}"#, "unknown mapping key \"email_adress\""),
            (r#"{"email": 3}"#, "must be a column name"),
            (r#"{"email_permission": null}"#, "must name a column"),
            (r#"{"email": null, "gsm": null}"#, "no channel"),
        ] {
            let err = TableMapping::from_json(Some(json)).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
