//! The worker's reads and writes of iys.outbox, iys.token and iys.worker_state. Each function
//! runs inside a transaction opened by the caller (`tx::run`); none talks to IYS.

use crate::core::Error;
use crate::iys::{ConsentRecord, ItemResult, ItemStatus};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

fn spi(e: pgrx::spi::Error) -> Error {
    Error::Internal(format!("SPI: {e}"))
}

/// Where one brand's changes go, with the account's credentials (never logged).
#[derive(Clone)]
pub struct Target {
    pub brand_code: String,
    pub iys_code: String,
    pub base_url: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials are deliberately left out.
        write!(f, "Target {{ brand {}, iys {} at {} }}", self.brand_code, self.iys_code, self.base_url)
    }
}

pub struct Claimed {
    pub id: i64,
    pub attempts: i32,
    pub record: ConsentRecord,
}

pub fn extension_ready() -> Result<bool, Error> {
    Spi::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_iys')")
        .map(|v| v.unwrap_or(false))
        .map_err(spi)
}

/// Session settings of the worker: JIT compiles its short queries for longer than they run
/// (measured: a 1000-row claim takes 50 ms without JIT, 750 ms with it).
/// Parallel workers are not worth starting for the worker's index-driven queries either.
pub fn configure_session() -> Result<(), Error> {
    Spi::run("SET jit = off").map_err(spi)?;
    Spi::run("SET max_parallel_workers_per_gather = 0").map_err(spi)
}

