//! `iys.attach(regclass, ...)` / `iys.detach(regclass)`: install or remove the consent triggers
//! (`sql_api::consent_trigger`) on a master_contact-shaped table.
//!
//! Every identifier reaches SQL through `quote_identifier` and every value through
//! `quote_literal`; column names come from the catalog check below, never pasted raw.
//!
//! The triggers carry no arguments: they find their configuration in `iys.attached_table` (which
//! only the extension's owner writes) and the enqueue statement is generated here from it, so no
//! trigger ever runs SQL text that a table owner could have supplied.

use crate::core::mapping::{ChannelColumns, Retailer, TableMapping};
use crate::core::{Error, RecipientType};
use crate::sql_api::consent_trigger::OnInvalid;
use crate::sql_api::error::OrRaise;
use crate::sql_api::privilege;
use crate::sql_api::types;
use pgrx::prelude::*;
use pgrx::spi::{quote_identifier as ident, quote_literal as literal};
use pgrx::{JsonB, PgRelation};

/// Trigger names sort last so that the application's own BEFORE triggers run first.
pub const ROW_TRIGGER: &str = "zz_iys_consent_check";
pub const INSERT_TRIGGER: &str = "zz_iys_enqueue_insert";
pub const UPDATE_TRIGGER: &str = "zz_iys_enqueue_update";
/// Transition table names the enqueue statement reads.
pub const NEW_ROWS: &str = "iys_new_rows";
pub const OLD_ROWS: &str = "iys_old_rows";

/// Column types the triggers understand, per role.
const ADDRESS_TYPES: &[&str] = &["text", "character varying", "character", "iys.phone", "iys.email"];
const PERMISSION_TYPES: &[&str] = &["text", "character varying", "character", "iys.consent_status", "boolean"];
const DATE_TYPES: &[&str] = &["timestamp without time zone", "timestamp with time zone", "date"];
const SOURCE_TYPES: &[&str] = &["text", "character varying", "character", "iys.consent_source"];
const CONTACT_TYPE_TYPES: &[&str] = &["text", "character varying", "character", "iys.recipient_type"];
const LOCAL_ONLY_TYPES: &[&str] = &["boolean"];
const RETAILER_CODE_TYPES: &[&str] = &["integer", "bigint", "numeric", "text", "character varying", "character"];
const RETAILER_ACCESS_TYPES: &[&str] = &["bigint[]", "integer[]", "numeric[]", "text[]", "text", "character varying"];
const BRAND_TYPES: &[&str] = &["text", "character varying", "character", "integer", "bigint", "numeric"];

/// `iys.attach`: installs the triggers and returns the attachment. (The Rust name differs from
/// the SQL one so that the symbol of the text-returning `iys.attach` of 0.4.0 and earlier,
/// `attach_wrapper`, keeps working until ALTER EXTENSION pg_iys UPDATE: see [`attach`].)
#[pg_extern(volatile, name = "attach")]
#[search_path(pg_catalog, pg_temp)]
fn attach_table(
    tbl: PgRelation,
    brand_code: default!(Option<&str>, "NULL"),
    mapping: default!(Option<JsonB>, "NULL"),
    on_invalid: default!(&str, "'reject'"),
) -> TableIterator<
    'static,
    (
        name!(attached, String),
        name!(brand_code, Option<String>),
        name!(channels, Vec<String>),
        name!(key_columns, Vec<String>),
        name!(on_invalid, String),
    ),
> {
    let plan = install(&tbl, brand_code, mapping, on_invalid);
    // The attachment, for scripts: `SELECT * FROM iys.attach(...)`.
    let channels = plan.mapping.channels.iter().map(|c| c.consent_type.as_str().to_owned()).collect();
    TableIterator::once((plan.table.clone(), plan.brand_code.clone(), channels, plan.key_columns.clone(), on_invalid.to_owned()))
}

/// `iys.attach` of 0.4.0 and earlier (RETURNS text), for a database whose extension is not
/// updated yet: its SQL still calls this symbol.
#[pg_extern(sql = false, volatile)]
fn attach(tbl: PgRelation, brand_code: Option<&str>, mapping: Option<JsonB>, on_invalid: &str) -> String {
    let plan = install(&tbl, brand_code, mapping, on_invalid);
    format!("pg_iys: attached {} ({} channel(s), on_invalid = {on_invalid})", plan.table, plan.mapping.channels.len())
}

