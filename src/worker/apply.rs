//! Applying `iys.inbox` (citizens' changes pulled from IYS, and our own accepted changes) to the
//! attached tables.
//!
//! - Short transactions: up to [`ITEMS_PER_TRANSACTION`] items each, found by their address
//!   through the tables' own indexes; no application row stays locked for a whole page.
//! - Each table is written with its owner's rights (`privilege::as_role`): the owner's triggers,
//!   defaults and index expressions never run as the worker.
//! - Isolation: when a transaction fails, its items are applied one by one, then table by
//!   table; an item a table cannot take is quarantined (`iys.pull_quarantine`) with the reason,
//!   and the other items and tables go on.
//! - The newest consent date wins, compared at whole seconds as IYS compares; a tie with another
//!   status is a conflict (`iys.conflicts`) unless the brand lets RET win.

use super::store::spi;
use super::tx;
use crate::core::mapping::PermissionValues;
use crate::core::{ConsentStatus, Error};
use crate::sql_api::consent_trigger::Applying;
use crate::sql_api::privilege;
use pgrx::prelude::*;
use pgrx::spi::{quote_identifier as ident, quote_literal as literal};

const ITEMS_PER_TRANSACTION: i64 = 100;
/// Items per round, so that sending is never starved by a long backlog.
const MAX_ITEMS_PER_ROUND: usize = 5_000;
/// What the owner's code sees as search_path while we write its table (our own statement is
/// schema-qualified throughout and does not depend on it).
const OWNER_SEARCH_PATH: &str = "\"$user\", public";

/// One attached table as the apply step writes it.
struct Table {
    relid: pg_sys::Oid,
    owner: pg_sys::Oid,
    /// schema-qualified, quoted
    name: String,
    brand_code: Option<String>,
    brand_column: Option<String>,
    key_columns: Vec<String>,
    channels: Vec<Channel>,
    /// (column, SQL type) of the table now
    columns: Vec<(String, String)>,
}

struct Channel {
    consent_type: String,
    /// An index leads with the address column: rows holding an address are found without a scan.
    address_indexed: bool,
    address: String,
    permission: String,
    /// The permission column's own spelling of ONAY and RET (a value map; the first is written).
    permission_values: Option<PermissionValues>,
    consent_date: String,
    source: String,
}

impl Channel {
    /// The row's permission as ONAY/RET text, in SQL (a boolean, a value map, or ONAY/RET).
    fn read_status(&self, permission_type: &str) -> String {
        let col = ident(&self.permission);
        if permission_type == "boolean" {
            return format!("CASE WHEN {col} THEN 'ONAY' WHEN NOT {col} THEN 'RET' END");
        }
        let Some(values) = &self.permission_values else { return format!("{col}::pg_catalog.text") };
        let arms: String = values.folded().map(|(v, status)| format!(" WHEN {} THEN '{}'", literal(&v), status.as_str())).collect();
        format!("CASE iys.fold_value({col}::pg_catalog.text){arms} END")
    }

    /// `$1` (ONAY/RET) as the value the permission column holds.
    fn write_status(&self, permission_type: &str) -> String {
        if permission_type == "boolean" {
            return "($1::pg_catalog.text OPERATOR(pg_catalog.=) 'ONAY')".into();
        }
        match &self.permission_values {
            Some(values) => format!(
                "(CASE $1::pg_catalog.text WHEN 'ONAY' THEN {} ELSE {} END)::{permission_type}",
                literal(values.written(ConsentStatus::Onay)),
                literal(values.written(ConsentStatus::Ret))
            ),
            None => format!("$1::{permission_type}"),
        }
    }
}

struct Item {
    id: i64,
    /// 'iys' (a pulled change) or 'local' (ours, accepted, reaching the other rows).
    origin: String,
    brand_code: String,
    recipient: String,
    consent_type: String,
    recipient_type: String,
    status: String,
    source: Option<String>,
    /// 'YYYY-MM-DD HH24:MI:SS', Turkey time
    consent_date: Option<String>,
    transaction_id: Option<String>,
    ret_wins: bool,
}

