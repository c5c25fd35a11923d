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
//! `row_id` the column identifying a row (default: the primary key), `local_only` a boolean
//! column that keeps a row out of IYS (neither checked nor sent). `retailer_code` (a column, or
//! an 8-digit code for every row) and `retailer_access` (a column of codes, or a list for every
//! row) send the retailer (bayi) with each consent.
//!
//! A permission column in the table's own vocabulary gets a value map,
//! `"gsm_permission_values": {"ONAY": ["E", "Evet"], "RET": ["H", "Hayır"]}`: values are matched
//! trimmed and case-insensitively, and the first of each list is what pg_iys writes into the
//! column (a citizen's change pulled from IYS). A boolean column needs no map (true is ONAY).
//! `"email_permission": null` drops the channel, like `"email": null`.
//! A source column in free text gets a source map, `"gsm_source_values": {"web sitesi": "HS_WEB",
//! "mağaza": "HS_FIZIKSEL_ORTAM", "*": "HS_WEB"}` (`*`: any other value); matched trimmed and
//! case-insensitively; an `HS_*` value written as such needs no entry.

use super::error::Error;
use super::model::{ConsentStatus, ConsentType, RecipientType};

/// A stored value as value maps compare it: without surrounding whitespace, lower-cased (all of
/// Unicode: 'MAĞAZA' is 'mağaza'), and with Turkish dotted and dotless i alike ('FİRMA',
/// 'FIRMA', 'fırma' are 'firma'), since the same word is typed on Turkish and other keyboards.
/// The SQL side calls the same function (`iys.fold_value`), so the row check and the statement
/// that queues the row read a value the same way.
pub fn fold(value: &str) -> String {
    value.trim().to_lowercase().replace('\u{0307}', "").replace('ı', "i")
}

/// A value map `{"LABEL": "value" | ["value", …], …}` whose keys are all among `labels`: each
/// label's values as given (None where the label is missing); Err for any other shape.
fn value_lists<const N: usize>(value: &serde_json::Value, labels: [&str; N]) -> Result<[Option<Vec<String>>; N], ()> {
    let serde_json::Value::Object(object) = value else { return Err(()) };
    if object.keys().any(|k| !labels.contains(&k.as_str())) {
        return Err(());
    }
    let mut lists: [Option<Vec<String>>; N] = std::array::from_fn(|_| None);
    for (list, label) in lists.iter_mut().zip(labels) {
        *list = match object.get(label) {
            None => None,
            Some(serde_json::Value::String(s)) => Some(vec![s.clone()]),
            Some(serde_json::Value::Array(items)) => Some(items.iter().map(|i| i.as_str().map(str::to_owned)).collect::<Option<_>>().ok_or(())?),
            Some(_) => return Err(()),
        };
    }
    Ok(lists)
}

/// How a contact-type column spells BIREYSEL and TACIR:
/// `"contact_type_values": {"BIREYSEL": ["B", "Şahıs"], "TACIR": ["T", "Firma"]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactTypeValues {
    pub bireysel: Vec<String>,
    pub tacir: Vec<String>,
}

impl ContactTypeValues {
    pub fn from_json(key: &str, value: &serde_json::Value) -> Result<ContactTypeValues, Error> {
        let [bireysel, tacir] = value_lists(value, ["BIREYSEL", "TACIR"]).map_err(|()| {
            Error::Config(format!("mapping value of \"{key}\" must be an object like {{\"BIREYSEL\": [\"B\"], \"TACIR\": [\"T\"]}}"))
        })?;
        Ok(ContactTypeValues { bireysel: bireysel.unwrap_or_default(), tacir: tacir.unwrap_or_default() })
    }

    /// Every value folded (as `iys.fold_value` returns it) with the type it stands for.
    pub fn folded(&self) -> impl Iterator<Item = (String, RecipientType)> + '_ {
        let bireysel = self.bireysel.iter().map(|v| (fold(v), RecipientType::Bireysel));
        bireysel.chain(self.tacir.iter().map(|v| (fold(v), RecipientType::Tacir)))
    }

    pub fn type_of(&self, value: &str) -> Option<RecipientType> {
        let value = fold(value);
        if self.bireysel.iter().any(|v| fold(v) == value) {
            Some(RecipientType::Bireysel)
        } else if self.tacir.iter().any(|v| fold(v) == value) {
            Some(RecipientType::Tacir)
        } else {
            None
        }
    }

    pub fn describe(&self) -> String {
        format!("{} (BIREYSEL) or {} (TACIR)", self.bireysel.join(", "), self.tacir.join(", "))
    }
}

