//! `iys.attach(regclass, ...)` / `iys.detach(regclass)`: install or remove the consent triggers
//! (`sql_api::consent_trigger`) on a master_contact-shaped table.
//!
//! Every identifier reaches SQL through `quote_identifier` and every value through
//! `quote_literal`; column names come from the catalog check below, never pasted raw.

use crate::core::mapping::{ChannelColumns, TableMapping};
use crate::core::{ConsentSource, ConsentStatus, Error, RecipientType};
use crate::sql_api::consent_trigger::OnInvalid;
use crate::sql_api::error::OrRaise;
use pgrx::prelude::*;
use pgrx::spi::{quote_identifier as ident, quote_literal as literal};
use pgrx::{JsonB, PgRelation};

/// Trigger names sort last so that the application's own BEFORE triggers run first.
const ROW_TRIGGER: &str = "zz_iys_consent_check";
const INSERT_TRIGGER: &str = "zz_iys_enqueue_insert";
const UPDATE_TRIGGER: &str = "zz_iys_enqueue_update";

/// Column types the triggers understand, per role.
const ADDRESS_TYPES: &[&str] = &["text", "character varying", "character", "iys.phone", "iys.email"];
const PERMISSION_TYPES: &[&str] = &["text", "character varying", "character", "iys.consent_status"];
const DATE_TYPES: &[&str] = &["timestamp without time zone", "timestamp with time zone"];
const SOURCE_TYPES: &[&str] = &["text", "character varying", "character", "iys.consent_source"];
const CONTACT_TYPE_TYPES: &[&str] = &["text", "character varying", "character", "iys.recipient_type"];
const BRAND_TYPES: &[&str] = &["text", "character varying", "character", "integer", "bigint", "numeric"];

#[pg_extern(volatile)]
fn attach(
    tbl: PgRelation,
    brand_code: default!(Option<&str>, "NULL"),
    mapping: default!(Option<JsonB>, "NULL"),
    on_invalid: default!(&str, "'reject'"),
) -> String {
    let mapping_json = mapping.map(|m| m.0.to_string());
    let plan = AttachPlan::new(&tbl, brand_code, mapping_json.as_deref(), on_invalid).or_raise();
    for statement in plan.statements() {
        Spi::run(&statement).map_err(|e| Error::Internal(format!("attach failed: {e}"))).or_raise();
    }
    format!("pg_iys: attached {} ({} channel(s), on_invalid = {on_invalid})", plan.table, plan.mapping.channels.len())
}

#[pg_extern(volatile)]
fn detach(tbl: PgRelation) -> String {
    let table = qualified_name(&tbl);
    if !is_attached(tbl.oid()) {
        raise_not_attached(&table);
    }
    for trigger in [ROW_TRIGGER, INSERT_TRIGGER, UPDATE_TRIGGER] {
        Spi::run(&format!("DROP TRIGGER IF EXISTS {} ON {table}", ident(trigger)))
            .map_err(|e| Error::Internal(format!("detach failed: {e}")))
            .or_raise();
    }
    Spi::run_with_args("DELETE FROM iys.attached_table WHERE relid = $1", &[tbl.oid().into()])
        .map_err(|e| Error::Internal(format!("detach failed: {e}")))
        .or_raise();
    format!("pg_iys: detached {table}; queued changes stay in iys.outbox")
}

fn raise_not_attached(table: &str) -> ! {
    crate::sql_api::error::raise(&Error::NotAttached { table: table.to_owned() })
}