/// Applies pending inbox items; returns how many were applied or quarantined. `time_limit`:
/// while the sender has work, the inbox gets only this much of the round (the request budget
/// is spent by the main thread's fetches, which must not wait behind it).
pub fn apply_inbox(time_limit: Option<std::time::Duration>) -> Result<usize, Error> {
    let started = std::time::Instant::now();
    let mut done = 0;
    while done < MAX_ITEMS_PER_ROUND && !crate::worker::stop_requested() && time_limit.is_none_or(|limit| started.elapsed() < limit) {
        let result = tx::run("applying changes to the attached tables", || {
            // Most rounds find the inbox empty: no catalog work for them.
            let items = items(None, ITEMS_PER_TRANSACTION)?;
            if items.is_empty() {
                return Ok(0);
            }
            if done == 0 {
                // Attachments restored by pg_restore carry their old tables' OIDs until found again.
                crate::sql_api::attach::refresh_attachment_oids().map_err(spi)?;
            }
            let tables = tables()?;
            for item in &items {
                for table in &tables {
                    apply_to(table, item)?;
                }
            }
            forget(&items.iter().map(|i| i.id).collect::<Vec<_>>())?;
            Ok(items.len())
        });
        Applying::clear();
        match result {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(_) => {
                // Something in these items broke the transaction: find it, item by item.
                let ids = tx::run("listing changes to apply", || Ok(items(None, ITEMS_PER_TRANSACTION)?.iter().map(|i| i.id).collect::<Vec<_>>()))?;
                for id in &ids {
                    apply_isolated(*id)?;
                }
                done += ids.len();
                if ids.is_empty() {
                    break;
                }
            }
        }
    }
    Ok(done)
}

/// One item alone; if that fails, table by table, quarantining it with every table's reason.
fn apply_isolated(id: i64) -> Result<(), Error> {
    let whole = tx::run("applying a change", || {
        let tables = tables()?;
        for item in items(Some(id), 1)? {
            for table in &tables {
                apply_to(table, &item)?;
            }
        }
        forget(&[id])
    });
    Applying::clear();
    if whole.is_ok() {
        return Ok(());
    }
    let names: Vec<(pg_sys::Oid, String)> = tx::run("listing attached tables", || Ok(tables()?.into_iter().map(|t| (t.relid, t.name)).collect()))?;
    let mut failures = Vec::new();
    for (relid, name) in names {
        let one = tx::run("applying a change", || {
            let Some(table) = tables()?.into_iter().find(|t| t.relid == relid) else { return Ok(()) };
            for item in items(Some(id), 1)? {
                apply_to(&table, &item)?;
            }
            Ok(())
        });
        Applying::clear();
        if let Err(e) = one {
            failures.push(format!("{name}: {}", e.to_string().trim_start_matches("pg_iys internal error: ")));
        }
    }
    tx::run("quarantining a change", || {
        if failures.is_empty() {
            forget(&[id])
        } else {
            Spi::run_with_args(
                "UPDATE iys.inbox SET state = 'quarantined', error = $2, settled_at = now() WHERE id = $1",
                &[id.into(), failures.join("; ").into()],
            )
            .map_err(spi)
        }
    })
}

/// The channel every change from IYS is announced on once it is applied (`LISTEN iys_consent_changes`).
pub const NOTIFY_CHANNEL: &str = "iys_consent_changes";

/// Applied items leave the inbox: the ledger keeps the history. Each change from IYS (pulled,
/// or from a daily file or a settled drift) is announced on NOTIFY_CHANNEL, delivered when this
/// transaction commits, once per change (the inbox id keeps equal payloads apart).
fn forget(ids: &[i64]) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    if !crate::settings::NOTIFY.get() {
        return Spi::run_with_args("DELETE FROM iys.inbox WHERE id = ANY ($1)", &[ids.to_vec().into()]).map_err(spi);
    }
    Spi::run_with_args(
        &format!(
            "WITH gone AS (DELETE FROM iys.inbox WHERE id = ANY ($1)
                           RETURNING id, origin, brand_code, recipient, recipient_type, consent_type, status, source, consent_date)
             SELECT pg_catalog.count(pg_catalog.pg_notify('{NOTIFY_CHANNEL}', pg_catalog.json_build_object(
                        'id', id, 'brand', brand_code, 'recipient', recipient, 'recipient_type', recipient_type,
                        'type', consent_type, 'status', status, 'source', source,
                        'consent_date', pg_catalog.to_char(consent_date, 'YYYY-MM-DD HH24:MI:SS'))::pg_catalog.text))
               FROM (SELECT * FROM gone WHERE origin = 'iys' ORDER BY id) announced"
        ),
        &[ids.to_vec().into()],
    )
    .map_err(spi)
}