/// A retailer setting: a column of each row, or one value for the whole table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retailer<T> {
    Column(String),
    Fixed(T),
}

fn retailer_setting<T>(key: &str, value: &serde_json::Value, fixed: impl Fn(&serde_json::Value) -> Option<T>) -> Result<Option<Retailer<T>>, Error> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(column) if !column.is_empty() => Ok(Some(Retailer::Column(column.clone()))),
        other => fixed(other).map(|v| Some(Retailer::Fixed(v))).ok_or_else(|| {
            Error::Config(format!("mapping value of \"{key}\" must be a column name or IYS's 8-digit retailer code(s)"))
        }),
    }
}

/// How a permission column spells ONAY and RET (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionValues {
    pub onay: Vec<String>,
    pub ret: Vec<String>,
}

impl PermissionValues {
    pub fn from_json(key: &str, value: &serde_json::Value) -> Result<PermissionValues, Error> {
        let bad = || Error::Config(format!("mapping value of \"{key}\" must be an object like {{\"ONAY\": [\"E\"], \"RET\": [\"H\"]}}"));
        let [onay, ret] = value_lists(value, ["ONAY", "RET"]).map_err(|()| bad())?;
        let checked = |status: &str, values: Option<Vec<String>>| -> Result<Vec<String>, Error> {
            let values: Vec<String> = values.ok_or_else(bad)?.iter().map(|v| v.trim().to_owned()).collect();
            if values.is_empty() || values.iter().any(String::is_empty) {
                return Err(Error::Config(format!("\"{key}\" needs at least one non-empty value for {status}")));
            }
            Ok(values)
        };
        let values = PermissionValues { onay: checked("ONAY", onay)?, ret: checked("RET", ret)? };
        if let Some(both) = values.onay.iter().find(|o| values.ret.iter().any(|r| fold(r) == fold(o))) {
            return Err(Error::Config(format!("\"{key}\" gives \"{both}\" for both ONAY and RET")));
        }
        Ok(values)
    }

