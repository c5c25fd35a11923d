//! The worker's reads and writes of iys.outbox, iys.token and iys.worker_state. Each function
//! runs inside a transaction opened by the caller (`tx::run`); none talks to IYS.

use crate::core::Error;
use crate::iys::{ConsentRecord, ItemResult, ItemStatus};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// An SPI failure as the worker reports it (shared by the worker's modules).
pub(super) fn spi(e: pgrx::spi::Error) -> Error {
    Error::Internal(format!("SPI: {e}"))
}

/// Where one brand's changes go, with the account's credentials (never logged).
#[derive(Clone)]
pub struct Target {
    pub brand_code: String,
    pub iys_code: String,
    pub base_url: String,
    pub username: String,
    /// None: the account's password is kept in `iys.password_file` (see `worker::password`).
    pub password: Option<String>,
    /// The account or the brand is paused; its probe time has come (this call is the probe).
    pub paused: bool,
}

impl Target {
    /// The IYS path of this brand's consents.
    pub fn endpoint(&self) -> crate::iys::Endpoint {
        crate::iys::Endpoint { iys_code: self.iys_code.clone(), brand_code: self.brand_code.clone() }
    }
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

/// The version of pg_iys created in the worker's database, if it is created.
pub fn installed_version() -> Result<Option<Installed>, Error> {
    // Scalar subqueries: one row even when the extension is not created. pg_restore names its
    // sessions after itself (application_name is visible to every role in pg_stat_activity).
    let (version, restoring) = Spi::get_two::<String, bool>(
        "SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_iys'),
                EXISTS (SELECT FROM pg_catalog.pg_stat_activity
                        WHERE datname = pg_catalog.current_database() AND application_name = 'pg_restore'
                          AND pid <> pg_catalog.pg_backend_pid())",
    )
    .map_err(spi)?;
    Ok(version.map(|version| Installed { version, restoring: restoring.unwrap_or(false) }))
}

/// The extension's version in the worker's database, and whether pg_restore is filling it.
pub struct Installed {
    pub version: String,
    pub restoring: bool,
}

/// The worker's statements name every object with its schema; nothing a role can create
/// objects in (public) is searched, so no one can shadow a function the worker calls.
pub fn pin_search_path() -> Result<(), Error> {
    Spi::run(&format!("SET search_path = {}", crate::sql_api::privilege::SAFE_SEARCH_PATH)).map_err(spi)
}

/// Session settings of the worker: JIT compiles its short queries for longer than they run
/// (measured: a 1000-row claim takes 50 ms without JIT, 750 ms with it).
/// Parallel workers are not worth starting for the worker's index-driven queries either.
/// Every query of the worker on the queue is meant to go by primary key or the queue's partial
/// indexes; with statistics taken before the rows were claimed (batch ids all NULL) the planner
/// took a whole-table scan joined row by row to settle a batch (measured: 330 ms instead of 27).
pub fn configure_session() -> Result<(), Error> {
    pin_search_path()?;
    Spi::run("SET jit = off").map_err(spi)?;
    Spi::run("SET max_parallel_workers_per_gather = 0").map_err(spi)?;
    Spi::run("SET enable_seqscan = off").map_err(spi)
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
                    AND s.n_live_tup > 5000 AND s.n_live_tup > 2 * greatest(c.reltuples, 0)
                    -- A worker role that does not own them cannot ANALYZE them; autovacuum will.
                    AND pg_has_role(c.relowner, 'USAGE')",
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

/// Batches a previous run of the worker claimed but never recorded as sent: their rows go back
/// to pending. Sent batches (request id known) stay open: their result is polled as usual.
pub fn recover_claimed() -> Result<i64, Error> {
    release_claimed_where("TRUE", None)
}

/// The given batches, if still 'claimed' (their answer was never recorded): rows back to pending.
pub fn release_claimed(batch_ids: &[i64]) -> Result<i64, Error> {
    release_claimed_where("id = ANY ($1)", Some(batch_ids))
}

fn release_claimed_where(filter: &str, batch_ids: Option<&[i64]>) -> Result<i64, Error> {
    let sql = format!(
        "WITH b AS (UPDATE iys.batch SET state = 'done', done_at = now(),
                           note = 'claimed but never recorded as sent: rows put back to pending'
                     WHERE state = 'claimed' AND {filter} RETURNING id, outbox_ids),
              i AS (SELECT b.id AS batch_id, e.id FROM b, unnest(b.outbox_ids) AS e(id)),
              r AS (UPDATE iys.outbox o SET state = 'pending', next_attempt_at = now()
                      FROM i WHERE o.id = i.id AND o.batch_id = i.batch_id AND o.state = 'in_flight'
                    RETURNING 1)
         SELECT count(*) FROM r"
    );
    let n = match batch_ids {
        Some(ids) => Spi::get_one_with_args::<i64>(&sql, &[ids.to_vec().into()]),
        None => Spi::get_one::<i64>(&sql),
    }
    .map_err(spi)?
    .unwrap_or(0);
    if n > 0 {
        Spi::run_with_args("UPDATE iys.worker_state SET recovered_rows = recovered_rows + $1", &[n.into()]).map_err(spi)?;
    }
    Ok(n)
}

/// A `Target` from `TARGET_COLUMNS` starting at 1-based column `first`.
fn target_at(row: &pgrx::spi::SpiHeapTupleData<'_>, first: usize) -> Result<Target, pgrx::spi::Error> {
    Ok(Target {
        brand_code: row.get(first)?.unwrap_or_default(),
        iys_code: row.get(first + 1)?.unwrap_or_default(),
        base_url: row.get(first + 2)?.unwrap_or_default(),
        username: row.get(first + 3)?.unwrap_or_default(),
        password: row.get(first + 4)?,
        paused: row.get(first + 5)?.unwrap_or(false),
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

const TARGET_COLUMNS: &str =
    "b.brand_code, a.iys_code, a.api_base_url, a.username, a.password, (a.paused_at IS NOT NULL OR b.paused_at IS NOT NULL)";
/// A paused account or brand is left alone until its probe time.
const NOT_PAUSED: &str = "coalesce(a.probe_at, '-infinity') <= now() AND coalesce(b.probe_at, '-infinity') <= now()";

/// Enabled brands with changes due for sending.
pub fn brands_with_pending() -> Result<Vec<Target>, Error> {
    Spi::connect(|client| {
        targets(
            &client,
            &format!(
                "SELECT {TARGET_COLUMNS} FROM iys.brand b JOIN iys.account a USING (iys_code)
                  WHERE b.enabled AND {NOT_PAUSED} AND EXISTS (SELECT 1 FROM iys.outbox o WHERE o.state = 'pending'
                        AND o.brand_code = b.brand_code AND o.next_attempt_at <= now())
                  ORDER BY b.brand_code"
            ),
        )
    })
}

/// A sent batch whose result is still open.
pub struct OpenBatch {
    pub batch_id: i64,
    pub request_id: String,
    /// Milliseconds since IYS took it.
    pub sent_age_ms: i64,
    pub target: Target,
}

/// Sent batches whose result is still open, oldest first.
pub fn open_batches() -> Result<Vec<OpenBatch>, Error> {
    Spi::connect(|client| {
        let rows = client
            .select(
                &format!(
                    "SELECT s.id, s.request_id, (extract(epoch FROM now() - s.sent_at) * 1000)::bigint, {TARGET_COLUMNS}
                       FROM iys.batch s JOIN iys.brand b ON b.brand_code = s.brand_code
                       JOIN iys.account a ON a.iys_code = b.iys_code
                      WHERE s.state = 'sent' AND {NOT_PAUSED} ORDER BY s.id"
                ),
                None,
                &[],
            )
            .map_err(spi)?;
        rows.map(|row| {
            Ok(OpenBatch {
                batch_id: row.get(1)?.unwrap_or_default(),
                request_id: row.get(2)?.unwrap_or_default(),
                sent_age_ms: row.get(3)?.unwrap_or_default(),
                target: target_at(&row, 4)?,
            })
        })
        .collect::<Result<Vec<_>, pgrx::spi::Error>>()
        .map_err(spi)
    })
}

/// Claims the brand's next batch (see iys_internal.claim_batch: coalescing, per-key order). Returns the
/// batch id (0 when nothing was claimed) and the rows in request order.
pub fn claim(brand_code: &str, batch_size: i32, after_id: i64) -> Result<(i64, Vec<Claimed>), Error> {
    Spi::connect_mut(|client| {
        let rows = client
            .update(
                "SELECT id, attempts, recipient, consent_type::text, source::text, status::text,
                        to_char(consent_date, 'YYYY-MM-DD HH24:MI:SS'), recipient_type::text, retailer_code,
                        retailer_access, batch_id
                   FROM iys_internal.claim_batch($1, $2, $3) ORDER BY id",
                None,
                &[brand_code.into(), batch_size.into(), after_id.into()],
            )?;
        let mut batch_id = 0;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            batch_id = row.get(11)?.unwrap_or_default();
            claimed.push(Claimed {
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
            });
        }
        Ok::<_, pgrx::spi::Error>((batch_id, claimed))
    })
    .map_err(spi)
}

/// Records that IYS took the batch, under its request id. One row, whatever the batch's size.
pub fn mark_sent(batch_id: i64, request_id: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.batch SET state = 'sent', request_id = $2, sent_at = now() WHERE id = $1",
        &[batch_id.into(), request_id.into()],
    )
    .map_err(spi)
}

/// Ends a batch that will get no (more) answer from IYS, noting why.
fn close_batch(batch_id: i64, note: Option<&str>) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.batch SET state = 'done', done_at = now(), note = coalesce($2, note) WHERE id = $1",
        &[batch_id.into(), note.into()],
    )
    .map_err(spi)
}