/// ANALYZEs the queue tables when they changed a lot since their last analyze: right after a
/// bulk load the planner has no statistics, and claims would scan the whole backlog per row
/// until autovacuum catches up. Returns whether it analyzed.
pub fn refresh_stale_statistics() -> Result<bool, Error> {
    let stale: Vec<String> = Spi::connect(|client| {
        client
            .select(
                // Only when the row count outgrew the statistics (never analyzed, or more than
                // doubled): a drain's state changes must not trigger an ANALYZE every few batches.
                "SELECT format('%I.%I', s.schemaname, s.relname) FROM pg_catalog.pg_stat_user_tables s
                   JOIN pg_catalog.pg_class c ON c.oid = s.relid
                  WHERE s.schemaname = 'iys' AND s.relname IN ('outbox', 'consent_ledger')
                    AND s.n_live_tup > 5000 AND s.n_live_tup > 2 * greatest(c.reltuples, 0)",
                None,
                &[],
            )?
            .map(|row| row.get::<String>(1).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(spi)?;
    for table in &stale {
        Spi::run(&format!("ANALYZE {table}")).map_err(spi)?;
    }
    Ok(!stale.is_empty())
}

/// Rows a previous life of the worker claimed but never sent go back to pending. Rows that were
/// sent (request_id known) stay in flight: their result is polled as usual.
pub fn recover_claimed() -> Result<i64, Error> {
    let n = Spi::get_one::<i64>(
        "WITH r AS (UPDATE iys.outbox SET state = 'pending', next_attempt_at = now()
                     WHERE state = 'in_flight' AND request_id IS NULL RETURNING 1)
         SELECT count(*) FROM r",
    )
    .map_err(spi)?
    .unwrap_or(0);
    Spi::run_with_args(
        "UPDATE iys.worker_state SET recovered_rows = recovered_rows + $1",
        &[n.into()],
    )
    .map_err(spi)?;
    Ok(n)
}

/// A `Target` from `TARGET_COLUMNS` starting at 1-based column `first`.
fn target_at(row: &pgrx::spi::SpiHeapTupleData<'_>, first: usize) -> Result<Target, pgrx::spi::Error> {
    Ok(Target {
        brand_code: row.get(first)?.unwrap_or_default(),
        iys_code: row.get(first + 1)?.unwrap_or_default(),
        base_url: row.get(first + 2)?.unwrap_or_default(),
        username: row.get(first + 3)?.unwrap_or_default(),
        password: row.get(first + 4)?.unwrap_or_default(),
    })
}

fn targets(client: &SpiClient<'_>, sql: &str) -> Result<Vec<Target>, Error> {
    client
        .select(sql, None, &[])
        .map_err(spi)?
        .map(|row| target_at(&row, 1))
        .collect::<Result<Vec<_>, pgrx::spi::Error>>()
        .map_err(spi)
}

const TARGET_COLUMNS: &str = "b.brand_code, a.iys_code, a.api_base_url, a.username, a.password";

/// Enabled brands with changes due for sending.
pub fn brands_with_pending() -> Result<Vec<Target>, Error> {
    Spi::connect(|client| {
        targets(
            &client,
            &format!(
                "SELECT {TARGET_COLUMNS} FROM iys.brand b JOIN iys.account a USING (iys_code)
                  WHERE b.enabled AND EXISTS (SELECT 1 FROM iys.outbox o WHERE o.state = 'pending'
                        AND o.brand_code = b.brand_code AND o.next_attempt_at <= now())
                  ORDER BY b.brand_code"
            ),
        )
    })
}

/// Sent batches whose result is still open: (request id, target).
pub fn open_requests() -> Result<Vec<(String, Target)>, Error> {
    Spi::connect(|client| {
        let rows = client
            .select(
                &format!(
                    "SELECT DISTINCT o.request_id, {TARGET_COLUMNS}
                       FROM iys.outbox o JOIN iys.brand b ON b.brand_code = o.brand_code
                       JOIN iys.account a ON a.iys_code = b.iys_code
                      WHERE o.state = 'in_flight' AND o.request_id IS NOT NULL"
                ),
                None,
                &[],
            )
            .map_err(spi)?;
        rows.map(|row| Ok((row.get::<String>(1)?.unwrap_or_default(), target_at(&row, 2)?)))
        .collect::<Result<Vec<_>, pgrx::spi::Error>>()
        .map_err(spi)
    })
}

/// Claims the brand's next batch (see iys.claim_batch: coalescing, per-key order).
pub fn claim(brand_code: &str, batch_size: i32, after_id: i64) -> Result<Vec<Claimed>, Error> {
    Spi::connect_mut(|client| {
        let rows = client
            .update(
                "SELECT id, attempts, recipient, consent_type::text, source::text, status::text,
                        to_char(consent_date, 'YYYY-MM-DD HH24:MI:SS'), recipient_type::text, retailer_code,
                        retailer_access
                   FROM iys.claim_batch($1, $2, $3) ORDER BY id",
                None,
                &[brand_code.into(), batch_size.into(), after_id.into()],
            )
            .map_err(spi)?;
        rows.map(|row| {
            Ok(Claimed {
                id: row.get(1)?.unwrap_or_default(),
                attempts: row.get(2)?.unwrap_or_default(),
                record: ConsentRecord {
                    recipient: row.get(3)?.unwrap_or_default(),
                    consent_type: row.get(4)?.unwrap_or_default(),
                    source: row.get(5)?,
                    status: row.get(6)?.unwrap_or_default(),
                    consent_date: row.get(7)?,
                    recipient_type: row.get(8)?.unwrap_or_default(),
                    retailer_code: row.get(9)?,
                    retailer_access: row.get(10)?,
                },
            })
        })
        .collect::<Result<Vec<_>, pgrx::spi::Error>>()
        .map_err(spi)
    })
}

/// Records which IYS request carries the claimed rows, and each row's index in it.
pub fn mark_sent(request_id: &str, ids: &[i64]) -> Result<(), Error> {
    Spi::run_with_args(
        // Primary-key probes; the row's index in the batch is its position in the array.
        "UPDATE iys.outbox o SET request_id = $1, batch_index = array_position($2::bigint[], o.id) - 1,
                error_code = NULL, error_message = NULL
          WHERE o.id = ANY ($2::bigint[])",
        &[request_id.into(), ids.to_vec().into()],
    )
    .map_err(spi)
}

/// Puts rows back to pending, to be sent again after `delay_ms`, noting why.
pub fn release(ids: &[i64], delay_ms: i64, code: Option<&str>, message: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.outbox SET state = 'pending', request_id = NULL, batch_index = NULL,
                next_attempt_at = now() + make_interval(secs => $2 / 1000.0),
                error_code = $3, error_message = $4
          WHERE id = ANY ($1) AND state = 'in_flight'",
        &[ids.to_vec().into(), delay_ms.into(), code.into(), message.into()],
    )
    .map_err(spi)
}

/// Puts every open row of a request back to pending (the request is unknown to IYS).
pub fn release_request(request_id: &str, message: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.outbox SET state = 'pending', request_id = NULL, batch_index = NULL, next_attempt_at = now(),
                error_message = $2
          WHERE request_id = $1 AND state = 'in_flight'",
        &[request_id.into(), message.into()],
    )
    .map_err(spi)
}

/// Settles rows as rejected by IYS (final).
pub fn reject(ids: &[i64], codes: &[String], messages: &[String]) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.outbox o SET state = 'rejected', error_code = u.code, error_message = u.message, settled_at = now()
           FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, code, message)
          WHERE o.id = u.id AND o.state = 'in_flight'",
        &[ids.to_vec().into(), codes.to_vec().into(), messages.to_vec().into()],
    )
    .map_err(spi)
}

