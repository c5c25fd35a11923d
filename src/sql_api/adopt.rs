//! `iys.adopt(regclass, normalize, check_iys)`: day one for an attached table that already had
//! rows. Existing addresses are rewritten in IYS's form (what the triggers would have stored),
//! and every key is queued for IYS's status queries (`iys.status_check`), which the worker
//! answers within IYS's request budget and records as IYS's known state. Nothing historical is
//! sent as a new consent: IYS would refuse it (H467), and the truth is what IYS already holds.
//! Differences between the rows and IYS are listed in `iys.drift`, never written over.

use crate::core::Error;
use crate::sql_api::attach;
use crate::sql_api::consent_trigger::Applying;
use crate::sql_api::error::OrRaise;
use crate::sql_api::privilege;
use pgrx::prelude::*;
use pgrx::PgRelation;

/// Temporary table the caller's rows pass through on their way to iys.status_check.
const KEYS_TABLE: &str = "pg_temp.pg_iys_adopted_keys";

#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn adopt(
    tbl: PgRelation,
    normalize: default!(bool, "true"),
    check_iys: default!(bool, "true"),
) -> TableIterator<
    'static,
    (
        name!(channel, String),
        name!(address_column, String),
        name!(addresses_normalized, i64),
        name!(addresses_unusable, i64),
        name!(keys_queued, i64),
    ),
> {
    let (table, channels) = attach::adoption(tbl.oid()).or_raise();
    let mut rows = Vec::new();
    for channel in &channels {
        let normalized = if normalize { normalize_addresses(tbl.oid(), channel).or_raise() } else { 0 };
        let unusable = count(&channel.count_unusable).or_raise();
        if unusable > 0 {
            notice!(
                "pg_iys: {unusable} row(s) of {table} have a {} address in \"{}\" that IYS would refuse; they are left as they are. SELECT * FROM iys.validate_table('{table}') WHERE field = '{}' lists them with IYS's codes",
                channel.label,
                channel.address,
                channel.address
            );
        }
        let queued = if check_iys { queue_keys(channel).or_raise() } else { 0 };
        rows.push((channel.label.to_owned(), channel.address.clone(), normalized, unusable, queued));
    }
    let queued: i64 = rows.iter().map(|r| r.4).sum();
    if queued > 0 {
        notice!(
            "pg_iys: {queued} key(s) of {table} queued for IYS's status queries; the worker answers them within IYS's request limits. Follow with CALL iys.follow_status_checks(); differences appear in iys.drift"
        );
    }
    TableIterator::new(rows)
}

/// Rewrites the channel's addresses in IYS's form. The consent triggers stand aside for this
/// one statement: the consent itself does not change, and the row check would put the old
/// spelling back.
fn normalize_addresses(relid: pg_sys::Oid, channel: &attach::AdoptionChannel) -> Result<i64, Error> {
    Applying::to(relid, || Spi::get_one::<i64>(&channel.normalize))
        .map(Option::unwrap_or_default)
        .map_err(|e| Error::Internal(format!("normalising \"{}\" failed: {e}", channel.address)))
}

/// Reads the keys with the caller's rights, then records them as the extension's owner
/// (callers have no rights on iys.status_check). Keys of brands not configured are skipped.
fn queue_keys(channel: &attach::AdoptionChannel) -> Result<i64, Error> {
    let spi = |e: pgrx::spi::Error| Error::Internal(format!("queueing status queries failed: {e}"));
    Spi::run(&format!("CREATE TEMP TABLE pg_iys_adopted_keys ON COMMIT DROP AS {}", channel.keys)).map_err(spi)?;
    let queued = privilege::as_extension_owner(|| {
        Spi::get_one::<i64>(&format!(
            "WITH queued AS ( \
               INSERT INTO iys.status_check AS s (brand_code, recipient, consent_type, recipient_type, reason, local_status, \
                                                  local_consent_date, local_source, source_table, source_key) \
               SELECT k.brand_code, k.recipient, k.consent_type, k.recipient_type, 'adopt', k.local_status, \
                      k.local_consent_date, k.local_source, k.source_table, k.source_key \
                 FROM {KEYS_TABLE} k WHERE EXISTS (SELECT 1 FROM iys.brand b WHERE b.brand_code = k.brand_code) \
               ON CONFLICT (brand_code, recipient, consent_type, recipient_type) DO UPDATE \
                  SET reason = 'adopt', local_status = excluded.local_status, local_consent_date = excluded.local_consent_date, \
                      local_source = excluded.local_source, source_table = excluded.source_table, source_key = excluded.source_key, \
                      queued_at = now(), state = 'pending', iys_onay = NULL, iys_known = NULL, iys_status = NULL, \
                      iys_consent_date = NULL, iys_source = NULL, checked_at = NULL, outbox_id = NULL, resolution = NULL, resolved_at = NULL \
               RETURNING 1) \
             SELECT count(*) FROM queued"
        ))
    })
    .map_err(spi)?
    .unwrap_or(0);
    let unknown_brand = privilege::as_extension_owner(|| {
        Spi::get_one::<i64>(&format!(
            "SELECT count(*) FROM {KEYS_TABLE} k WHERE NOT EXISTS (SELECT 1 FROM iys.brand b WHERE b.brand_code = k.brand_code)"
        ))
    })
    .map_err(spi)?
    .unwrap_or(0);
    if unknown_brand > 0 {
        notice!("pg_iys: {unknown_brand} key(s) belong to brands not configured in iys.brand; they were not queued");
    }
    Spi::run(&format!("DROP TABLE {KEYS_TABLE}")).map_err(spi)?;
    Ok(queued)
}

fn count(sql: &str) -> Result<i64, Error> {
    Spi::get_one::<i64>(sql).map(Option::unwrap_or_default).map_err(|e| Error::Internal(format!("counting rows failed: {e}")))
}