fn is_attached(relid: pg_sys::Oid) -> bool {
    Spi::get_one_with_args::<bool>("SELECT EXISTS (SELECT 1 FROM iys.attached_table WHERE relid = $1)", &[relid.into()])
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn qualified_name(tbl: &PgRelation) -> String {
    format!("{}.{}", ident(tbl.namespace()), ident(tbl.name()))
}

/// Everything `attach` checked and will create.
struct AttachPlan {
    relid: pg_sys::Oid,
    table: String,
    brand_code: Option<String>,
    mapping: TableMapping,
    mapping_json: String,
    on_invalid: String,
    key_columns: Vec<String>,
    /// (column name, SQL type name)
    columns: Vec<(String, String)>,
}

impl AttachPlan {
    fn new(tbl: &PgRelation, brand_code: Option<&str>, mapping_json: Option<&str>, on_invalid: &str) -> Result<AttachPlan, Error> {
        let table = qualified_name(tbl);
        OnInvalid::parse(on_invalid)?;
        if is_attached(tbl.oid()) {
            return Err(Error::AlreadyExists {
                message: format!("table {table} is already attached to pg_iys"),
                hint: format!("Run SELECT iys.detach('{table}') first to attach it again with other settings."),
            });
        }
        let mapping = TableMapping::from_json(mapping_json)?;
        let brand_code = brand_code.map(str::trim).filter(|b| !b.is_empty()).map(str::to_owned);
        match (&brand_code, &mapping.brand_column) {
            (None, None) => {
                return Err(Error::InvalidParameter {
                    parameter: "brand_code",
                    message: format!("{table} needs a brand"),
                    hint: Some("Give brand_code => '<IYS brand code>', or a per-row brand column with mapping => '{\"brand_column\": \"...\"}'.".into()),
                })
            }
            (Some(code), _) if !code.chars().all(|c| c.is_ascii_digit()) => {
                return Err(Error::InvalidParameter {
                    parameter: "brand_code",
                    message: format!("'{code}' is not a numeric IYS brand code"),
                    hint: None,
                })
            }
            _ => {}
        }
        let columns = table_columns(tbl.oid())?;
        let check = |name: &str, role: &str, allowed: &[&str]| -> Result<(), Error> {
            let Some((_, sql_type)) = columns.iter().find(|(c, _)| c == name) else {
                return Err(Error::UndefinedColumn { table: table.clone(), column: name.to_owned(), role: role.to_owned() });
            };
            if !allowed.contains(&sql_type.as_str()) {
                return Err(Error::InvalidParameter {
                    parameter: "mapping",
                    message: format!("column \"{name}\" ({role}) of {table} has type {sql_type}"),
                    hint: Some(format!("Expected one of: {}.", allowed.join(", "))),
                });
            }
            Ok(())
        };
        if let Some(ct) = &mapping.contact_type {
            check(ct, "contact_type", CONTACT_TYPE_TYPES)?;
        }
        if let Some(bc) = &mapping.brand_column {
            check(bc, "brand_column", BRAND_TYPES)?;
        }
        for channel in &mapping.channels {
            let key = match channel.consent_type {
                crate::core::ConsentType::Eposta => "email",
                crate::core::ConsentType::Mesaj => "gsm",
                crate::core::ConsentType::Arama => "call",
            };
            check(&channel.address, key, ADDRESS_TYPES)?;
            check(&channel.permission, &format!("{key}_permission"), PERMISSION_TYPES)?;
            check(&channel.consent_date, &format!("{key}_consent_date"), DATE_TYPES)?;
            check(&channel.source, &format!("{key}_source"), SOURCE_TYPES)?;
        }
        let key_columns = match &mapping.row_id {
            Some(row_id) => {
                if !columns.iter().any(|(c, _)| c == row_id) {
                    return Err(Error::UndefinedColumn { table: table.clone(), column: row_id.clone(), role: "row_id".into() });
                }
                vec![row_id.clone()]
            }
            None => primary_key(tbl.oid())?,
        };
        if key_columns.is_empty() {
            return Err(Error::InvalidParameter {
                parameter: "tbl",
                message: format!("{table} has no primary key"),
                hint: Some("Add one, or name a unique column with mapping => '{\"row_id\": \"...\"}'.".into()),
            });
        }
        Ok(AttachPlan {
            relid: tbl.oid(),
            table,
            brand_code,
            mapping,
            mapping_json: mapping_json.unwrap_or("{}").to_owned(),
            on_invalid: on_invalid.to_owned(),
            key_columns,
            columns,
        })
    }

    fn column_type(&self, name: &str) -> &str {
        self.columns.iter().find(|(c, _)| c == name).map(|(_, t)| t.as_str()).unwrap_or("text")
    }

    fn statements(&self) -> Vec<String> {
        let t = &self.table;
        vec![
            format!(
                "INSERT INTO iys.attached_table (relid, table_name, brand_code, mapping, channels, brand_column, key_columns, on_invalid) \
                 VALUES ({}, {}, {}, {}::jsonb, {}::jsonb, {}, {}::text[], {})",
                u32::from(self.relid),
                literal(t),
                self.brand_code.as_deref().map(literal).unwrap_or_else(|| "NULL".into()),
                literal(&self.mapping_json),
                literal(&self.channels_json()),
                self.mapping.brand_column.as_deref().map(literal).unwrap_or_else(|| "NULL".into()),
                literal(&format!("{{{}}}", self.key_columns.iter().map(|k| format!("\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))).collect::<Vec<_>>().join(","))),
                literal(&self.on_invalid),
            ),
            format!(
                "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION iys.consent_row_check({}, {}, {})",
                ident(ROW_TRIGGER),
                literal(&self.on_invalid),
                literal(&self.mapping_json),
                literal(self.brand_code.as_deref().unwrap_or(""))
            ),
            format!(
                "CREATE TRIGGER {} AFTER INSERT ON {t} REFERENCING NEW TABLE AS iys_new_rows \
                 FOR EACH STATEMENT EXECUTE FUNCTION iys.enqueue_changes({})",
                ident(INSERT_TRIGGER),
                literal(&self.enqueue_sql(false))
            ),
            format!(
                "CREATE TRIGGER {} AFTER UPDATE ON {t} REFERENCING OLD TABLE AS iys_old_rows NEW TABLE AS iys_new_rows \
                 FOR EACH STATEMENT EXECUTE FUNCTION iys.enqueue_changes({})",
                ident(UPDATE_TRIGGER),
                literal(&self.enqueue_sql(true))
            ),
        ]
    }

    /// The resolved channels, for the pull's updates of this table (sql/sync.sql).
    fn channels_json(&self) -> String {
        let channels: Vec<serde_json::Value> = self
            .mapping
            .channels
            .iter()
            .map(|c| {
                serde_json::json!({
                    "type": c.consent_type.as_str(),
                    "address": c.address,
                    "permission": c.permission,
                    "consent_date": c.consent_date,
                    "source": c.source,
                    "date_type": self.column_type(&c.consent_date),
                })
            })
            .collect();
        serde_json::Value::Array(channels).to_string()
    }

    /// The set-based enqueue statement run once per INSERT or UPDATE statement. A RET is queued
    /// only for a key IYS knows (iys.current_consent, never pruned) or that has history here
    /// (the ledger, which also holds ONAYs not yet confirmed): IYS refuses a first RET (H175).
    fn enqueue_sql(&self, update: bool) -> String {
        let selects: Vec<String> = self.mapping.channels.iter().map(|c| self.channel_select(c, update)).collect();
        format!(
            "WITH changed AS ({}), \
             queued AS ( \
               INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key) \
               SELECT c.brand_code, c.recipient, c.recipient_type, c.consent_type, c.status, c.source, c.consent_date, {relid}::oid, c.source_key \
                 FROM changed c \
                WHERE c.status = 'ONAY' \
                   OR EXISTS (SELECT 1 FROM iys.current_consent k WHERE k.brand_code = c.brand_code AND k.recipient = c.recipient \
                              AND k.consent_type = c.consent_type AND k.recipient_type = c.recipient_type) \
                   OR EXISTS (SELECT 1 FROM iys.consent_ledger l WHERE l.brand_code = c.brand_code AND l.recipient = c.recipient \
                              AND l.consent_type = c.consent_type AND l.recipient_type = c.recipient_type) \
               RETURNING id, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key) \
             INSERT INTO iys.consent_ledger (origin, brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key, outbox_id) \
             SELECT 'local', brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key, id FROM queued",
            selects.join(" UNION ALL "),
            relid = u32::from(self.relid),
        )
    }

    fn channel_select(&self, channel: &ChannelColumns, update: bool) -> String {
        let col = |alias: &str, name: &str| format!("{alias}.{}", ident(name));
        let brand = match (&self.mapping.brand_column, &self.brand_code) {
            (Some(column), Some(fixed)) => format!("coalesce(nullif(trim({}::text), ''), {})", col("n", column), literal(fixed)),
            (Some(column), None) => format!("trim({}::text)", col("n", column)),
            (None, Some(fixed)) => literal(fixed),
            (None, None) => unreachable!("checked in AttachPlan::new"),
        };
        let recipient_type = match &self.mapping.contact_type {
            Some(ct) => format!(
                "coalesce({}, 'BIREYSEL')",
                enum_cast(&format!("nullif(trim({}::text), '')", col("n", ct)), "iys.recipient_type", RecipientType::ALL)
            ),
            None => "'BIREYSEL'::iys.recipient_type".into(),
        };
        let date = col("n", &channel.consent_date);
        let date = if self.column_type(&channel.consent_date) == "timestamp with time zone" {
            // IYS's consentDate is Turkey wall-clock time, UTC+3 all year.
            format!("({date} AT TIME ZONE INTERVAL '+03:00')")
        } else {
            date
        };
        let key = match self.key_columns.as_slice() {
            [single] => format!("{}::text", col("n", single)),
            many => format!("row({})::text", many.iter().map(|k| col("n", k)).collect::<Vec<_>>().join(", ")),
        };
        let (address, permission) = (col("n", &channel.address), col("n", &channel.permission));
        let mut sql = format!(
            "SELECT {brand} AS brand_code, {address}::text AS recipient, {recipient_type} AS recipient_type, \
             {ctype}::iys.consent_type AS consent_type, {status} AS status, \
             {source} AS source, {date} AS consent_date, {key} AS source_key \
             FROM iys_new_rows n",
            ctype = literal(channel.consent_type.as_str()),
            status = enum_cast(&format!("{permission}::text"), "iys.consent_status", ConsentStatus::ALL),
            source = enum_cast(&format!("nullif(trim({}::text), '')", col("n", &channel.source)), "iys.consent_source", ConsentSource::INPUT),
        );
        if update {
            let join: Vec<String> = self.key_columns.iter().map(|k| format!("{} = {}", col("o", k), col("n", k))).collect();
            sql.push_str(&format!(" JOIN iys_old_rows o ON {}", join.join(" AND ")));
        }
        sql.push_str(&format!(" WHERE {address} IS NOT NULL AND {permission} IS NOT NULL"));
        if update {
            // The row trigger leaves address and permission as they were unless the consent
            // really changed, so a textual difference is a consent movement.
            sql.push_str(&format!(
                " AND ({address}::text IS DISTINCT FROM {}::text OR {permission}::text IS DISTINCT FROM {}::text)",
                col("o", &channel.address),
                col("o", &channel.permission)
            ));
        }
        sql
    }
}

/// `expr` as the enum `sql_type`. The row trigger already stored canonical labels, which map to
/// constants here; only other spellings go through the lenient text cast, an SQL function the
/// planner cannot inline (measured: +15-30% enqueue throughput).
fn enum_cast(expr: &str, sql_type: &str, labels: &[&str]) -> String {
    let arms: String = labels.iter().map(|l| format!(" WHEN {0} THEN {0}::{sql_type}", literal(l))).collect();
    format!("CASE {expr}{arms} ELSE ({expr})::{sql_type} END")
}

fn table_columns(relid: pg_sys::Oid) -> Result<Vec<(String, String)>, Error> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT attname::text, format_type(atttypid, NULL) FROM pg_catalog.pg_attribute \
                  WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                None,
                &[relid.into()],
            )?
            .map(|row| Ok((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default())))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(|e| Error::Internal(format!("reading the table's columns failed: {e}")))
}

fn primary_key(relid: pg_sys::Oid) -> Result<Vec<String>, Error> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT a.attname::text FROM pg_catalog.pg_index i \
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
                  WHERE i.indrelid = $1 AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
                None,
                &[relid.into()],
            )?
            .map(|row| Ok(row.get::<String>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(|e| Error::Internal(format!("reading the primary key failed: {e}")))
}