/// Puts rows of a batch back to pending, to be sent again after `delay_ms`, noting why.
fn release(batch_id: i64, ids: &[i64], delay_ms: i64, code: Option<&str>, message: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.outbox SET state = 'pending', next_attempt_at = now() + make_interval(secs => $3 / 1000.0),
                error_code = $4, error_message = $5
          WHERE id = ANY ($2) AND batch_id = $1 AND state = 'in_flight'",
        &[batch_id.into(), ids.to_vec().into(), delay_ms.into(), code.into(), message.into()],
    )
    .map_err(spi)
}

/// IYS did not take the batch: its rows go back to pending after `delay_ms`; the batch ends.
pub fn release_batch(batch_id: i64, ids: &[i64], delay_ms: i64, code: Option<&str>, message: &str) -> Result<(), Error> {
    release(batch_id, ids, delay_ms, code, message)?;
    close_batch(batch_id, Some(message))
}

/// IYS refused the whole request for some of its items: those are rejected (final), the others
/// go back to pending at once; the batch ends.
pub fn split_refused_batch(batch_id: i64, bad_ids: &[i64], codes: &[String], messages: &[String], good_ids: &[i64]) -> Result<(), Error> {
    reject(batch_id, bad_ids, codes, messages)?;
    release(batch_id, good_ids, 0, None, "resent after IYS refused other items of its batch")?;
    close_batch(batch_id, Some("IYS refused the request for some of its items"))
}