/// Checks and installs an attachment: the triggers, the attachment row, the notices.
fn install(tbl: &PgRelation, brand_code: Option<&str>, mapping: Option<JsonB>, on_invalid: &str) -> AttachPlan {
    let mapping_json = mapping.map(|m| m.0.to_string());
    let plan = AttachPlan::for_new_attachment(tbl, brand_code, mapping_json.as_deref(), on_invalid).or_raise();
    for statement in plan.statements() {
        Spi::run(&statement).map_err(|e| Error::Internal(format!("attach failed: {e}"))).or_raise();
    }
    warn_if_not_the_workers_database();
    for address in plan.unindexed_addresses().or_raise() {
        notice!(
            "pg_iys: column \"{address}\" of {} has no index: citizens' changes from IYS will scan the table to find its rows, and accepted changes will not reach other rows holding the same address",
            plan.table
        );
    }
    if Spi::get_one::<bool>(&format!("SELECT EXISTS (SELECT 1 FROM {})", plan.table)).ok().flatten().unwrap_or(false) {
        notice!(
            "pg_iys: {} already has rows; nothing was sent for them. SELECT * FROM iys.adopt('{}') normalises their addresses and learns what IYS holds for them",
            plan.table,
            plan.table
        );
    }
    plan
}

/// `iys.detach`: removes the triggers and the attachment; true. (Rust name: see [`attach_table`].)
#[pg_extern(volatile, name = "detach")]
#[search_path(pg_catalog, pg_temp)]
fn detach_table(tbl: PgRelation) -> bool {
    let table = uninstall(&tbl);
    notice!("pg_iys: detached {table}; queued changes stay in iys.outbox");
    true
}

/// `iys.detach` of 0.4.0 and earlier (RETURNS text), for a database not updated yet.
#[pg_extern(sql = false, volatile)]
fn detach(tbl: PgRelation) -> String {
    format!("pg_iys: detached {}; queued changes stay in iys.outbox", uninstall(&tbl))
}

/// Drops the triggers and the attachment row; the table's name.
fn uninstall(tbl: &PgRelation) -> String {
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
    table
}

/// The worker sends only from iys.database: a table attached elsewhere would queue changes that
/// never leave.
fn warn_if_not_the_workers_database() {
    if !crate::worker::is_preloaded() {
        return;
    }
    // SAFETY: the current database's name from the syscache.
    let here = unsafe {
        let name = pg_sys::get_database_name(pg_sys::MyDatabaseId);
        if name.is_null() { String::new() } else { std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned() }
    };
    let workers = crate::settings::database();
    if here != workers {
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_WARNING,
            format!("pg_iys: this database is \"{here}\" but the worker sends from \"{workers}\" (iys.database): changes queued here are not sent"),
            "pg_iys",
        )
        .set_hint("Set iys.database to this database and restart the server, or attach the table in that database.")
        .report(PgLogLevel::WARNING);
    }
}

