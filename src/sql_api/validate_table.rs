//! `iys.validate_table()`: which rows of a master_contact-shaped table IYS would refuse, and why.
//!
//! The table is read with one SPI cursor in chunks of [`CHUNK_ROWS`] (each chunk's tuples are
//! freed before the next), every channel of every row goes through the core's `check_consent`
//! with one calendar built up front, and nothing is allocated for a valid row beyond the
//! normalised recipient. Long scans report progress as NOTICEs every `progress_rows` rows.
//!
//! Each row is checked as IYS would check it as a *first* record, because a table snapshot has
//! no history: the state rules H174/H175/H178 are not reported (a row with permission RET is a
//! normal state; IYS answers H175 for a RET it never had, which pg_iys records as "not in IYS"), and the reporting window H467 only with
//! `check_window => true` (most rows of a live table were collected long ago).

use crate::core::mapping::{ContactTypeValues, PermissionValues, SourceValues};
use crate::core::{parse_iys_datetime, Calendar, ConsentInput, ConsentStatus, ConsentType, Error, Problem,
    RecipientType,
};
use crate::sql_api::error::{raise, OrRaise};
use crate::sql_api::{calendar, time};
use chrono::NaiveDateTime;
use pgrx::datum::{JsonB, Timestamp, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::quote_identifier;
use pgrx::PgRelation;
use serde_json::Value;
use std::time::Instant;

/// Rows fetched per SPI round trip.
const CHUNK_ROWS: i64 = 10_000;

/// The mapping keys, in the order of the D-engage master_contact layout; the call (ARAMA)
/// channel has no default columns.
const KEYS: &[(&str, Option<&str>)] = &[
    ("row_id", None),
    ("local_only", None),
    ("contact_type", Some("contact_type")),
    ("email", Some("email")),
    ("email_permission", Some("email_permission")),
    ("email_consent_date", Some("email_consent_date")),
    ("email_source", Some("email_source")),
    ("gsm", Some("gsm")),
    ("gsm_permission", Some("gsm_permission")),
    ("gsm_consent_date", Some("gsm_consent_date")),
    ("gsm_source", Some("gsm_source")),
    ("call", None),
    ("call_permission", None),
    ("call_consent_date", None),
    ("call_source", None),
];

/// (channel, recipient key, consent type) of the three channels.
const CHANNELS: &[(&str, ConsentType)] = &[
    ("email", ConsentType::Eposta),
    ("gsm", ConsentType::Mesaj),
    ("call", ConsentType::Arama),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum DateKind {
    /// The SELECT yields a `timestamp` in Turkey time.
    Timestamp,
    /// The SELECT yields text, parsed as IYS's `YYYY-MM-DD HH:mm:ss`.
    Text,
}

/// One column as the scan reads it: its name in the table and its 1-based SELECT position.
#[derive(Clone)]
struct Col {
    name: String,
    pos: usize,
}

struct Channel {
    label: &'static str,
    /// The mapping keys' prefix: email, gsm or call.
    prefix: &'static str,
    consent_type: ConsentType,
    recipient: Option<Col>,
    permission: Col,
    /// As the row trigger reads the permission: a boolean, a value map, or ONAY/RET.
    permission_is_bool: bool,
    permission_values: Option<PermissionValues>,
    source_values: Option<SourceValues>,
    date: Option<(Col, DateKind)>,
    source: Option<Col>,
}

/// The column names the mapping asks for, key by key (None: not read).
fn resolve_mapping(mapping: Option<&Value>) -> Vec<(&'static str, Option<String>)> {
    let mut names: Vec<(&'static str, Option<String>)> =
        KEYS.iter().map(|(k, d)| (*k, d.map(str::to_owned))).collect();
    let Some(mapping) = mapping else { return names };
    let known = || KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ");
    let Value::Object(object) = mapping else {
        raise(&Error::InvalidParameter {
            parameter: "mapping",
            message: format!("expected a JSON object, got {mapping}"),
            hint: Some(format!("Keys: {}.", known())),
        })
    };
    for (key, value) in object {
        if key.ends_with("_permission_values") || key.ends_with("_source_values") {
            continue; // value maps: see value_maps()
        }
        if matches!(key.as_str(), "retailer_code" | "retailer_access" | "contact_type_values" | "recipient_type") {
            continue; // checked by attach and the row trigger, not per channel
        }
        let Some(slot) = names.iter_mut().find(|(k, _)| *k == key.as_str()) else {
            raise(&Error::InvalidParameter {
                parameter: "mapping",
                message: format!("unknown key \"{key}\""),
                hint: Some(format!("Keys: {}.", known())),
            })
        };
        slot.1 = match value {
            Value::String(column) => Some(column.clone()),
            Value::Null => None,
            other => raise(&Error::InvalidParameter {
                parameter: "mapping",
                message: format!("the value of \"{key}\" must be a column name or null, not {other}"),
                hint: None,
            }),
        };
    }
    names
}

/// The value maps of `prefix`'s permission and source columns, as attach takes them.
fn value_maps(mapping: Option<&Value>, prefix: &str) -> (Option<PermissionValues>, Option<SourceValues>) {
    let get = |suffix: &str| mapping.and_then(|m| m.get(format!("{prefix}_{suffix}")).map(|v| (format!("{prefix}_{suffix}"), v)));
    let permission = get("permission_values").map(|(key, v)| PermissionValues::from_json(&key, v).or_raise());
    let source = get("source_values").map(|(key, v)| SourceValues::from_json(&key, v).or_raise());
    (permission, source)
}

/// The scan plan: the SELECT and where each value lands.
struct Plan {
    query: String,
    row_id_pos: Option<usize>,
    contact_type: Option<Col>,
    /// As attach reads the contact type: its value map, and the type of rows without one.
    contact_type_values: Option<ContactTypeValues>,
    recipient_type: RecipientType,
    channels: Vec<Channel>,
}

fn plan(tbl: &PgRelation, mapping: Option<&Value>) -> Plan {
    let oid = tbl.oid();
    let (table_name, relkind, columns, pk) = Spi::connect(|client| {
        let table_name: String = client
            .select("SELECT $1::regclass::text", None, &[oid.into()])?
            .first()
            .get(1)?
            .unwrap_or_default();
        let relkind: String = client
            .select("SELECT relkind::text FROM pg_catalog.pg_class WHERE oid = $1", None, &[oid.into()])?
            .first()
            .get(1)?
            .unwrap_or_default();
        let columns = client
            .select(
                "SELECT attname::text, atttypid::int8 FROM pg_catalog.pg_attribute
                  WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
                None,
                &[oid.into()],
            )?
            .map(|r| Ok((r.get::<String>(1)?.unwrap_or_default(), r.get::<i64>(2)?.unwrap_or(0))))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()?;
        let pk = client
            .select(
                "SELECT a.attname::text FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = $1 AND i.indisprimary
                  ORDER BY array_position(i.indkey::int2[], a.attnum)",
                None,
                &[oid.into()],
            )?
            .map(|r| Ok(r.get::<String>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()?;
        Ok::<_, pgrx::spi::Error>((table_name, relkind, columns, pk))
    })
    .map_err(|e| Error::Internal(format!("reading the catalog failed: {e}")))
    .or_raise();

    let names = resolve_mapping(mapping);
    let name_of = |key: &str| names.iter().find(|(k, _)| *k == key).and_then(|(_, n)| n.clone());
    let type_of = |key: &'static str, column: &str| -> u32 {
        match columns.iter().find(|(c, _)| c == column) {
            Some((_, t)) => *t as u32,
            None => raise(&Error::UndefinedColumn {
                table: table_name.clone(),
                column: column.to_owned(),
                role: key.to_owned(),
            }),
        }
    };

    let mut select: Vec<String> = Vec::new();
    fn add(select: &mut Vec<String>, expr: String) -> usize {
        select.push(expr);
        select.len()
    }

    let row_id_pos = match name_of("row_id") {
        Some(column) => {
            type_of("row_id", &column);
            Some(add(&mut select, format!("{}::text", quote_identifier(&column))))
        }
        None if !pk.is_empty() => {
            let parts: Vec<String> = pk.iter().map(|c| format!("{}::text", quote_identifier(c))).collect();
            Some(add(&mut select, if parts.len() == 1 { parts[0].clone() } else { format!("concat_ws(',', {})", parts.join(", ")) }))
        }
        None if relkind == "p" => Some(add(&mut select, "tableoid::regclass::text || ':' || ctid::text".into())),
        None if matches!(relkind.as_str(), "r" | "m" | "t") => Some(add(&mut select, "ctid::text".into())),
        None => None,
    };
    let text_col = |select: &mut Vec<String>, key: &'static str| -> Option<Col> {
        let name = name_of(key)?;
        type_of(key, &name);
        let pos = add(select, format!("{}::text", quote_identifier(&name)));
        Some(Col { name, pos })
    };
    let contact_type = text_col(&mut select, "contact_type");
    let mut channels = Vec::new();
    for &(prefix, consent_type) in CHANNELS {
        let permission_key: &'static str = match prefix {
            "email" => "email_permission",
            "gsm" => "gsm_permission",
            _ => "call_permission",
        };
        let (date_key, source_key): (&'static str, &'static str) = match prefix {
            "email" => ("email_consent_date", "email_source"),
            "gsm" => ("gsm_consent_date", "gsm_source"),
            _ => ("call_consent_date", "call_source"),
        };
        // A channel is scanned when its permission column is mapped.
        let Some(permission) = text_col(&mut select, permission_key) else { continue };
        let recipient = text_col(&mut select, prefix);
        let date = name_of(date_key).map(|name| {
            let typ = type_of(date_key, &name);
            let q = quote_identifier(&name);
            let (expr, kind) = match pg_sys::Oid::from(typ) {
                pg_sys::TIMESTAMPOID => (q, DateKind::Timestamp),
                // An instant: Turkey time is UTC+3, as everywhere in pg_iys.
                pg_sys::TIMESTAMPTZOID => (
                    format!("({q} AT TIME ZONE 'UTC') + interval '3 hours'"),
                    DateKind::Timestamp,
                ),
                pg_sys::DATEOID => (format!("{q}::timestamp"), DateKind::Timestamp),
                _ => (format!("{q}::text"), DateKind::Text),
            };
            (Col { name, pos: add(&mut select, expr) }, kind)
        });
        let source = text_col(&mut select, source_key);
        let permission_is_bool = pg_sys::Oid::from(type_of(permission_key, &permission.name)) == pg_sys::BOOLOID;
        let (permission_values, source_values) = value_maps(mapping, prefix);
        channels.push(Channel {
            label: consent_type.as_str(),
            prefix,
            consent_type,
            recipient,
            permission,
            permission_is_bool,
            permission_values,
            source_values,
            date,
            source,
        });
    }
    if channels.is_empty() {
        raise(&Error::InvalidParameter {
            parameter: "mapping",
            message: "no channel to check: email_permission, gsm_permission and call_permission are all null".into(),
            hint: None,
        });
    }
    // Rows kept out of IYS (attach's `local_only` column) are not checked, as the triggers do.
    let local = match name_of("local_only") {
        Some(column) => {
            type_of("local_only", &column);
            format!(" WHERE NOT coalesce({}::boolean, false)", quote_identifier(&column))
        }
        None => String::new(),
    };
    let query = format!(
        "SELECT {} FROM {}{local}",
        if select.is_empty() { "1".into() } else { select.join(", ") },
        table_name
    );
    let contact_type_values = mapping
        .and_then(|m| m.get("contact_type_values"))
        .map(|v| ContactTypeValues::from_json("contact_type_values", v).or_raise());
    let recipient_type = match mapping.and_then(|m| m.get("recipient_type")) {
        None => RecipientType::Bireysel,
        Some(v) => v.as_str().and_then(|t| RecipientType::parse(t).ok()).unwrap_or_else(|| {
            raise(&Error::InvalidParameter { parameter: "mapping", message: "\"recipient_type\" must be BIREYSEL or TACIR".into(), hint: None })
        }),
    };
    Plan { query, row_id_pos, contact_type, contact_type_values, recipient_type, channels }
}

impl Channel {
    /// The permission as the row trigger reads it: a boolean column's true/false, a value map's
    /// values, or ONAY/RET; nothing else.
    fn status_of(&self, raw: &str) -> Option<ConsentStatus> {
        if self.permission_is_bool {
            return match raw {
                "true" => Some(ConsentStatus::Onay),
                "false" => Some(ConsentStatus::Ret),
                _ => None,
            };
        }
        match &self.permission_values {
            Some(values) => values.status_of(raw),
            None => ConsentStatus::parse(raw).ok(),
        }
    }

    fn permission_spelling(&self) -> String {
        match &self.permission_values {
            Some(values) => values.describe(),
            None => format!("ONAY or RET (another vocabulary needs a value map: \"{}_permission_values\")", self.prefix),
        }
    }
}

type Out = (
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    String,
);

fn out(row_id: Option<&str>, channel: Option<&str>, field: &str, p: Problem) -> Out {
    (
        row_id.map(str::to_owned),
        channel.map(str::to_owned),
        p.code.to_owned(),
        field.to_owned(),
        (!p.value.is_empty()).then_some(p.value),
        p.message_en,
        p.message_tr,
    )
}

struct Scan<'a> {
    plan: &'a Plan,
    now: NaiveDateTime,
    cal: &'a Calendar,
    check_window: bool,
    results: Vec<Out>,
}

impl Scan<'_> {
    fn row(&mut self, row: &pgrx::spi::SpiHeapTupleData<'_>, ordinal: u64) -> Result<(), pgrx::spi::Error> {
        let plan = self.plan;
        let row_id_owned;
        let row_id: Option<&str> = match plan.row_id_pos {
            Some(pos) => row.get::<&str>(pos)?,
            None => {
                row_id_owned = format!("#{ordinal}");
                Some(&row_id_owned)
            }
        };
        let mut recipient_type = plan.recipient_type;
        if let Some(col) = &plan.contact_type {
            if let Some(raw) = row.get::<&str>(col.pos)?.filter(|r| !r.trim().is_empty()) {
                let parsed = match &plan.contact_type_values {
                    Some(values) => values.type_of(raw).ok_or(()),
                    None => RecipientType::parse(raw).map_err(|_| ()),
                };
                match parsed {
                    Ok(t) => recipient_type = t,
                    Err(()) => {
                        let expected = plan.contact_type_values.as_ref().map_or("BIREYSEL or TACIR".to_owned(), ContactTypeValues::describe);
                        self.results.push(out(
                            row_id,
                            None,
                            &col.name,
                            Problem::new("H116", "recipientType", raw.trim(), &format!("unknown contact type; use {expected} (checked as {})", plan.recipient_type.as_str())),
                        ))
                    }
                }
            }
        }
        for ch in &plan.channels {
            let Some(permission) = row.get::<&str>(ch.permission.pos)? else { continue };
            let status = ch.status_of(permission);
            if status.is_none() {
                self.results.push(out(
                    row_id,
                    Some(ch.label),
                    &ch.permission.name,
                    Problem::new("H115", "status", permission.trim(), &format!("permission must be {}", ch.permission_spelling())),
                ));
            }
            let recipient = match &ch.recipient {
                Some(col) => row.get::<&str>(col.pos)?,
                None => None,
            };
            let source = match &ch.source {
                Some(col) => row.get::<&str>(col.pos)?,
                None => None,
            };
            let source = source.map(|s| ch.source_values.as_ref().and_then(|v| v.source_of(s)).unwrap_or(s));
            // No source column: the channel's fixed source (`*` of its source map), as attach reads it.
            let source = match (&ch.source, source) {
                (None, None) => ch.source_values.as_ref().and_then(|v| v.otherwise.as_deref()),
                (_, source) => source,
            };
            let mut date_unreadable = false;
            let consent_date = match &ch.date {
                None => None,
                Some((col, DateKind::Timestamp)) => row.get::<Timestamp>(col.pos)?.map(time::from_pg),
                Some((col, DateKind::Text)) => match row.get::<&str>(col.pos)? {
                    None => None,
                    Some(text) if text.trim().is_empty() => None,
                    Some(text) => match parse_iys_datetime(text) {
                        Ok(t) => Some(t),
                        Err(p) => {
                            date_unreadable = true;
                            self.results.push(out(row_id, Some(ch.label), &col.name, p));
                            None
                        }
                    },
                },
            };
            let input = ConsentInput {
                recipient: recipient.unwrap_or(""),
                consent_type: ch.consent_type,
                status: status.unwrap_or(ConsentStatus::Onay),
                source,
                consent_date,
                recipient_type,
            };
            let problems = crate::core::check_consent(&input, None, self.now, self.cal).problems;
            for p in problems {
                let skip = match p.code {
                    "H175" | "H174" | "H178" => true,
                    "H467" => !self.check_window,
                    "H112" | "H462" => date_unreadable,
                    _ => status.is_none() && p.field == "status",
                };
                if skip {
                    continue;
                }
                let column = match p.field {
                    "recipient" => ch.recipient.as_ref().map(|c| c.name.as_str()),
                    "status" => Some(ch.permission.name.as_str()),
                    "source" => ch.source.as_ref().map(|c| c.name.as_str()),
                    "consentDate" => ch.date.as_ref().map(|(c, _)| c.name.as_str()),
                    "recipientType" => plan.contact_type.as_ref().map(|c| c.name.as_str()),
                    _ => None,
                };
                let field = column.unwrap_or(p.field).to_owned();
                self.results.push(out(row_id, Some(ch.label), &field, p));
            }
        }
        Ok(())
    }
}