/// IYS refused the whole request without naming items: every row is rejected (final).
pub fn reject_batch(batch_id: i64, ids: &[i64], codes: &[String], messages: &[String]) -> Result<(), Error> {
    reject(batch_id, ids, codes, messages)?;
    close_batch(batch_id, messages.first().map(String::as_str))
}

/// Puts every open row of a sent batch back to pending (IYS does not know the request).
pub fn release_request(batch_id: i64, message: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.outbox SET state = 'pending', next_attempt_at = now(), error_message = $3
          WHERE id = ANY ($2) AND batch_id = $1 AND state = 'in_flight'",
        &[batch_id.into(), batch_rows(batch_id)?.into(), message.into()],
    )
    .map_err(spi)?;
    close_batch(batch_id, Some(message))
}

/// Settles rows as rejected by IYS (final). A RET IYS answers with H175 (it never had that
/// consent) has nothing to withdraw: it ends `not_in_iys`, not among the rejections.
fn reject(batch_id: i64, ids: &[i64], codes: &[String], messages: &[String]) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.outbox o SET state = CASE WHEN u.code = 'H175' AND o.status = 'RET' THEN 'not_in_iys' ELSE 'rejected' END,
                error_code = u.code, error_message = u.message, settled_at = now()
           FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(id, code, message)
          WHERE o.id = u.id AND o.batch_id = $1 AND o.state = 'in_flight'",
        &[batch_id.into(), ids.to_vec().into(), codes.to_vec().into(), messages.to_vec().into()],
    )
    .map_err(spi)
}