/// Called by the event trigger pg_iys_attachment_guard after ALTER TABLE: refuses (and so rolls
/// back) a change that leaves an attached table's mapping unusable (a mapped column renamed,
/// dropped or retyped), so that it fails now, not at the application's next write.
/// Declared in sql/privileges.sql, in schema iys_internal (pgrx creates functions only in
/// schemas it knows).
#[pg_extern(volatile, sql = false)]
fn verify_attachment(relid: pg_sys::Oid) {
    let Some(attachment) = load_attachment(relid).or_raise() else { return };
    // SAFETY: ALTER TABLE holds the table locked until the end of the transaction.
    let tbl = unsafe { PgRelation::with_lock(relid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    let table = qualified_name(&tbl);
    let broken = |why: String| -> ! {
        crate::sql_api::error::raise(&Error::InvalidParameter {
            parameter: "table definition",
            message: format!("this change breaks pg_iys's attachment of {table}: {why}"),
            hint: Some(format!(
                "Undo it, or SELECT iys.detach('{table}') first and attach the table again with a mapping for its new columns."
            )),
        })
    };
    if let Err(e) = AttachPlan::resolve(&tbl, attachment.brand_code.as_deref(), Some(&attachment.mapping_json), &attachment.on_invalid) {
        broken(e.to_string());
    }
    let columns = table_columns(relid).or_raise();
    if let Some(key) = attachment.key_columns.iter().find(|k| !columns.iter().any(|(c, _)| c == *k)) {
        broken(format!("its row key column \"{key}\" is gone"));
    }
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

fn is_temporary(tbl: &PgRelation) -> bool {
    // SAFETY: the open relation's catalog row.
    unsafe { (*(*tbl.as_ptr()).rd_rel).relpersistence as u8 == pg_sys::RELPERSISTENCE_TEMP }
}

fn qualified_name(tbl: &PgRelation) -> String {
    format!("{}.{}", ident(tbl.namespace()), ident(tbl.name()))
}

/// One table's attachment as `iys.attach` recorded it.
pub struct Attachment {
    pub brand_code: Option<String>,
    pub mapping_json: String,
    pub on_invalid: String,
    pub key_columns: Vec<String>,
}

/// The attachment of `relid`, read as the extension's owner (application roles cannot read
/// `iys.attached_table`); None when the table is not attached.
pub fn load_attachment(relid: pg_sys::Oid) -> Result<Option<Attachment>, Error> {
    match read_attachment(relid)? {
        Some(attachment) => Ok(Some(attachment)),
        // After pg_restore the table has a new OID: find its attachment again by name.
        None => {
            privilege::as_extension_owner(refresh_attachment_oids)
                .map_err(|e| Error::Internal(format!("finding restored attachments failed: {e}")))?;
            read_attachment(relid)
        }
    }
}

/// Runs `refresh_attachment_oids()` from the schema the database's version of pg_iys keeps it in
/// (iys_internal from 0.6.0, iys before): the library also serves a database whose ALTER
/// EXTENSION pg_iys UPDATE has not run yet, and the upgrade scripts' own ALTER TABLEs.
pub fn refresh_attachment_oids() -> Result<(), pgrx::spi::SpiError> {
    let function = Spi::get_one::<String>(
        "SELECT coalesce(pg_catalog.to_regprocedure('iys_internal.refresh_attachment_oids()'),
                         pg_catalog.to_regprocedure('iys.refresh_attachment_oids()'))::pg_catalog.text",
    )?;
    match function {
        // A name from the catalog (regprocedure output), never from a caller.
        Some(function) => Spi::run(&format!("SELECT {function}")),
        None => Ok(()),
    }
}

fn read_attachment(relid: pg_sys::Oid) -> Result<Option<Attachment>, Error> {
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let mut rows = client.select(
                "SELECT brand_code, mapping::text, on_invalid, key_columns FROM iys.attached_table WHERE relid = $1",
                None,
                &[relid.into()],
            )?;
            let Some(row) = rows.next() else { return Ok(None) };
            Ok(Some(Attachment {
                brand_code: row.get::<String>(1)?,
                mapping_json: row.get::<String>(2)?.unwrap_or_else(|| "{}".into()),
                on_invalid: row.get::<String>(3)?.unwrap_or_else(|| "reject".into()),
                key_columns: row.get::<Vec<String>>(4)?.unwrap_or_default(),
            }))
        })
    })
    .map_err(|e: pgrx::spi::Error| Error::Internal(format!("reading iys.attached_table failed: {e}")))
}

/// The enqueue statement of an attached table, generated from its recorded attachment and the
/// table's current columns. `update`: the AFTER UPDATE form (old and new rows).
pub fn enqueue_statement(relid: pg_sys::Oid, update: bool) -> Result<String, Error> {
    Ok(AttachPlan::attached(relid)?.enqueue_sql(update))
}