    /// Every value folded (as `iys.fold_value` returns it) with the status it stands for: the
    /// arms of the SQL that reads the column.
    pub fn folded(&self) -> impl Iterator<Item = (String, ConsentStatus)> + '_ {
        let onay = self.onay.iter().map(|v| (fold(v), ConsentStatus::Onay));
        onay.chain(self.ret.iter().map(|v| (fold(v), ConsentStatus::Ret)))
    }

    /// The status a stored value stands for; None for a value outside the map.
    pub fn status_of(&self, value: &str) -> Option<ConsentStatus> {
        let value = fold(value);
        let matches = |list: &[String]| list.iter().any(|v| fold(v) == value);
        if matches(&self.onay) {
            Some(ConsentStatus::Onay)
        } else if matches(&self.ret) {
            Some(ConsentStatus::Ret)
        } else {
            None
        }
    }

    /// What pg_iys writes into the column for `status`.
    pub fn written(&self, status: ConsentStatus) -> &str {
        match status {
            ConsentStatus::Onay => &self.onay[0],
            ConsentStatus::Ret => &self.ret[0],
        }
    }

    /// Every accepted value, for messages.
    pub fn describe(&self) -> String {
        format!("{} (ONAY) or {} (RET)", self.onay.join(", "), self.ret.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelColumns {
    pub consent_type: ConsentType,
    pub address: String,
    pub permission: String,
    pub consent_date: String,
    pub source: String,
    /// The permission column's own spelling of ONAY and RET, when it is not ONAY/RET.
    pub permission_values: Option<PermissionValues>,
    /// Free-text sources and the HS_* source each stands for (`*`: any other value).
    pub source_values: Option<SourceValues>,
}

/// A source column's own vocabulary (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceValues {
    /// (value lower-cased and trimmed, HS_* source)
    pub values: Vec<(String, String)>,
    /// The source of any value not listed (`*`).
    pub otherwise: Option<String>,
}

impl SourceValues {
    pub fn from_json(key: &str, value: &serde_json::Value) -> Result<SourceValues, Error> {
        let serde_json::Value::Object(object) = value else {
            return Err(Error::Config(format!("mapping value of \"{key}\" must be an object like {{\"web sitesi\": \"HS_WEB\", \"*\": \"HS_FIZIKSEL_ORTAM\"}}")));
        };
        let mut values = SourceValues { values: Vec::new(), otherwise: None };
        for (from, to) in object {
            let to = to.as_str().map(str::trim).filter(|t| super::model::ConsentSource::INPUT.contains(t)).ok_or_else(|| {
                Error::Config(format!("\"{key}\" maps \"{from}\" to {to}, which is not one of {}", super::model::ConsentSource::INPUT.join(", ")))
            })?;
            if from == "*" {
                values.otherwise = Some(to.to_owned());
            } else {
                values.values.push((fold(from), to.to_owned()));
            }
        }
        Ok(values)
    }

    /// The HS_* source `value` stands for; None: not in the map (it is then taken as written).
    pub fn source_of(&self, value: &str) -> Option<&str> {
        let value = fold(value);
        let listed = self.values.iter().find(|(from, _)| *from == value).map(|(_, to)| to.as_str());
        // IYS's own names (HS_*, and IYS_* that a pulled change wrote) are never re-mapped by `*`.
        let named = value.starts_with("hs_") || value.starts_with("iys_");
        listed.or(if named { None } else { self.otherwise.as_deref() })
    }
}

/// Every key a mapping may have.
pub const KEYS: &[&str] = &[
    "row_id", "contact_type", "contact_type_values", "recipient_type", "brand_column", "local_only", "retailer_code", "retailer_access",
    "email", "email_permission", "email_consent_date", "email_source", "email_permission_values", "email_source_values",
    "gsm", "gsm_permission", "gsm_consent_date", "gsm_source", "gsm_permission_values", "gsm_source_values",
    "call", "call_permission", "call_consent_date", "call_source", "call_permission_values", "call_source_values",
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
            permission_values: None,
            source_values: None,
        }
    }

    /// The prefix of the channel's mapping keys: email, gsm or call.
    pub fn key(&self) -> &'static str {
        match self.consent_type {
            ConsentType::Eposta => "email",
            ConsentType::Mesaj => "gsm",
            ConsentType::Arama => "call",
        }
    }

    /// The four column names, in a fixed order (the source is "" when the channel has none).
    pub fn columns(&self) -> [&str; 4] {
        [&self.address, &self.permission, &self.consent_date, &self.source]
    }

    /// The source of every movement when the channel has no source column.
    pub fn fixed_source(&self) -> Option<&str> {
        if !self.source.is_empty() {
            return None;
        }
        self.source_values.as_ref().and_then(|v| v.otherwise.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMapping {
    /// Column holding BIREYSEL/TACIR; None means every row is BIREYSEL.
    pub contact_type: Option<String>,
    /// The contact-type column's own spelling of BIREYSEL and TACIR, if any.
    pub contact_type_values: Option<ContactTypeValues>,
    /// The recipient type of rows without a contact type (default BIREYSEL).
    pub recipient_type: RecipientType,
    /// Column holding the brand code per row; None means the table's fixed brand.
    pub brand_column: Option<String>,
    /// A boolean column: a row where it is true stays local (neither checked nor sent), e.g. a
    /// non-citizen's contact or a row the application must not report.
    pub local_only: Option<String>,
    /// The retailer that collected the consent, and the retailers that may see it.
    pub retailer_code: Option<Retailer<i64>>,
    pub retailer_access: Option<Retailer<Vec<i64>>>,
    /// Column identifying a row; None means the table's primary key.
    pub row_id: Option<String>,
    pub channels: Vec<ChannelColumns>,
}

impl Default for TableMapping {
    /// D-engage's master_contact: contact_type, e-mail and GSM channels.
    fn default() -> TableMapping {
        TableMapping {
            contact_type: Some("contact_type".to_owned()),
            contact_type_values: None,
            recipient_type: RecipientType::Bireysel,
            brand_column: None,
            local_only: None,
            retailer_code: None,
            retailer_access: None,
            row_id: None,
            channels: vec![ChannelColumns::defaults(ConsentType::Eposta), ChannelColumns::defaults(ConsentType::Mesaj)],
        }
    }
}

impl TableMapping {
    pub fn retailer_code_column(&self) -> Option<&str> {
        match &self.retailer_code {
            Some(Retailer::Column(c)) => Some(c),
            _ => None,
        }
    }

    pub fn retailer_access_column(&self) -> Option<&str> {
        match &self.retailer_access {
            Some(Retailer::Column(c)) => Some(c),
            _ => None,
        }
    }

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
            match key.as_str() {
                "contact_type_values" => {
                    mapping.contact_type_values = Some(ContactTypeValues::from_json(key, value)?);
                    continue;
                }
                "recipient_type" => {
                    mapping.recipient_type = value.as_str().and_then(|t| RecipientType::parse(t).ok()).ok_or_else(|| {
                        Error::Config("mapping value of \"recipient_type\" must be \"BIREYSEL\" or \"TACIR\" (the type of rows without a contact type)".into())
                    })?;
                    continue;
                }
                "retailer_code" => {
                    mapping.retailer_code = retailer_setting(key, value, |v| {
                        v.as_i64().filter(|n| super::retailer::parse_code(&n.to_string(), "retailerCode").is_ok())
                    })?;
                    continue;
                }
                "retailer_access" => {
                    mapping.retailer_access = retailer_setting(key, value, |v| {
                        let list: Vec<String> = v.as_array()?.iter().map(|i| i.as_i64().map(|n| n.to_string())).collect::<Option<_>>()?;
                        super::retailer::parse_access(&list.join(",")).ok()
                    })?;
                    continue;
                }
                _ => {}
            }
            if let Some((prefix, map)) = key.strip_suffix("_permission_values").map(|p| (p, "permission")).or_else(|| key.strip_suffix("_source_values").map(|p| (p, "source"))) {
                let channel = match prefix {
                    "email" => ConsentType::Eposta,
                    "gsm" => ConsentType::Mesaj,
                    "call" => ConsentType::Arama,
                    _ => return Err(Error::Config(format!("unknown key \"{key}\""))),
                };
                let columns = if channel == ConsentType::Arama {
                    wants_call = true;
                    &mut call
                } else {
                    mapping.channels.iter_mut().find(|c| c.consent_type == channel).expect("default channel")
                };
                if map == "permission" {
                    columns.permission_values = Some(PermissionValues::from_json(key, value)?);
                } else {
                    columns.source_values = Some(SourceValues::from_json(key, value)?);
                }
                continue;
            }
            let name = optional_name(key, value)?;
            let (channel, field) = match key.as_str() {
                "contact_type" => {
                    mapping.contact_type = name;
                    continue;
                }
                "local_only" => {
                    mapping.local_only = name;
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
                        return Err(Error::Config(format!("unknown key \"{other}\"")))
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
                // No address or no permission column: the table has no consent of that channel.
                None if field == "address" || field == "permission" => dropped.push(channel),
                // No source column: every movement of the channel has the fixed source its
                // source map gives (`*`), checked below.
                None if field == "source" => columns.source = String::new(),
                None => return Err(Error::Config(format!(
                    "mapping key \"{key}\" must name a column: a channel needs its address, permission, date and source columns (\"{}\": null leaves the channel out)",
                    key.split_once('_').map_or(key.as_str(), |(prefix, _)| prefix)
                ))),
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
        if let Some(c) = mapping.channels.iter().find(|c| c.source.is_empty() && c.fixed_source().is_none()) {
            let prefix = c.key();
            return Err(Error::Config(format!(
                "\"{prefix}_source\": null needs the channel's fixed source: \"{prefix}_source_values\": {{\"*\": \"HS_WEB\"}} (or another HS_* source)"
            )));
        }
        if mapping.channels.is_empty() {
            return Err(Error::Config("the mapping leaves no channel to sync".into()));
        }
        Ok(mapping)
    }

    /// Every column the mapping names, without duplicates (the address may serve two channels).
    pub fn all_columns(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.contact_type.iter().chain(&self.brand_column).chain(&self.local_only).map(String::as_str).collect();
        for retailer in [self.retailer_code_column(), self.retailer_access_column()].into_iter().flatten() {
            names.push(retailer);
        }
        for channel in &self.channels {
            for name in channel.columns().into_iter().filter(|n| !n.is_empty()) {
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
    fn permission_values_and_dropped_permissions() {
        let m = TableMapping::from_json(Some(r#"{"email_permission": null, "gsm_permission_values": {"ONAY": ["E", "Evet"], "RET": "H"}}"#)).unwrap();
        assert_eq!(m.channels.len(), 1, "a null permission leaves the channel out");
        let values = m.channels[0].permission_values.as_ref().unwrap();
        assert_eq!(values.status_of(" evet "), Some(ConsentStatus::Onay));
        assert_eq!(values.status_of("h"), Some(ConsentStatus::Ret));
        assert_eq!(values.status_of("ONAY"), None, "only the map's values");
        assert_eq!(values.written(ConsentStatus::Onay), "E");
        assert_eq!(values.written(ConsentStatus::Ret), "H");
        let m = TableMapping::from_json(Some(r#"{"gsm_source_values": {"Web Sitesi": "HS_WEB", "*": "HS_FIZIKSEL_ORTAM"}}"#)).unwrap();
        let sources = m.channels.iter().find(|c| c.consent_type == ConsentType::Mesaj).unwrap().source_values.as_ref().unwrap();
        assert_eq!(sources.source_of(" web sitesi"), Some("HS_WEB"));
        assert_eq!(sources.source_of("WEB SİTESİ\t").is_some(), true, "Unicode case and whitespace");
        assert_eq!(sources.source_of("kasa"), Some("HS_FIZIKSEL_ORTAM"));
        assert_eq!(sources.source_of("IYS_KISAMESAJ"), None, "a pulled IYS_* source stays as written");
        assert!(TableMapping::from_json(Some(r#"{"gsm_source_values": {"web": "IYS_WEB"}}"#)).is_err(), "only HS_* sources");
    }

    #[test]
    fn contact_types_in_the_tables_vocabulary() {
        let m = TableMapping::from_json(Some(r#"{"contact_type_values": {"BIREYSEL": ["B", "Şahıs"], "TACIR": "Firma"}, "recipient_type": "TACIR"}"#)).unwrap();
        let values = m.contact_type_values.unwrap();
        assert_eq!(fold(" FİRMA "), "firma");
        assert_eq!((fold("FIRMA"), fold("fırma"), fold("ŞAHIS")), ("firma".into(), "firma".into(), "şahis".into()));
        assert_eq!((values.type_of(" şahıs "), values.type_of("b"), values.type_of("FIRMA"), values.type_of("X")),
                   (Some(RecipientType::Bireysel), Some(RecipientType::Bireysel), Some(RecipientType::Tacir), None));
        assert_eq!(m.recipient_type, RecipientType::Tacir);
        assert!(TableMapping::from_json(Some(r#"{"recipient_type": "KURUMSAL"}"#)).is_err());
    }

    #[test]
    fn a_fixed_source_instead_of_a_column() {
        let m = TableMapping::from_json(Some(r#"{"email": null, "gsm_source": null, "gsm_source_values": {"*": "HS_FIZIKSEL_ORTAM"}}"#)).unwrap();
        assert_eq!(m.channels[0].source, "");
        assert_eq!(m.channels[0].fixed_source(), Some("HS_FIZIKSEL_ORTAM"));
        assert!(!m.all_columns().contains(&""));
    }

    #[test]
    fn retailers_by_column_or_for_the_table() {
        let m = TableMapping::from_json(Some(r#"{"retailer_code": "bayi", "retailer_access": [55550127, 98528475]}"#)).unwrap();
        assert_eq!(m.retailer_code, Some(Retailer::Column("bayi".into())));
        assert_eq!(m.retailer_access, Some(Retailer::Fixed(vec![55550127, 98528475])));
        let m = TableMapping::from_json(Some(r#"{"retailer_code": 55550127, "retailer_access": "erisim"}"#)).unwrap();
        assert_eq!((m.retailer_code.clone(), m.retailer_access_column()), (Some(Retailer::Fixed(55550127)), Some("erisim")));
        for bad in [r#"{"retailer_code": 123}"#, r#"{"retailer_access": []}"#, r#"{"retailer_access": [1]}"#, r#"{"retailer_code": true}"#] {
            let err = TableMapping::from_json(Some(bad)).unwrap_err().to_string();
            assert!(err.contains("8-digit retailer code"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_mappings_are_clear_errors() {
        for (json, needle) in [
            ("[1]", "must be a JSON object"),
            ("{", "not valid JSON"),
            (r#"{"sms": "x"}"#, "unknown key \"sms\""),
            (r#"{"email_adress": "x"}"#, "unknown key \"email_adress\""),
            (r#"{"email": 3}"#, "must be a column name"),
            (r#"{"email_consent_date": null}"#, "\"email\": null leaves the channel out"),
            (r#"{"email_source": null}"#, "needs the channel's fixed source"),
            (r#"{"gsm_permission_values": {"ONAY": "E"}}"#, "must be an object like"),
            (r#"{"gsm_permission_values": {"ONAY": "E", "RET": "e"}}"#, "for both ONAY and RET"),
            (r#"{"sms_permission_values": {"ONAY": "E", "RET": "H"}}"#, "unknown key"),
            (r#"{"email": null, "gsm": null}"#, "no channel"),
        ] {
            let err = TableMapping::from_json(Some(json)).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