/// The rows of a batch in request order (index i is element i).
fn batch_rows(batch_id: i64) -> Result<Vec<i64>, Error> {
    Spi::get_one_with_args::<Vec<i64>>("SELECT outbox_ids FROM iys.batch WHERE id = $1", &[batch_id.into()])
        .map(Option::unwrap_or_default)
        .map_err(spi)
}

/// Applies the per-item answers of a sent batch; ends the batch once no row of it is open.
/// Returns (settled, still open) counts.
pub fn settle(batch_id: i64, results: &[ItemResult], retry_delay_ms: i64) -> Result<(usize, i64), Error> {
    // Indexes become row ids here, once: every statement below is primary-key probes.
    let rows = batch_rows(batch_id)?;
    let mut accepted_ids = Vec::new();
    let mut accepted_tx = Vec::new();
    let mut retry_ids = Vec::new();
    let mut retry_code = Vec::new();
    let mut rejected_ids = Vec::new();
    let mut rejected_code = Vec::new();
    let mut rejected_msg = Vec::new();
    for item in results {
        let Some(&id) = rows.get(item.index) else { continue };
        match item.status {
            ItemStatus::Success => {
                accepted_ids.push(id);
                accepted_tx.push(item.transaction_id.clone().unwrap_or_default());
            }
            ItemStatus::Failure => {
                let (code, message) = item
                    .error
                    .as_ref()
                    .map(|e| (e.code.clone(), e.message.clone()))
                    .unwrap_or_else(|| ("UNKNOWN".into(), "IYS reported a failure without a code".into()));
                if crate::core::is_retryable_code(&code) {
                    retry_ids.push(id);
                    retry_code.push(code);
                } else {
                    rejected_ids.push(id);
                    rejected_code.push(code);
                    rejected_msg.push(message);
                }
            }
            ItemStatus::Enqueue => {}
        }
    }
    let settled = accepted_ids.len() + retry_ids.len() + rejected_ids.len();
    if !accepted_ids.is_empty() {
        // Accept the rows with IYS's transaction ids; then make them the current consent.
        let done = Spi::get_one_with_args::<Vec<i64>>(
            "WITH done AS (UPDATE iys.outbox o SET state = 'accepted', transaction_id = nullif(u.txid, ''),
                                  settled_at = now(), error_code = NULL, error_message = NULL
                             FROM unnest($2::bigint[], $3::text[]) AS u(id, txid)
                            WHERE o.id = u.id AND o.batch_id = $1 AND o.state = 'in_flight'
                           RETURNING o.id)
             SELECT coalesce(array_agg(id), '{}') FROM done",
            &[batch_id.into(), accepted_ids.into(), accepted_tx.into()],
        )
        .map_err(spi)?
        .unwrap_or_default();
        Spi::run_with_args("SELECT iys_internal.confirm_local($1)", &[done.into()]).map_err(spi)?;
    }
    if !retry_ids.is_empty() {
        Spi::run_with_args(
            "UPDATE iys.outbox o SET state = 'pending', error_code = u.code,
                    error_message = 'retryable IYS answer', next_attempt_at = now() + make_interval(secs => $4 / 1000.0)
               FROM unnest($2::bigint[], $3::text[]) AS u(id, code)
              WHERE o.id = u.id AND o.batch_id = $1 AND o.state = 'in_flight'",
            &[batch_id.into(), retry_ids.into(), retry_code.into(), retry_delay_ms.into()],
        )
        .map_err(spi)?;
    }
    if !rejected_ids.is_empty() {
        reject(batch_id, &rejected_ids, &rejected_code, &rejected_msg)?;
    }
    let open = Spi::get_one_with_args::<i64>(
        "WITH open AS (SELECT count(*) AS n FROM iys.outbox WHERE id = ANY ($2) AND batch_id = $1 AND state = 'in_flight'),
              ended AS (UPDATE iys.batch SET state = 'done', done_at = now()
                         WHERE id = $1 AND state <> 'done' AND (SELECT n FROM open) = 0)
         SELECT n FROM open",
        &[batch_id.into(), rows.into()],
    )
    .map_err(spi)?
    .unwrap_or(0);
    Ok((settled, open))
}