/// Applies the per-item answers of a batch. Returns (settled, still open) counts.
pub fn settle(request_id: &str, results: &[ItemResult], retry_delay_ms: i64) -> Result<(usize, i64), Error> {
    let mut accepted_idx = Vec::new();
    let mut accepted_tx = Vec::new();
    let mut retry_idx = Vec::new();
    let mut retry_code = Vec::new();
    let mut rejected_idx = Vec::new();
    let mut rejected_code = Vec::new();
    let mut rejected_msg = Vec::new();
    for item in results {
        let index = item.index as i32;
        match item.status {
            ItemStatus::Success => {
                accepted_idx.push(index);
                accepted_tx.push(item.transaction_id.clone().unwrap_or_default());
            }
            ItemStatus::Failure => {
                let (code, message) = item
                    .error
                    .as_ref()
                    .map(|e| (e.code.clone(), e.message.clone()))
                    .unwrap_or_else(|| ("UNKNOWN".into(), "IYS reported a failure without a code".into()));
                if crate::core::is_retryable_code(&code) {
                    retry_idx.push(index);
                    retry_code.push(code);
                } else {
                    rejected_idx.push(index);
                    rejected_code.push(code);
                    rejected_msg.push(message);
                }
            }
            ItemStatus::Enqueue => {}
        }
    }
    let settled = accepted_idx.len() + retry_idx.len() + rejected_idx.len();
    if !accepted_idx.is_empty() {
        // Accept the rows and give their ledger rows IYS's transaction id; then make them the
        // current consent by the ids just updated (no search by request id, which no index
        // serves once the rows are accepted).
        let accepted_ids = Spi::get_one_with_args::<Vec<i64>>(
            "WITH u AS (SELECT * FROM unnest($2::int[], $3::text[]) AS u(idx, txid)),
                  done AS (UPDATE iys.outbox o SET state = 'accepted', transaction_id = nullif(u.txid, ''),
                                  settled_at = now(), error_code = NULL, error_message = NULL
                             FROM u WHERE o.request_id = $1 AND o.batch_index = u.idx AND o.state = 'in_flight'
                           RETURNING o.id, o.transaction_id),
                  ledger AS (UPDATE iys.consent_ledger l SET transaction_id = done.transaction_id
                               FROM done WHERE l.outbox_id = done.id AND l.transaction_id IS NULL
                                AND done.transaction_id IS NOT NULL)
             SELECT coalesce(array_agg(id), '{}') FROM done",
            &[request_id.into(), accepted_idx.into(), accepted_tx.into()],
        )
        .map_err(spi)?
        .unwrap_or_default();
        Spi::run_with_args("SELECT iys.confirm_local($1)", &[accepted_ids.into()]).map_err(spi)?;
    }
    if !retry_idx.is_empty() {
        Spi::run_with_args(
            "UPDATE iys.outbox o SET state = 'pending', request_id = NULL, batch_index = NULL, error_code = u.code,
                    error_message = 'retryable IYS answer', next_attempt_at = now() + make_interval(secs => $4 / 1000.0)
               FROM unnest($2::int[], $3::text[]) AS u(idx, code)
              WHERE o.request_id = $1 AND o.batch_index = u.idx AND o.state = 'in_flight'",
            &[request_id.into(), retry_idx.into(), retry_code.into(), retry_delay_ms.into()],
        )
        .map_err(spi)?;
    }
    if !rejected_idx.is_empty() {
        Spi::run_with_args(
            "UPDATE iys.outbox o SET state = 'rejected', error_code = u.code, error_message = u.message, settled_at = now()
               FROM unnest($2::int[], $3::text[], $4::text[]) AS u(idx, code, message)
              WHERE o.request_id = $1 AND o.batch_index = u.idx AND o.state = 'in_flight'",
            &[request_id.into(), rejected_idx.into(), rejected_code.into(), rejected_msg.into()],
        )
        .map_err(spi)?;
    }
    let open = Spi::get_one_with_args::<i64>(
        "SELECT count(*) FROM iys.outbox WHERE request_id = $1 AND state = 'in_flight'",
        &[request_id.into()],
    )
    .map_err(spi)?
    .unwrap_or(0);
    Ok((settled, open))
}

/// Enabled brands whose consent changes are pulled.
pub fn brands_to_pull() -> Result<Vec<Target>, Error> {
    Spi::connect(|client| {
        targets(
            &client,
            &format!("SELECT {TARGET_COLUMNS} FROM iys.brand b JOIN iys.account a USING (iys_code) WHERE b.enabled AND b.pull ORDER BY b.brand_code"),
        )
    })
}

pub fn pull_cursor(brand_code: &str, source: &str) -> Result<Option<String>, Error> {
    Spi::get_one_with_args::<String>(
        // A scalar subquery: one row even before the first pull.
        "SELECT (SELECT after FROM iys.pull_cursor WHERE brand_code = $1 AND source = $2)",
        &[brand_code.into(), source.into()],
    )
    .map_err(spi)
}