/// Every row of `tbl` that IYS would reject, one output row per problem. See the module
/// documentation and README for the mapping keys and the rules checked.
#[pg_extern(stable, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn validate_table(
    tbl: Option<PgRelation>,
    mapping: default!(Option<JsonB>, "NULL"),
    at: default!(Option<TimestampWithTimeZone>, "NULL"),
    check_window: default!(Option<bool>, "false"),
    progress_rows: default!(Option<i64>, "100000"),
) -> TableIterator<
    'static,
    (
        name!(row_id, Option<String>),
        name!(channel, Option<String>),
        name!(code, String),
        name!(field, String),
        name!(value, Option<String>),
        name!(message_en, String),
        name!(message_tr, String),
    ),
> {
    let tbl = tbl.unwrap_or_else(|| {
        crate::sql_api::error::raise(&crate::core::Error::InvalidParameter {
            parameter: "tbl",
            message: "the table is NULL".into(),
            hint: Some("Pass the table to check, e.g. iys.validate_table('master_contact').".into()),
        })
    });
    let plan = plan(&tbl, mapping.as_ref().map(|j| &j.0));
    let now = match at {
        Some(at) => crate::core::utc_to_turkey(time::from_pg_micros(pg_sys::TimestampTz::from(at)).and_utc()),
        None => time::now_turkey(),
    };
    let cal = calendar::current();
    let progress_every = progress_rows.unwrap_or(100_000).max(0) as u64;
    let estimate = tbl.reltuples().map_or(0.0, |r| r as f64);
    let table_name = tbl.name().to_owned();
    drop(tbl);

    let mut scan = Scan { plan: &plan, now, cal: &cal, check_window: check_window.unwrap_or(false), results: Vec::new() };
    let started = Instant::now();
    let mut scanned: u64 = 0;
    let mut next_notice = progress_every;
    Spi::connect(|client| {
        let mut cursor = client.try_open_cursor(plan.query.as_str(), &[])?;
        loop {
            let table = cursor.fetch(CHUNK_ROWS as _)?;
            // SAFETY: fetch just set SPI_tuptable to this chunk; it is freed after use below.
            let tuptable = unsafe { pg_sys::SPI_tuptable };
            if table.is_empty() {
                break;
            }
            for row in table {
                scanned += 1;
                scan.row(&row, scanned)?;
            }
            // SAFETY: nothing refers to this chunk's tuples any more (values were copied).
            unsafe { pg_sys::SPI_freetuptable(tuptable) };
            pg_sys::check_for_interrupts!();
            if progress_every > 0 && scanned >= next_notice {
                next_notice = (scanned / progress_every + 1) * progress_every;
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                let of = if estimate > scanned as f64 {
                    format!(" of about {}", estimate as u64)
                } else {
                    String::new()
                };
                notice!(
                    "iys.validate_table({table_name}): {scanned}{of} rows scanned, {} problems so far, {:.0} rows/s",
                    scan.results.len(),
                    scanned as f64 / secs
                );
            }
        }
        Ok::<_, pgrx::spi::Error>(())
    })
    .map_err(|e| Error::Internal(format!("scanning failed: {e}")))
    .or_raise();
    if progress_every > 0 && scanned >= progress_every {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        notice!(
            "iys.validate_table({table_name}): done, {scanned} rows, {} problems in {secs:.2} s ({:.0} rows/s)",
            scan.results.len(),
            scanned as f64 / secs
        );
    }
    TableIterator::new(scan.results)
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn setup() {
        Spi::run(
            "CREATE TABLE mc (
                 id bigint PRIMARY KEY, contact_type text,
                 email text, email_permission text, email_consent_date timestamp, email_source text,
                 gsm text, gsm_permission text, gsm_consent_date timestamptz, gsm_source text);
             INSERT INTO mc VALUES
               (1, 'BIREYSEL', 'ali@example.com', 'ONAY', '2024-03-05 10:00', 'HS_WEB',
                   '0532 123 45 67', 'ONAY', '2024-03-05 07:00+00', 'HS_MESAJ'),
               (2, 'BIREYSEL', 'şule@örnek.com', 'ONAY', '2024-03-05 10:00', 'HS_WEB',
                   '+9005321234567', 'RET', '2024-03-05 07:00+00', 'HS_KARAR'),
               (3, 'TACIR', NULL, NULL, NULL, NULL, '0212 123 45 67', 'Y', NULL, NULL),
               (4, 'KURUMSAL', 'a@b.co', 'MAYBE', '2099-01-01', 'IYS_WEB', NULL, NULL, NULL, NULL)",
        )
        .unwrap();
    }

    fn problems(call: &str) -> String {
        Spi::get_one::<String>(&format!(
            "SELECT coalesce(string_agg(concat_ws(':', row_id, channel, code, field), ' ' ORDER BY row_id::int, channel, code), '')
               FROM {call}"
        ))
        .unwrap()
        .unwrap()
    }

    #[pg_test]
    fn reports_each_rejected_row_with_column_names() {
        setup();
        assert_eq!(
            problems("iys.validate_table('mc', at => '2024-03-06 12:00+03')"),
            "2:EPOSTA:H120:email 2:MESAJ:H121:gsm 3:MESAJ:H115:gsm_permission 3:MESAJ:H121:gsm 4:EPOSTA:H115:email_permission \
             4:EPOSTA:H119:email_source 4:EPOSTA:H162:email_consent_date 4:H116:contact_type"
        );
    }

    /// What the row trigger takes, validate_table takes: 'Y' only through a value map, a
    /// free-text source only through a source map.
    #[pg_test]
    fn value_maps_as_attach_reads_them() {
        setup();
        Spi::run("UPDATE mc SET gsm_permission = 'E', gsm_source = 'mağaza', gsm = '0532 123 45 67', gsm_consent_date = '2024-03-05 07:00+00' WHERE id = 3").unwrap();
        assert_eq!(
            problems(r#"iys.validate_table('mc', '{"email_permission": null, "contact_type": null}', at => '2024-03-06 12:00+03')"#),
            "2:MESAJ:H121:gsm 3:MESAJ:H115:gsm_permission 3:MESAJ:H119:gsm_source"
        );
        assert_eq!(
            problems(r#"iys.validate_table('mc', '{"email_permission": null, "contact_type": null,
                "gsm_permission_values": {"ONAY": ["E", "ONAY"], "RET": ["H", "RET"]}, "gsm_source_values": {"mağaza": "HS_FIZIKSEL_ORTAM"}}',
                at => '2024-03-06 12:00+03')"#),
            "2:MESAJ:H121:gsm"
        );
    }

    #[pg_test]
    fn window_and_call_channel_on_request() {
        setup();
        // Three business days after Tue 2024-03-05 10:00 is Fri 2024-03-08 10:00.
        assert_eq!(
            problems("iys.validate_table('mc', '{\"email_permission\": null}', at => '2024-03-08 12:00+03', check_window => true)"),
            "1:MESAJ:H467:gsm_consent_date 2:MESAJ:H121:gsm 2:MESAJ:H467:gsm_consent_date 3:MESAJ:H115:gsm_permission 3:MESAJ:H121:gsm 4:H116:contact_type"
        );
        // ARAMA accepts landlines; the call channel reads the gsm columns here. Without a
        // contact_type column every row is BIREYSEL, so row 3 needs a date and a source.
        assert_eq!(
            problems(r#"iys.validate_table('mc', '{"email_permission": null, "gsm_permission": null, "call": "gsm",
                "call_permission": "gsm_permission", "call_consent_date": "gsm_consent_date",
                "call_source": "gsm_source", "contact_type": null}', at => '2024-03-06 12:00+03')"#),
            "2:ARAMA:H121:gsm 3:ARAMA:H112:gsm_consent_date 3:ARAMA:H113:gsm_source 3:ARAMA:H115:gsm_permission"
        );
    }

    #[pg_test(error = "column \"eposta\" of relation public.mc does not exist")]
    fn missing_columns_are_named() {
        setup();
        Spi::run(r#"SELECT * FROM iys.validate_table('mc', '{"email": "eposta"}')"#).unwrap();
    }

    #[pg_test(error = "invalid tbl: the table is NULL")]
    fn a_null_table_is_a_clear_error() {
        Spi::run("SELECT * FROM iys.validate_table(NULL)").unwrap();
    }

    #[pg_test(error = "invalid mapping: unknown key \"mail\"")]
    fn unknown_mapping_keys_are_refused() {
        setup();
        Spi::run(r#"SELECT * FROM iys.validate_table('mc', '{"mail": "email"}')"#).unwrap();
    }

    #[test]
    fn permissions_are_read_as_the_row_trigger_reads_them() {
        use crate::core::ConsentStatus::*;
        let channel = |is_bool: bool, values: Option<&str>| super::Channel {
            label: "MESAJ",
            prefix: "gsm",
            consent_type: crate::core::ConsentType::Mesaj,
            recipient: None,
            permission: super::Col { name: "p".into(), pos: 1 },
            permission_is_bool: is_bool,
            permission_values: values.map(|v| super::PermissionValues::from_json("gsm_permission_values", &serde_json::from_str(v).unwrap()).unwrap()),
            source_values: None,
            date: None,
            source: None,
        };
        let text = channel(false, None);
        for (raw, want) in [("ONAY", Some(Onay)), (" ret ", Some(Ret)), ("Y", None), ("E", None), ("true", None), ("", None)] {
            assert_eq!(text.status_of(raw), want, "text {raw:?}");
        }
        let boolean = channel(true, None);
        assert_eq!((boolean.status_of("true"), boolean.status_of("false"), boolean.status_of("ONAY")), (Some(Onay), Some(Ret), None));
        let mapped = channel(false, Some(r#"{"ONAY": ["E", "Evet"], "RET": "H"}"#));
        for (raw, want) in [("e", Some(Onay)), ("EVET ", Some(Onay)), ("h", Some(Ret)), ("ONAY", None)] {
            assert_eq!(mapped.status_of(raw), want, "mapped {raw:?}");
        }
    }
}