/// Enabled brands whose consent changes are pulled.
pub fn brands_to_pull() -> Result<Vec<Target>, Error> {
    active_brands("b.pull")
}

/// Enabled, unpaused brands: their status queries and daily files.
pub fn brands_to_query() -> Result<Vec<Target>, Error> {
    active_brands("true")
}

/// Enabled brands not paused (or due for a probe) that also meet `condition` (over `b`).
fn active_brands(condition: &str) -> Result<Vec<Target>, Error> {
    Spi::connect(|client| {
        targets(
            &client,
            &format!(
                "SELECT {TARGET_COLUMNS} FROM iys.brand b JOIN iys.account a USING (iys_code)
                  WHERE b.enabled AND {NOT_PAUSED} AND {condition} ORDER BY b.brand_code"
            ),
        )
    })
}

/// Queues every known key of the brand for IYS's status queries when its last successful pull
/// is older than the 167 hours IYS serves (once per gap); how many.
pub fn recover_pull_gap(brand_code: &str) -> Result<i64, Error> {
    Spi::get_one_with_args::<i64>("SELECT iys_internal.recover_pull_gap($1)", &[brand_code.into()]).map(Option::unwrap_or_default).map_err(spi)
}

/// A push connection asked for and not yet done (iys.push_connection).
pub struct PushAsk {
    pub brand_code: String,
    /// What IYS is sent: url, type and credentials.
    pub connection: crate::iys::PushConnection,
    /// Register (true) or unregister (false).
    pub wanted: bool,
}

pub enum PushOutcome {
    Done,
    /// IYS refused it, with its reason.
    Refused(String),
    /// Not answered (IYS busy or unreachable): asked again next round.
    Again(String),
}