/// Applies a page and moves the cursor (one transaction: the caller's).
pub fn apply_pulled(brand_code: &str, source: &str, after: Option<&str>, list_json: &str) -> Result<i32, Error> {
    Spi::get_one_with_args::<i32>(
        "SELECT iys.apply_pulled($1, $2, $3, $4::jsonb)",
        &[brand_code.into(), source.into(), after.into(), list_json.into()],
    )
    .map(|n| n.unwrap_or(0))
    .map_err(spi)
}

pub fn pull_failed(brand_code: &str, source: &str, message: &str) -> Result<(), Error> {
    Spi::run_with_args("SELECT iys.pull_failed($1, $2, $3)", &[brand_code.into(), source.into(), message.into()]).map_err(spi)
}

/// The cached token row of an account.
#[derive(Default)]
pub struct TokenRow {
    pub access_token: Option<String>,
    /// Seconds the access token is still valid (negative: expired).
    pub access_valid_secs: Option<i64>,
    pub refresh_token: Option<String>,
    pub refresh_valid_secs: Option<i64>,
    /// Seconds until an H084 halt ends, when halted.
    pub halted_secs: Option<i64>,
}

pub fn load_token(iys_code: &str) -> Result<TokenRow, Error> {
    Spi::connect(|client| {
        let mut rows = client
            .select(
                "SELECT access_token, extract(epoch FROM access_expires_at - now())::bigint,
                        refresh_token, extract(epoch FROM refresh_expires_at - now())::bigint,
                        CASE WHEN halted_until > now() THEN ceil(extract(epoch FROM halted_until - now()))::bigint END
                   FROM iys.token WHERE iys_code = $1",
                None,
                &[iys_code.into()],
            )
            .map_err(spi)?;
        match rows.next() {
            None => Ok(TokenRow::default()),
            Some(row) => Ok(TokenRow {
                access_token: row.get(1).map_err(spi)?,
                access_valid_secs: row.get(2).map_err(spi)?,
                refresh_token: row.get(3).map_err(spi)?,
                refresh_valid_secs: row.get(4).map_err(spi)?,
                halted_secs: row.get(5).map_err(spi)?,
            }),
        }
    })
}

pub fn save_token(iys_code: &str, access: &str, expires_in: i64, refresh: Option<&str>, refresh_expires_in: Option<i64>) -> Result<(), Error> {
    Spi::run_with_args(
        "INSERT INTO iys.token AS t (iys_code, access_token, access_expires_at, refresh_token, refresh_expires_at, token_calls, updated_at)
         VALUES ($1, $2, now() + make_interval(secs => $3), $4, now() + make_interval(secs => coalesce($5, 0)), 1, now())
         ON CONFLICT (iys_code) DO UPDATE SET access_token = excluded.access_token, access_expires_at = excluded.access_expires_at,
                refresh_token = excluded.refresh_token, refresh_expires_at = excluded.refresh_expires_at,
                halted_until = NULL, halt_reason = NULL, token_calls = t.token_calls + 1, updated_at = now()",
        &[iys_code.into(), access.into(), (expires_in as f64).into(), refresh.into(), refresh_expires_in.map(|s| s as f64).into()],
    )
    .map_err(spi)
}

/// Forgets the access token (after a 401), keeping the refresh token.
pub fn drop_access_token(iys_code: &str) -> Result<(), Error> {
    Spi::run_with_args("UPDATE iys.token SET access_token = NULL, updated_at = now() WHERE iys_code = $1", &[iys_code.into()])
        .map_err(spi)
}

/// Persists an H084 halt: no token call for this account until it ends.
pub fn halt_token_calls(iys_code: &str, seconds: i64, reason: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "INSERT INTO iys.token AS t (iys_code, halted_until, halt_reason) VALUES ($1, now() + make_interval(secs => $2), $3)
         ON CONFLICT (iys_code) DO UPDATE SET halted_until = excluded.halted_until, halt_reason = excluded.halt_reason,
                access_token = NULL, refresh_token = NULL, updated_at = now()",
        &[iys_code.into(), (seconds as f64).into(), reason.into()],
    )
    .map_err(spi)
}

pub fn heartbeat(pid: i32, started: bool, flushed: bool, error: Option<&str>) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.worker_state SET pid = $1, heartbeat_at = now(),
                started_at = CASE WHEN $2 THEN now() ELSE started_at END,
                last_flush_at = CASE WHEN $3 THEN now() ELSE last_flush_at END,
                last_error_at = CASE WHEN $4::text IS NOT NULL THEN now() ELSE last_error_at END,
                last_error = coalesce($4, last_error)",
        &[pid.into(), started.into(), flushed.into(), error.into()],
    )
    .map_err(spi)
}