pub fn relation_name(relid: pg_sys::Oid) -> String {
    // SAFETY: a syscache lookup; NULL for a relation that no longer exists.
    unsafe {
        let name = pg_sys::get_rel_name(relid);
        if name.is_null() {
            format!("relation {}", u32::from(relid))
        } else {
            std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    }
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
    /// `resolve`, plus what only a new attachment must pass: not attached yet, a permanent
    /// table, a unique row key, no generated column among the mapped ones.
    fn for_new_attachment(tbl: &PgRelation, brand_code: Option<&str>, mapping_json: Option<&str>, on_invalid: &str) -> Result<AttachPlan, Error> {
        let table = qualified_name(tbl);
        if is_attached(tbl.oid()) {
            return Err(Error::AlreadyExists {
                message: format!("table {table} is already attached to pg_iys"),
                hint: format!("Run SELECT iys.detach('{table}') first to attach it again with other settings."),
            });
        }
        let plan = AttachPlan::resolve(tbl, brand_code, mapping_json, on_invalid)?;
        let refuse = |message: String, hint: &str| Error::InvalidParameter { parameter: "tbl", message, hint: Some(hint.to_owned()) };
        if is_temporary(tbl) {
            return Err(refuse(
                format!("{table} is a temporary table"),
                "The worker applies citizens' changes from its own session, which cannot see another session's temporary tables; attach a permanent table.",
            ));
        }
        if !has_unique_index_on(tbl.oid(), &plan.key_columns)? {
            return Err(refuse(
                format!("the row key ({}) of {table} is not unique", plan.key_columns.join(", ")),
                "Changes are tracked per row: name a column with a unique index (not partial, no expression) in mapping => '{\"row_id\": \"...\"}', or give the table a primary key.",
            ));
        }
        let mapped: Vec<&str> = plan.mapped_columns();
        if let Some(column) = generated_columns(tbl.oid())?.into_iter().find(|c| mapped.contains(&c.as_str())) {
            return Err(refuse(
                format!("column \"{column}\" of {table} is a generated column"),
                "pg_iys writes normalised addresses and pulled consents into the mapped columns; map plain columns.",
            ));
        }
        Ok(plan)
    }

    /// The plan of an attached table, from its recorded attachment and its current columns.
    /// The caller holds the table open (the trigger's relation, adopt's argument).
    fn attached(relid: pg_sys::Oid) -> Result<AttachPlan, Error> {
        let attachment = load_attachment(relid)?.ok_or_else(|| Error::NotAttached { table: relation_name(relid) })?;
        // SAFETY: the caller's statement already holds a lock on the table.
        let tbl = unsafe { PgRelation::with_lock(relid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
        let mut plan = AttachPlan::resolve(&tbl, attachment.brand_code.as_deref(), Some(&attachment.mapping_json), &attachment.on_invalid)?;
        if !attachment.key_columns.is_empty() {
            plan.key_columns = attachment.key_columns;
        }
        Ok(plan)
    }

    /// Checks the mapping against the table's columns and builds the statements.
    fn resolve(tbl: &PgRelation, brand_code: Option<&str>, mapping_json: Option<&str>, on_invalid: &str) -> Result<AttachPlan, Error> {
        let table = qualified_name(tbl);
        OnInvalid::parse(on_invalid)?;
        let mapping = parse_mapping(mapping_json)?;
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
        check_column_types(tbl.oid(), &table, &mapping, &columns)?;
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

    /// Address columns that lead no index.
    fn unindexed_addresses(&self) -> Result<Vec<String>, Error> {
        let indexed = indexed_columns(self.relid)?;
        let mut addresses: Vec<String> = self.mapping.channels.iter().map(|c| c.address.clone()).collect();
        addresses.dedup();
        addresses.retain(|a| !indexed.contains(a));
        Ok(addresses)
    }

    /// Every column the triggers read or write.
    fn mapped_columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = self.mapping.channels.iter().flat_map(|c| c.columns()).filter(|c| !c.is_empty()).collect();
        columns.extend(self.mapping.contact_type.as_deref());
        columns.extend(self.mapping.brand_column.as_deref());
        columns.extend(self.mapping.local_only.as_deref());
        columns.extend(self.mapping.retailer_code_column());
        columns.extend(self.mapping.retailer_access_column());
        columns
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
                "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION iys.consent_row_check()",
                ident(ROW_TRIGGER),
            ),
            format!(
                "CREATE TRIGGER {} AFTER INSERT ON {t} REFERENCING NEW TABLE AS {NEW_ROWS} \
                 FOR EACH STATEMENT EXECUTE FUNCTION iys.enqueue_changes()",
                ident(INSERT_TRIGGER),
            ),
            format!(
                "CREATE TRIGGER {} AFTER UPDATE ON {t} REFERENCING OLD TABLE AS {OLD_ROWS} NEW TABLE AS {NEW_ROWS} \
                 FOR EACH STATEMENT EXECUTE FUNCTION iys.enqueue_changes()",
                ident(UPDATE_TRIGGER),
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
                    // The table's own spelling of ONAY/RET (a value map); the first of each is written.
                    "onay_values": c.permission_values.as_ref().map(|v| v.onay.clone()),
                    "ret_values": c.permission_values.as_ref().map(|v| v.ret.clone()),
                })
            })
            .collect();
        serde_json::Value::Array(channels).to_string()
    }

    /// The set-based enqueue statement run once per INSERT or UPDATE statement. Every movement
    /// is queued, a RET too when pg_iys has never seen the key: IYS may hold an ONAY from before
    /// pg_iys (an opt-out is never dropped); if it holds nothing it answers H175 and the row ends
    /// `not_in_iys`. The outbox row is the movement's history too (iys.consent_history): nothing
    /// else is written per change.
    fn enqueue_sql(&self, update: bool) -> String {
        let selects: Vec<String> = self.mapping.channels.iter().map(|c| self.channel_select(c, update)).collect();
        format!(
            "INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date, source_table, source_key, \
                                     retailer_code, retailer_access) \
             SELECT c.brand_code, c.recipient, c.recipient_type, c.consent_type, c.status, c.source, c.consent_date, {relid}::oid, c.source_key, \
                    c.retailer_code, c.retailer_access \
               FROM ({}) c",
            selects.join(" UNION ALL "),
            relid = u32::from(self.relid),
        )
    }

    /// The row's brand, in SQL over alias `n`.
    fn brand_expr(&self) -> String {
        match (&self.mapping.brand_column, &self.brand_code) {
            (Some(column), Some(fixed)) => format!("coalesce(nullif(trim(n.{}::text), ''), {})", ident(column), literal(fixed)),
            (Some(column), None) => format!("trim(n.{}::text)", ident(column)),
            (None, Some(fixed)) => literal(fixed),
            (None, None) => unreachable!("checked in AttachPlan::new"),
        }
    }

    fn recipient_type_expr(&self) -> String {
        let otherwise = format!("{}::iys.recipient_type", literal(self.mapping.recipient_type.as_str()));
        match (&self.mapping.contact_type, &self.mapping.contact_type_values) {
            (Some(ct), Some(values)) => {
                let arms: String = values
                    .folded()
                    .map(|(v, t)| format!(" WHEN {} THEN {}::iys.recipient_type", literal(&v), literal(t.as_str())))
                    .collect();
                format!("CASE iys.fold_value(n.{}::text){arms} ELSE {otherwise} END", ident(ct))
            }
            // As RecipientType::parse reads it (Turkish letters as their ASCII base); a value IYS
            // would refuse only reaches here with an opt-out, which goes with the default type.
            (Some(ct), None) if recipient_type_or_installed() => format!("{}(n.{}::text, {otherwise})", types::RECIPIENT_TYPE_OR, ident(ct)),
            // A database whose pg_iys is older than this library (before ALTER EXTENSION
            // UPDATE): the same reading in SQL.
            (Some(ct), None) => {
                let arms: String = RecipientType::ALL.iter().map(|t| format!(" WHEN {} THEN {}::iys.recipient_type", literal(&t.to_ascii_lowercase()), literal(t))).collect();
                format!("CASE lower(translate(trim(n.{}::text), 'çğıöşüÇĞİÖŞÜ', 'cgiosuCGIOSU')){arms} ELSE {otherwise} END", ident(ct))
            }
            (None, _) => otherwise,
        }
    }

    /// The channel's consent date as IYS's Turkey wall-clock time (UTC+3 all year).
    fn date_expr(&self, channel: &ChannelColumns) -> String {
        let date = format!("n.{}", ident(&channel.consent_date));
        match self.column_type(&channel.consent_date) {
            "timestamp with time zone" => format!("({date} AT TIME ZONE INTERVAL '+03:00')"),
            // A date column: midnight of that day, as the row trigger reads it.
            "date" => format!("{date}::timestamp"),
            _ => date,
        }
    }

    /// The retailer that collected the consent, as bigint, in SQL over alias `n` (the row
    /// trigger has checked a column's value: 8 digits).
    fn retailer_code_expr(&self) -> String {
        match &self.mapping.retailer_code {
            None => "NULL::bigint".into(),
            Some(Retailer::Fixed(code)) => format!("{code}::bigint"),
            // A code IYS would refuse only reaches here with an opt-out, which goes without it
            // (the row trigger holds back every consent with such a code).
            Some(Retailer::Column(c)) => {
                let code = format!("regexp_replace(n.{}::text, '^[[:space:]]+|[[:space:]]+$', '', 'g')", ident(c));
                format!("CASE WHEN {code} ~ '^[0-9]{{8}}$' THEN {code}::bigint END")
            }
        }
    }

    /// The retailers with access, as bigint[]: an array column or a text list of codes.
    fn retailer_access_expr(&self) -> String {
        match &self.mapping.retailer_access {
            None => "NULL::bigint[]".into(),
            Some(Retailer::Fixed(codes)) => {
                format!("ARRAY[{}]::bigint[]", codes.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
            }
            Some(Retailer::Column(c)) => {
                // As core::retailer::parse_access reads it; a list IYS would refuse: as above.
                let list = format!("regexp_replace(n.{}::text, '^[[:space:],;{{]+|[[:space:],;}}]+$', '', 'g')", ident(c));
                let codes = format!("regexp_split_to_array({list}, '[[:space:],;]+')");
                format!(
                    "CASE WHEN {list} ~ '^[0-9]{{8}}([[:space:],;]+[0-9]{{8}})*$' AND cardinality({codes}) <= {} THEN {codes}::bigint[] END",
                    crate::core::retailer::MAX_ACCESS
                )
            }
        }
    }

    /// Leaves out the rows kept local (the `local_only` column), in SQL over alias `n`.
    fn not_local_only(&self) -> String {
        match &self.mapping.local_only {
            Some(column) => format!(" AND NOT coalesce(n.{}, false)", ident(column)),
            None => String::new(),
        }
    }

    /// The channel's source, in SQL over alias `n`: through the source map when there is one,
    /// as iys.consent_source (`lenient`: as text, for rows written before the triggers existed).
    fn source_expr(&self, channel: &ChannelColumns, lenient: bool) -> String {
        if let Some(fixed) = channel.fixed_source() {
            return if lenient { literal(fixed) } else { format!("{}::iys.consent_source", literal(fixed)) };
        }
        let raw = format!("nullif(trim(n.{}::text), '')", ident(&channel.source));
        let as_written = if lenient { raw.clone() } else { format!("({raw})::iys.consent_source") };
        let Some(values) = &channel.source_values else { return as_written };
        let cast = if lenient { "" } else { "::iys.consent_source" };
        let arms: String = values.values.iter().map(|(from, to)| format!(" WHEN {} THEN {}{cast}", literal(from), literal(to))).collect();
        let otherwise = match &values.otherwise {
            Some(to) => format!("CASE WHEN {raw} IS NULL THEN NULL ELSE {}{cast} END", literal(to)),
            None => as_written.clone(),
        };
        // IYS's own names (HS_*, and IYS_* a pulled change wrote) are taken as written; the rest
        // is compared as the row check compares it (iys.fold_value).
        let folded = format!("iys.fold_value(n.{}::text)", ident(&channel.source));
        format!("CASE WHEN {folded} LIKE 'hs\\_%' OR {folded} LIKE 'iys\\_%' THEN {as_written} ELSE CASE {folded}{arms} ELSE {otherwise} END END")
    }

    /// The channel's permission as iys.consent_status, in SQL over alias `n`: a boolean, a value
    /// map, or ONAY/RET text. `lenient`: a value that is none of these is NULL instead of an error
    /// (rows written before the triggers existed).
    fn status_expr(&self, channel: &ChannelColumns, lenient: bool) -> String {
        let col = format!("n.{}", ident(&channel.permission));
        if self.column_type(&channel.permission) == "boolean" {
            return format!("CASE WHEN {col} THEN 'ONAY'::iys.consent_status WHEN NOT {col} THEN 'RET'::iys.consent_status END");
        }
        match &channel.permission_values {
            Some(values) => {
                let arms: String = values
                    .folded()
                    .map(|(v, status)| format!(" WHEN {} THEN {}::iys.consent_status", literal(&v), literal(status.as_str())))
                    .collect();
                format!("CASE iys.fold_value({col}::text){arms} END")
            }
            None if lenient => format!(
                "CASE upper(btrim({col}::text)) WHEN 'ONAY' THEN 'ONAY'::iys.consent_status WHEN 'RET' THEN 'RET'::iys.consent_status END"
            ),
            // The cast is iys.to_consent_status(), one C call (sql/types.sql).
            None => format!("({col}::text)::iys.consent_status"),
        }
    }

    fn key_expr(&self) -> String {
        match self.key_columns.as_slice() {
            [single] => format!("n.{}::text", ident(single)),
            many => format!("row({})::text", many.iter().map(|k| format!("n.{}", ident(k))).collect::<Vec<_>>().join(", ")),
        }
    }

    fn channel_select(&self, channel: &ChannelColumns, update: bool) -> String {
        let col = |alias: &str, name: &str| format!("{alias}.{}", ident(name));
        let (brand, recipient_type, date, key) = (self.brand_expr(), self.recipient_type_expr(), self.date_expr(channel), self.key_expr());
        let (address, permission) = (col("n", &channel.address), col("n", &channel.permission));
        let mut sql = format!(
            "SELECT {brand} AS brand_code, {address}::text AS recipient, {recipient_type} AS recipient_type, \
             {ctype}::iys.consent_type AS consent_type, {status} AS status, \
             {source} AS source, {date} AS consent_date, {key} AS source_key, \
             {retailer_code} AS retailer_code, {retailer_access} AS retailer_access \
             FROM iys_new_rows n",
            retailer_code = self.retailer_code_expr(),
            retailer_access = self.retailer_access_expr(),
            ctype = literal(channel.consent_type.as_str()),
            status = self.status_expr(channel, false),
            source = self.source_expr(channel, false),
        );
        if update {
            let join: Vec<String> = self.key_columns.iter().map(|k| format!("{} = {}", col("o", k), col("n", k))).collect();
            sql.push_str(&format!(" JOIN iys_old_rows o ON {}", join.join(" AND ")));
        }
        sql.push_str(&format!(" WHERE {address} IS NOT NULL AND {permission} IS NOT NULL{}", self.not_local_only()));
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

/// Whether this database's pg_iys has `iys_internal.recipient_type_or` (0.10.0 and later).
fn recipient_type_or_installed() -> bool {
    Spi::get_one::<bool>(&format!("SELECT pg_catalog.to_regprocedure('{}(pg_catalog.text, iys.recipient_type)') IS NOT NULL", types::RECIPIENT_TYPE_OR))
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// What `iys.adopt` runs on an attached table's existing rows, per channel.
pub struct AdoptionChannel {
    pub label: &'static str,
    pub address: String,
    /// Rewrites the addresses not yet in IYS's form that can be; answers how many.
    pub normalize: String,
    /// Rows whose address no spelling rule can make IYS's (reported, left as they are).
    pub count_unusable: String,
    /// One row per key of the channel for iys.status_check, newest consent date first.
    pub keys: String,
}

/// The adoption statements of attached table `relid`, from its recorded attachment.
pub fn adoption(relid: pg_sys::Oid) -> Result<(String, Vec<AdoptionChannel>), Error> {
    let plan = AttachPlan::attached(relid)?;
    let channels = plan.mapping.channels.iter().map(|c| plan.adoption_channel(c)).collect();
    Ok((plan.table.clone(), channels))
}

impl AttachPlan {
    fn adoption_channel(&self, channel: &ChannelColumns) -> AdoptionChannel {
        let t = &self.table;
        let address = format!("n.{}", ident(&channel.address));
        let normalized = format!("iys.try_normalize_recipient({address}::text, {}::iys.consent_type)", literal(channel.consent_type.as_str()));
        let present = format!("{address} IS NOT NULL AND trim({address}::text) <> ''");
        let differs = format!("{present} AND {normalized} IS NOT NULL AND {normalized} IS DISTINCT FROM {address}::text");
        AdoptionChannel {
            label: channel.consent_type.as_str(),
            address: channel.address.clone(),
            normalize: format!(
                "WITH rewritten AS (UPDATE {t} n SET {col} = ({normalized})::{ty} WHERE {differs} RETURNING 1) SELECT count(*) FROM rewritten",
                col = ident(&channel.address),
                ty = self.column_type(&channel.address),
            ),
            count_unusable: format!("SELECT count(*) FROM {t} n WHERE {present} AND {normalized} IS NULL"),
            keys: format!(
                "SELECT DISTINCT ON (brand_code, recipient, recipient_type) * FROM ( \
                   SELECT {brand} AS brand_code, {normalized} AS recipient, {ctype}::iys.consent_type AS consent_type, \
                          {rtype} AS recipient_type, \
                          {status} AS local_status, \
                          {date} AS local_consent_date, {source}::text AS local_source, \
                          {relid}::oid AS source_table, {key} AS source_key \
                     FROM {t} n WHERE {present}{local}) k \
                  WHERE k.recipient IS NOT NULL AND k.brand_code IS NOT NULL \
                  ORDER BY brand_code, recipient, recipient_type, local_consent_date DESC NULLS LAST",
                brand = self.brand_expr(),
                ctype = literal(channel.consent_type.as_str()),
                rtype = self.recipient_type_expr(),
                date = self.date_expr(channel),
                status = self.status_expr(channel, true),
                source = self.source_expr(channel, true),
                relid = u32::from(self.relid),
                key = self.key_expr(),
                local = self.not_local_only(),
            ),
        }
    }
}

/// `expr` as the enum `sql_type`. The row trigger already stored canonical labels, which map to
/// constants here; only other spellings go through the lenient text cast, an SQL function the
/// planner cannot inline (measured: +15-30% enqueue throughput).
/// A mapping as `iys.attach` and `iys.validate_table` take it: a mistake in it is the caller's
/// argument (22023), not pg_iys's configuration.
pub fn parse_mapping(mapping_json: Option<&str>) -> Result<TableMapping, Error> {
    TableMapping::from_json(mapping_json).map_err(|e| match e {
        Error::Config(message) => Error::InvalidParameter {
            parameter: "mapping",
            message,
            hint: Some(format!("Mapping keys: {}. See \"Attaching your own table\" in docs/reference.md.", crate::core::mapping::KEYS.join(", "))),
        },
        other => other,
    })
}

/// The mapped columns exist and have types pg_iys reads and writes (what `iys.attach` refuses).
pub fn check_column_types(relid: pg_sys::Oid, table: &str, mapping: &TableMapping, columns: &[(String, String)]) -> Result<(), Error> {
    let check = |name: &str, role: &str, allowed: &[&str]| -> Result<(), Error> {
        let Some((_, sql_type)) = columns.iter().find(|(c, _)| c == name) else {
            return Err(Error::UndefinedColumn { table: table.to_owned(), column: name.to_owned(), role: role.to_owned() });
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
    if let Some(lo) = &mapping.local_only {
        check(lo, "local_only", LOCAL_ONLY_TYPES)?;
    }
    if let Some(rc) = mapping.retailer_code_column() {
        check(rc, "retailer_code", RETAILER_CODE_TYPES)?;
    }
    if let Some(ra) = mapping.retailer_access_column() {
        check(ra, "retailer_access", RETAILER_ACCESS_TYPES)?;
    }
    for channel in &mapping.channels {
        let key = channel.key();
        check(&channel.address, key, ADDRESS_TYPES)?;
        check(&channel.permission, &format!("{key}_permission"), PERMISSION_TYPES)?;
        check_permission_spelling(relid, table, key, channel, columns)?;
        check(&channel.consent_date, &format!("{key}_consent_date"), DATE_TYPES)?;
        if !channel.source.is_empty() {
            check(&channel.source, &format!("{key}_source"), SOURCE_TYPES)?;
        }
    }
    Ok(())
}

/// A permission column must be able to hold what it means: ONAY/RET (text of 4 characters at
/// least), a value map for another vocabulary, or a boolean (no map).
fn check_permission_spelling(relid: pg_sys::Oid, table: &str, key: &str, channel: &ChannelColumns, columns: &[(String, String)]) -> Result<(), Error> {
    let sql_type = columns.iter().find(|(c, _)| *c == channel.permission).map_or("", |(_, t)| t.as_str());
    let refuse = |message: String, hint: String| Err(Error::InvalidParameter { parameter: "mapping", message, hint: Some(hint) });
    match (sql_type, &channel.permission_values) {
        ("boolean" | "iys.consent_status", Some(_)) => refuse(
            format!("column \"{}\" of {table} is {sql_type}: its values need no map", channel.permission),
            format!("Leave out \"{key}_permission_values\"."),
        ),
        ("character" | "character varying", None) if char_length(relid, &channel.permission)?.is_some_and(|n| n < 4) => refuse(
            format!("column \"{}\" of {table} cannot hold ONAY or RET (it is {})", channel.permission, full_type(relid, &channel.permission)?),
            format!("Say how it spells them: mapping => '{{\"{key}_permission_values\": {{\"ONAY\": [\"E\"], \"RET\": [\"H\"]}}}}'."),
        ),
        _ => Ok(()),
    }
}

/// The declared length of a char(n)/varchar(n) column (None: unlimited).
fn char_length(relid: pg_sys::Oid, column: &str) -> Result<Option<i32>, Error> {
    Spi::get_one_with_args::<i32>(
        "SELECT CASE WHEN atttypmod > 4 THEN atttypmod - 4 END FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $2",
        &[relid.into(), column.into()],
    )
    .map_err(|e| Error::Internal(format!("reading a column's length failed: {e}")))
}

fn full_type(relid: pg_sys::Oid, column: &str) -> Result<String, Error> {
    Spi::get_one_with_args::<String>(
        "SELECT format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $2",
        &[relid.into(), column.into()],
    )
    .map(Option::unwrap_or_default)
    .map_err(|e| Error::Internal(format!("reading a column's type failed: {e}")))
}

pub fn table_columns(relid: pg_sys::Oid) -> Result<Vec<(String, String)>, Error> {
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

/// Columns that lead a valid, non-partial index of the table: rows holding a value of them are
/// found without a scan.
pub fn indexed_columns(relid: pg_sys::Oid) -> Result<Vec<String>, Error> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT DISTINCT a.attname::text FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = $1 AND i.indisvalid AND i.indpred IS NULL",
                None,
                &[relid.into()],
            )?
            .map(|row| Ok(row.get::<String>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(|e| Error::Internal(format!("reading the table's indexes failed: {e}")))
}

/// Whether a unique index (not partial, plain columns) covers exactly `columns`, whose values
/// are then also NOT NULL (a NULL key would not identify a row).
fn has_unique_index_on(relid: pg_sys::Oid, columns: &[String]) -> Result<bool, Error> {
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (
             SELECT 1 FROM pg_catalog.pg_index i
              WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
                AND i.indnkeyatts = pg_catalog.cardinality($2::text[])
                AND (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attname)
                       FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = i.indrelid AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
                    = (SELECT pg_catalog.array_agg(k ORDER BY k) FROM pg_catalog.unnest($2::text[]) k))
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = $1 AND a.attname::text = ANY ($2::text[]) AND NOT a.attnotnull)",
        &[relid.into(), columns.to_vec().into()],
    )
    .map(|b| b.unwrap_or(false))
    .map_err(|e| Error::Internal(format!("reading the table's indexes failed: {e}")))
}

/// Names of the table's generated columns.
fn generated_columns(relid: pg_sys::Oid) -> Result<Vec<String>, Error> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT attname::text FROM pg_catalog.pg_attribute \
                  WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated <> ''",
                None,
                &[relid.into()],
            )?
            .map(|row| Ok(row.get::<String>(1)?.unwrap_or_default()))
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