pub fn pending_push_connections() -> Result<Vec<PushAsk>, Error> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT brand_code, consent_type::text, url, username, password, wanted FROM iys.push_connection
                  WHERE state = 'pending' ORDER BY requested_at LIMIT 10",
                None,
                &[],
            )?
            .map(|row| {
                Ok(PushAsk {
                    brand_code: row.get(1)?.unwrap_or_default(),
                    connection: crate::iys::PushConnection {
                        consent_type: row.get(2)?.unwrap_or_default(),
                        url: row.get(3)?.unwrap_or_default(),
                        username: row.get(4)?.unwrap_or_default(),
                        password: row.get(5)?.unwrap_or_default(),
                    },
                    wanted: row.get(6)?.unwrap_or(true),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(spi)
}

/// The brand's account, whether or not it pulls or is paused (a registration is an operator's
/// request).
pub fn brand_target(brand_code: &str) -> Result<Option<Target>, Error> {
    Spi::connect(|client| {
        let rows = client
            .select(
                &format!("SELECT {TARGET_COLUMNS} FROM iys.brand b JOIN iys.account a USING (iys_code) WHERE b.brand_code = $1"),
                None,
                &[brand_code.into()],
            )
            .map_err(spi)?;
        rows.map(|row| target_at(&row, 1)).next().transpose().map_err(spi)
    })
}

/// The account's credentials, with one of its brands (a token is the account's, whichever brand
/// asks for it; an account without brands still has one: ViA's KVK requests name no brand).
pub fn account_target(iys_code: &str) -> Result<Option<Target>, Error> {
    Spi::connect(|client| {
        let rows = client
            .select(
                &format!(
                    "SELECT {TARGET_COLUMNS} FROM iys.account a
                       LEFT JOIN LATERAL (SELECT * FROM iys.brand f WHERE f.iys_code = a.iys_code ORDER BY f.brand_code LIMIT 1) b ON true
                      WHERE a.iys_code = $1"
                ),
                None,
                &[iys_code.into()],
            )
            .map_err(spi)?;
        rows.map(|row| target_at(&row, 1)).next().transpose().map_err(spi)
    })
}

pub fn record_push_outcome(ask: &PushAsk, outcome: &PushOutcome) -> Result<(), Error> {
    let (state, error): (Option<&str>, Option<&str>) = match outcome {
        PushOutcome::Done => (Some(if ask.wanted { "registered" } else { "removed" }), None),
        PushOutcome::Refused(why) => (Some("refused"), Some(why)),
        PushOutcome::Again(why) => (None, Some(why)),
    };
    Spi::run_with_args(
        "UPDATE iys.push_connection
            SET state = coalesce($5, state), last_error = $6, done_at = CASE WHEN $5 IS NULL THEN done_at ELSE now() END
          WHERE brand_code = $1 AND consent_type = $2::iys.consent_type AND url = $3 AND wanted = $4 AND state = 'pending'",
        &[
            ask.brand_code.as_str().into(),
            ask.connection.consent_type.as_str().into(),
            ask.connection.url.as_str().into(),
            ask.wanted.into(),
            state.into(),
            error.into(),
        ],
    )
    .map_err(spi)
}

/// IYS's list of the brand's connections: its status words and times on our rows.
pub fn record_push_list(brand_code: &str, listed: &[crate::iys::PushStatus]) -> Result<(), Error> {
    for item in listed {
        Spi::run_with_args(
            "UPDATE iys.push_connection SET iys_status = $4, iys_time = $5
              WHERE brand_code = $1 AND consent_type::text = $2 AND url = $3",
            &[
                brand_code.into(),
                item.consent_type.clone().into(),
                item.url.clone().into(),
                item.status.clone().into(),
                item.register_time.clone().into(),
            ],
        )
        .map_err(spi)?;
    }
    Ok(())
}

/// IYS refused the cursor: the next page is asked for without one.
pub fn restart_pull(brand_code: &str, source: &str, reason: &str) -> Result<(), Error> {
    Spi::run_with_args("SELECT iys_internal.restart_pull($1, $2, $3)", &[brand_code.into(), source.into(), reason.into()]).map_err(spi)
}

pub fn pull_cursor(brand_code: &str, source: &str) -> Result<Option<String>, Error> {
    Spi::get_one_with_args::<String>(
        // A scalar subquery: one row even before the first pull.
        "SELECT (SELECT after FROM iys.pull_cursor WHERE brand_code = $1 AND source = $2)",
        &[brand_code.into(), source.into()],
    )
    .map_err(spi)
}

/// Records a page in the ledger and the inbox and moves the cursor (one transaction: the
/// caller's). The attached tables are written afterwards (`apply`).
pub fn record_pulled(brand_code: &str, source: &str, after: Option<&str>, list_json: &str) -> Result<i32, Error> {
    Spi::get_one_with_args::<i32>(
        "SELECT iys_internal.record_pulled($1, $2, $3, $4::jsonb)",
        &[brand_code.into(), source.into(), after.into(), list_json.into()],
    )
    .map(|n| n.unwrap_or(0))
    .map_err(spi)
}

pub fn pull_failed(brand_code: &str, source: &str, message: &str) -> Result<(), Error> {
    Spi::run_with_args("SELECT iys_internal.pull_failed($1, $2, $3)", &[brand_code.into(), source.into(), message.into()]).map_err(spi)
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

/// IYS refuses the account (or, `brand` given, the brand): nothing is sent for it until its
/// probe time, which doubles from a minute up to an hour with each refusal in a row.
pub fn pause(iys_code: &str, brand: Option<&str>, code: &str, reason: &str) -> Result<(), Error> {
    let (table, key, value) = match brand {
        Some(brand) => ("iys.brand", "brand_code", brand),
        None => ("iys.account", "iys_code", iys_code),
    };
    Spi::run_with_args(
        &format!(
            "UPDATE {table} SET paused_code = $2, paused_reason = $3, paused_at = coalesce(paused_at, now()),
                    probe_at = now() + make_interval(secs => least(3600, 60 * power(2, least(probes, 6)))), probes = probes + 1
              WHERE {key} = $1"
        ),
        &[value.into(), code.into(), reason.into()],
    )
    .map_err(spi)
}

/// Pauses the account until the next Turkey day (IYS's quality rule counts per day).
pub fn pause_until_tomorrow(iys_code: &str, code: &str, reason: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.account SET paused_code = $2, paused_reason = $3, paused_at = coalesce(paused_at, now()),
                probe_at = ((now() AT TIME ZONE INTERVAL '+03:00')::date + 1)::timestamp AT TIME ZONE INTERVAL '+03:00'
          WHERE iys_code = $1",
        &[iys_code.into(), code.into(), reason.into()],
    )
    .map_err(spi)
}

/// A probe succeeded: the account and the brand are active again.
pub fn unpause(iys_code: &str, brand_code: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "WITH a AS (UPDATE iys.account SET paused_code = NULL, paused_reason = NULL, paused_at = NULL, probe_at = NULL, probes = 0
                     WHERE iys_code = $1 AND paused_at IS NOT NULL)
         UPDATE iys.brand SET paused_code = NULL, paused_reason = NULL, paused_at = NULL, probe_at = NULL, probes = 0
          WHERE brand_code = $2 AND paused_at IS NOT NULL",
        &[iys_code.into(), brand_code.into()],
    )
    .map_err(spi)
}

/// Adds this round's requests and successful answers to the account's count of the Turkey day;
/// returns the day's totals.
pub fn count_requests(iys_code: &str, requests: i64, successes: i64) -> Result<(i64, i64), Error> {
    let row = Spi::get_two_with_args::<i64, i64>(
        "INSERT INTO iys.request_count AS r (iys_code, day, requests, successes)
         VALUES ($1, (now() AT TIME ZONE INTERVAL '+03:00')::date, $2, $3)
         ON CONFLICT (iys_code, day) DO UPDATE SET requests = r.requests + excluded.requests, successes = r.successes + excluded.successes
         RETURNING requests, successes",
        &[iys_code.into(), requests.into(), successes.into()],
    )
    .map_err(spi)?;
    Ok((row.0.unwrap_or(0), row.1.unwrap_or(0)))
}

/// The brand's rows delayed by a transient failure are due now, with a fresh attempt count.
pub fn end_backoff(brand_code: &str) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.outbox SET next_attempt_at = now(), attempts = 0
          WHERE brand_code = $1 AND state = 'pending' AND next_attempt_at > now()",
        &[brand_code.into()],
    )
    .map_err(spi)
}

/// `error`: this round's last error; a round that did work without one clears the old one.
pub fn heartbeat(pid: i32, started: bool, flushed: bool, error: Option<&str>) -> Result<(), Error> {
    Spi::run_with_args(
        "UPDATE iys.worker_state SET pid = $1, heartbeat_at = now(),
                started_at = CASE WHEN $2 THEN now() ELSE started_at END,
                last_flush_at = CASE WHEN $3 THEN now() ELSE last_flush_at END,
                last_error_at = CASE WHEN $4::text IS NOT NULL THEN now() ELSE last_error_at END,
                last_error = CASE WHEN $4::text IS NOT NULL THEN $4 WHEN $3 THEN NULL ELSE last_error END",
        &[pid.into(), started.into(), flushed.into(), error.into()],
    )
    .map_err(spi)
}