/// Pending items in order (or the one item `id`), locked for this transaction.
fn items(id: Option<i64>, limit: i64) -> Result<Vec<Item>, Error> {
    // update(): a locking read needs a read-write SPI call.
    Spi::connect_mut(|client| {
        client
            .update(
                "SELECT i.id, i.origin, i.brand_code, i.recipient, i.consent_type::text, i.recipient_type::text, i.status::text, i.source,
                        to_char(i.consent_date, 'YYYY-MM-DD HH24:MI:SS'), i.transaction_id,
                        coalesce((SELECT b.tie_policy = 'ret_wins' FROM iys.brand b WHERE b.brand_code = i.brand_code), false)
                   FROM iys.inbox i
                  WHERE i.state = 'pending' AND ($1::bigint IS NULL OR i.id = $1)
                  ORDER BY i.id LIMIT $2 FOR UPDATE OF i SKIP LOCKED",
                None,
                &[id.into(), limit.into()],
            )?
            .map(|row| {
                Ok(Item {
                    id: row.get(1)?.unwrap_or_default(),
                    origin: row.get(2)?.unwrap_or_default(),
                    brand_code: row.get(3)?.unwrap_or_default(),
                    recipient: row.get(4)?.unwrap_or_default(),
                    consent_type: row.get(5)?.unwrap_or_default(),
                    recipient_type: row.get(6)?.unwrap_or_default(),
                    status: row.get(7)?.unwrap_or_default(),
                    source: row.get(8)?,
                    consent_date: row.get(9)?,
                    transaction_id: row.get(10)?,
                    ret_wins: row.get(11)?.unwrap_or(false),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(spi)
}

/// The attached tables that still exist (a dropped one has nothing to apply to; a temporary
/// one belongs to another session).
fn tables() -> Result<Vec<Table>, Error> {
    let rows: Vec<(pg_sys::Oid, pg_sys::Oid, String, Option<String>, Option<String>, Vec<String>, String)> = Spi::connect(|client| {
        client
            .select(
                "SELECT a.relid, c.relowner, format('%I.%I', n.nspname, c.relname), a.brand_code, a.brand_column,
                        a.key_columns, a.channels::text
                   FROM iys.attached_table a
                   JOIN pg_catalog.pg_class c ON c.oid = a.relid
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relpersistence <> 't'
                  ORDER BY a.relid",
                None,
                &[],
            )?
            .map(|row| {
                Ok((
                    row.get(1)?.unwrap_or(pg_sys::InvalidOid),
                    row.get(2)?.unwrap_or(pg_sys::InvalidOid),
                    row.get(3)?.unwrap_or_default(),
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?.unwrap_or_default(),
                    row.get(7)?.unwrap_or_default(),
                ))
            })
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(spi)?;
    rows.into_iter()
        .map(|(relid, owner, name, brand_code, brand_column, key_columns, channels)| {
            let channels: Vec<serde_json::Value> = serde_json::from_str(&channels).map_err(|e| Error::Internal(e.to_string()))?;
            let text = |c: &serde_json::Value, key: &str| c[key].as_str().unwrap_or_default().to_owned();
            let texts = |c: &serde_json::Value, key: &str| -> Vec<String> {
                c[key].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
            };
            let indexed = crate::sql_api::attach::indexed_columns(relid)?;
            Ok(Table {
                relid,
                owner,
                name,
                brand_code,
                brand_column,
                key_columns,
                channels: channels
                    .iter()
                    .map(|c| Channel {
                        consent_type: text(c, "type"),
                        address_indexed: indexed.contains(&text(c, "address")),
                        address: text(c, "address"),
                        permission: text(c, "permission"),
                        permission_values: Some(PermissionValues { onay: texts(c, "onay_values"), ret: texts(c, "ret_values") })
                            .filter(|v| !v.onay.is_empty() && !v.ret.is_empty()),
                        consent_date: text(c, "consent_date"),
                        source: text(c, "source"),
                    })
                    .collect(),
                columns: columns(relid)?,
            })
        })
        .collect()
}

fn columns(relid: pg_sys::Oid) -> Result<Vec<(String, String)>, Error> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute
                  WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
                None,
                &[relid.into()],
            )?
            .map(|row| Ok((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default())))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(spi)
}

impl Table {
    fn column_type(&self, column: &str) -> Result<&str, Error> {
        self.columns.iter().find(|(c, _)| c == column).map(|(_, t)| t.as_str()).ok_or_else(|| {
            Error::Internal(format!(
                "column \"{column}\" of {} no longer exists (renamed or dropped); run iys.detach() and iys.attach() again, then iys.retry_quarantined()",
                self.name
            ))
        })
    }

    fn holds_brand(&self, brand: &str) -> bool {
        self.brand_column.is_some() || self.brand_code.as_deref() == Some(brand)
    }
}

/// An operator's line closure: IYS's RET carries the consent's own date, and always wins.
const LINE_CLOSURE: &str = "IYS_AHS_HAT_KAPATMA";

/// What a row's consent is next to the item's.
enum Verdict {
    Update,
    Conflict,
    Keep,
}

fn verdict(item: &Item, row_date: Option<&str>, row_status: Option<&str>) -> Verdict {
    let same_status = row_status.map(|s| s.trim().to_uppercase()).as_deref() == Some(item.status.as_str());
    // The line is gone: whatever the row's date (the closure carries the consent's own, which
    // a later local change may have moved on) and the tie policy, the row is RET.
    if item.status == "RET" && item.source.as_deref() == Some(LINE_CLOSURE) {
        return if same_status { Verdict::Keep } else { Verdict::Update };
    }
    match (item.consent_date.as_deref(), row_date) {
        (Some(ours), Some(theirs)) if ours < theirs => Verdict::Keep,
        (Some(ours), Some(theirs)) if ours == theirs => {
            if same_status {
                Verdict::Keep
            } else if item.status == "RET" && item.ret_wins {
                Verdict::Update
            } else {
                Verdict::Conflict
            }
        }
        _ => Verdict::Update,
    }
}

/// The rows of `table` holding the item's address on its channel: newer consents are written
/// over, ties recorded as conflicts.
fn apply_to(table: &Table, item: &Item) -> Result<(), Error> {
    if !table.holds_brand(&item.brand_code) {
        return Ok(());
    }
    // Our own changes reach other rows only through an index: each accepted change would
    // otherwise scan the whole table. Citizens' changes (a few a day) are applied regardless.
    let channels = table.channels.iter().filter(|c| c.consent_type == item.consent_type && (item.origin != "local" || c.address_indexed));
    for channel in channels {
        let address_type = table.column_type(&channel.address)?;
        let permission_type = table.column_type(&channel.permission)?;
        let date_type = table.column_type(&channel.consent_date)?;
        // A channel without a source column (a fixed source) takes IYS's status and date only.
        let source_set = if channel.source.is_empty() {
            String::new()
        } else {
            match table.column_type(&channel.source)? {
                // A source newer than the enum (IYS_3338, ...) cannot be stored there: NULL,
                // the status and date still change (the ledger keeps IYS's spelling). Looked up,
                // not cast: the planner folds a cast of a known parameter even in a CASE branch
                // that is never taken.
                "iys.consent_source" => format!(
                    ", {} = (SELECT s FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::iys.consent_source)) s
                              WHERE s::pg_catalog.text OPERATOR(pg_catalog.=) $3)",
                    ident(&channel.source)
                ),
                other => format!(", {} = $3::{other}", ident(&channel.source)),
            }
        };
        let with_tz = date_type == "timestamp with time zone";
        // The iys.phone / iys.email columns compare with their own operator (and index).
        let equals = if address_type.starts_with("iys.") { "OPERATOR(iys.=)" } else { "OPERATOR(pg_catalog.=)" };
        let date = if with_tz {
            format!("({} AT TIME ZONE INTERVAL '+03:00')", ident(&channel.consent_date))
        } else {
            ident(&channel.consent_date)
        };
        let brand_filter = match &table.brand_column {
            None => String::new(),
            Some(column) => format!(
                " AND COALESCE(NULLIF(pg_catalog.btrim({}::pg_catalog.text), ''), $2::pg_catalog.text) OPERATOR(pg_catalog.=) $3::pg_catalog.text",
                ident(column)
            ),
        };
        let key = table.key_columns.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ");
        let select = format!(
            "SELECT ctid::pg_catalog.text, pg_catalog.to_char({date}, 'YYYY-MM-DD HH24:MI:SS'), {perm},
                    ROW({key})::pg_catalog.text
               FROM {table} WHERE {address} {equals} $1::{address_type}{brand_filter} FOR UPDATE",
            perm = channel.read_status(&permission_type),
            table = table.name,
            address = ident(&channel.address),
        );
        let update = format!(
            "UPDATE {table} SET {perm} = {status}, {date_col} = {date_value}{source_set}
              WHERE ctid OPERATOR(pg_catalog.=) $4::pg_catalog.tid",
            table = table.name,
            perm = ident(&channel.permission),
            status = channel.write_status(&permission_type),
            date_col = ident(&channel.consent_date),
            date_value = if with_tz { "($2::pg_catalog.timestamp AT TIME ZONE INTERVAL '+03:00')" } else { "$2::pg_catalog.timestamp" },
        );
        let fixed_brand = table.brand_code.clone();
        let conflicts = privilege::as_role(table.owner, OWNER_SEARCH_PATH, || -> Result<Vec<(Option<String>, String)>, Error> {
            let rows: Vec<(String, Option<String>, Option<String>, String)> = Spi::connect_mut(|client| {
                client
                    .update(&select, None, &[item.recipient.as_str().into(), fixed_brand.clone().into(), item.brand_code.as_str().into()])?
                    .map(|row| Ok((row.get(1)?.unwrap_or_default(), row.get(2)?, row.get(3)?, row.get(4)?.unwrap_or_default())))
                    .collect::<Result<Vec<_>, pgrx::spi::Error>>()
            })
            .map_err(spi)?;
            let mut conflicts = Vec::new();
            for (ctid, row_date, row_status, row_key) in rows {
                match verdict(item, row_date.as_deref(), row_status.as_deref()) {
                    Verdict::Keep => {}
                    Verdict::Conflict => conflicts.push((row_status, row_key)),
                    Verdict::Update => Applying::to(table.relid, || {
                        Spi::run_with_args(
                            &update,
                            &[item.status.as_str().into(), item.consent_date.clone().into(), item.source.clone().into(), ctid.into()],
                        )
                    })
                    .map_err(spi)?,
                }
            }
            Ok(conflicts)
        })?;
        for (local_status, source_key) in conflicts {
            Spi::run_with_args(
                "INSERT INTO iys.conflict (brand_code, recipient, consent_type, recipient_type, local_status, iys_status,
                                           consent_date, iys_source, transaction_id, source_table, source_key)
                 VALUES ($1, $2, $3::iys.consent_type, $4::iys.recipient_type, $5, $6::iys.consent_status, $7::timestamp,
                         (SELECT s FROM unnest(enum_range(NULL::iys.consent_source)) s WHERE s::text = $8),
                         $9, $10, $11)",
                &[
                    item.brand_code.as_str().into(),
                    item.recipient.as_str().into(),
                    item.consent_type.as_str().into(),
                    item.recipient_type.as_str().into(),
                    local_status.into(),
                    item.status.as_str().into(),
                    item.consent_date.clone().into(),
                    item.source.clone().into(),
                    item.transaction_id.clone().into(),
                    table.relid.into(),
                    source_key.into(),
                ],
            )
            .map_err(spi)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(status: &str, date: Option<&str>, ret_wins: bool) -> Item {
        Item {
            id: 1,
            origin: "iys".into(),
            brand_code: "600001".into(),
            recipient: "+905321234567".into(),
            consent_type: "MESAJ".into(),
            recipient_type: "BIREYSEL".into(),
            status: status.into(),
            source: Some("IYS_WEB".into()),
            consent_date: date.map(str::to_owned),
            transaction_id: None,
            ret_wins,
        }
    }

    #[test]
    fn newest_date_wins_and_ties_are_conflicts_unless_ret_wins() {
        let d = "2026-11-30 10:00:00";
        assert!(matches!(verdict(&item("RET", Some(d), false), Some("2026-11-30 09:59:59"), Some("ONAY")), Verdict::Update));
        assert!(matches!(verdict(&item("RET", Some(d), false), Some("2026-11-30 10:00:01"), Some("ONAY")), Verdict::Keep));
        assert!(matches!(verdict(&item("RET", Some(d), false), Some(d), Some("onay ")), Verdict::Conflict));
        assert!(matches!(verdict(&item("RET", Some(d), true), Some(d), Some("ONAY")), Verdict::Update));
        assert!(matches!(verdict(&item("ONAY", Some(d), true), Some(d), Some("RET")), Verdict::Conflict));
        assert!(matches!(verdict(&item("RET", Some(d), false), Some(d), Some("RET")), Verdict::Keep));
        assert!(matches!(verdict(&item("RET", Some(d), false), None, None), Verdict::Update));
        assert!(matches!(verdict(&item("RET", None, false), Some(d), Some("ONAY")), Verdict::Update));
        // A line closed by the operator: the RET has the ONAY's own date and still wins.
        let closure = Item { source: Some(LINE_CLOSURE.into()), ..item("RET", Some(d), false) };
        assert!(matches!(verdict(&closure, Some(d), Some("ONAY")), Verdict::Update));
        // ... also when the row's date is later than the consent's own (a local change since).
        assert!(matches!(verdict(&closure, Some("2026-11-30 10:00:01"), Some("ONAY")), Verdict::Update));
        assert!(matches!(verdict(&closure, Some("2026-11-30 10:00:01"), Some("ret")), Verdict::Keep));
        let dateless = Item { consent_date: None, ..closure };
        assert!(matches!(verdict(&dateless, Some(d), Some("ONAY")), Verdict::Update));
    }
}
