//! One round of sending: for each brand with due changes, claim a batch (short transaction),
//! POST it to IYS (no transaction open), record the request id; then fetch the results of the
//! batches that are due (iys.result_delay after their submit: IYS answers no earlier) and
//! settle each row by its index. HTTP never happens inside a transaction.
//!
//! Every call to IYS takes a slot of one request budget (iys.max_requests_per_second, IYS's 10
//! per IP), shared by submits, result fetches, pulls and token calls. Account-level refusals
//! pause the account or brand (rows stay pending) until a probe succeeds.

use super::backoff::{self, Jitter};
use super::exchange;
use super::store::{self, Target};
use super::tx;
use crate::core::Error;
use crate::iys::{CallFailure, Client, ConsentRecord, FailureKind, ItemResult};
use crate::settings;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// IYS asks for a full hour without token calls after H084.
const TOKEN_HALT_SECS: i64 = 3600;
/// Refresh the access token this long before it expires.
const TOKEN_MARGIN_SECS: i64 = 60;
/// Batches one brand may send in one round (10 s at IYS's rate); then the worker fetches every
/// result that is due, pulls and writes its heartbeat before it goes on. Submits come first: a
/// result is worth fetching only 300 s after its submit anyway, and a backlog sent early leaves
/// no part of the request budget idle at the end of a drain.
const MAX_BATCHES_PER_ROUND: usize = 100;
/// IYS's quality rule: >= 20,000 requests a day under 70 % success removes the IP. The account
/// pauses for the rest of the day well before: from this many requests, under this ratio.
const QUALITY_GUARD_REQUESTS: i64 = 10_000;
const QUALITY_GUARD_RATIO: f64 = 0.75;

/// A claimed batch on its way to IYS.
struct Claim {
    batch_id: i64,
    ids: Vec<i64>,
    attempts: i32,
    full: bool,
}

pub struct Sender {
    /// By base URL, timeout, proxy and CA file: a changed setting makes a new client.
    clients: HashMap<(String, u64, Option<String>, Option<String>), Client>,
    /// When each open batch may be polled next, and how often it was polled.
    polls: HashMap<i64, (Instant, u32)>,
    /// IYS's requests per second, shared with the submit threads.
    budget: super::budget::Budget,
    jitter: Jitter,
    /// When the last pull round started.
    pub(super) last_pull: Option<Instant>,
    /// Per brand, the highest id of the last full batch: the next claim starts after it.
    /// Dropped whenever a claim is not full or rows go back to pending, so that the next claim
    /// scans from the start and no row waits behind the mark.
    watermarks: HashMap<String, i64>,
    /// Batches this run claimed whose answer could not be recorded (still 'claimed').
    unrecorded: Vec<i64>,
    /// Brands with rows waiting out a backoff after a transient failure.
    backing_off: std::collections::HashSet<String>,
    /// Per account, requests made and successful answers since the counts were last saved.
    counts: HashMap<String, (i64, i64)>,
    /// Per account, when the token endpoint may be called again after a failed call, and how
    /// many failed in a row: IYS allows only a few token calls an hour (H084 beyond).
    /// Per account: no token call before this instant, after this many failures, the last one
    /// saying this.
    token_retry: HashMap<String, (Instant, u32, String)>,
    /// Single status queries of the last hour (IYS allows 1000 per IP).
    pub(super) status_hour: super::known_state::StatusHour,
    /// Per brand, the Turkey day whose past movement files are all reconciled.
    pub(super) reconciled_on: HashMap<String, chrono::NaiveDate>,
}

/// What a round did, for the loop's pacing and the status row.
#[derive(Default)]
pub struct Round {
    pub sent_batches: usize,
    pub settled_rows: usize,
    pub pulled_changes: usize,
    /// Keys answered by IYS's status queries, and days reconciled.
    pub status_answers: usize,
    /// Inbox items applied to the attached tables (or quarantined).
    pub applied_changes: usize,
    /// A brand filled a whole batch: more is probably waiting.
    pub more_pending: bool,
    /// Soonest time an open request should be polled again.
    pub next_poll: Option<Instant>,
    pub last_error: Option<String>,
}

impl Round {
    /// Some open batch should be polled again at `at`: wake no later than that.
    fn poll_by(&mut self, at: Instant) {
        self.next_poll = Some(self.next_poll.map_or(at, |n| n.min(at)));
    }
}

impl Sender {
    pub fn new(seed: u64) -> Sender {
        Sender { clients: HashMap::new(), polls: HashMap::new(), budget: Default::default(), jitter: Jitter::seeded(seed), last_pull: None, watermarks: HashMap::new(), unrecorded: Vec::new(), backing_off: Default::default(), counts: HashMap::new(), token_retry: HashMap::new(), status_hour: Default::default(), reconciled_on: HashMap::new() }
    }

    pub(super) fn client(&mut self, base_url: &str) -> &Client {
        let timeout_ms = settings::HTTP_TIMEOUT.get().as_millis() as u64;
        let (proxy, ca_file) = (settings::http_proxy(), settings::ca_file());
        self.clients
            .entry((base_url.to_owned(), timeout_ms, proxy.clone(), ca_file.clone()))
            .or_insert_with(|| Client::with_ca_file(base_url, Duration::from_millis(timeout_ms), proxy.as_deref(), ca_file.as_deref()))
    }

    /// iys.max_requests_per_second (IYS allows 10 per IP).
    fn rate() -> u32 {
        settings::MAX_REQUESTS_PER_SECOND.get().max(1) as u32
    }

    /// Notes one call to IYS for the account's daily quality count: a success, an HTTP failure,
    /// or (not counted) no answer at all. IYS counts 400/401/403/404/422 answers as failures.
    pub(super) fn count<T>(&mut self, iys_code: &str, answer: &Result<T, CallFailure>) {
        self.count_status(iys_code, answer.as_ref().map_or_else(|failure| failure.status, |_| Some(200)));
    }

    /// `count` by the HTTP status of the answer (None: no answer, not counted).
    fn count_status(&mut self, iys_code: &str, status: Option<u16>) {
        let Some(status) = status else { return };
        let entry = self.counts.entry(iys_code.to_owned()).or_insert((0, 0));
        entry.0 += 1;
        if !matches!(status, 400 | 401 | 403 | 404 | 422) {
            entry.1 += 1;
        }
    }

    /// Saves the request counts; pauses an account for the rest of the Turkey day when its
    /// success ratio comes near IYS's line.
    pub fn save_counts(&mut self) -> Result<(), Error> {
        for (iys_code, (requests, successes)) in std::mem::take(&mut self.counts) {
            let (day_requests, day_successes) = tx::run("counting requests", || store::count_requests(&iys_code, requests, successes))?;
            if day_requests >= QUALITY_GUARD_REQUESTS && (day_successes as f64) < QUALITY_GUARD_RATIO * day_requests as f64 {
                let reason = format!(
                    "{day_successes} of {day_requests} requests today succeeded: IYS removes an IP from its whitelist at 20,000 requests a day under 70 % success; sending resumes tomorrow (Turkey time), or after SELECT iys.resume('{iys_code}') once the cause is found"
                );
                tx::run("pausing for the quality rule", || store::pause_until_tomorrow(&iys_code, "PGIYS_QUALITY", &reason))?;
                pgrx::warning!("pg_iys worker: account {iys_code} paused: {reason}");
            }
        }
        Ok(())
    }

    /// IYS refused the account or brand (or its credentials): pause it, say why in
    /// iys.sync_status and the log. Rows are never rejected for it.
    pub(super) fn pause_for(&mut self, target: &Target, failure: &CallFailure) {
        let (brand, code, what) = match failure.kind {
            FailureKind::AccountRefused if failure.is_brand_refusal() => (
                Some(target.brand_code.as_str()),
                failure.code().unwrap_or("HTTP404").to_owned(),
                "IYS refuses this brand for this account: check the brand code and that the account is authorised for it (H353)",
            ),
            FailureKind::AccountRefused => (
                None,
                failure.code().map(str::to_owned).unwrap_or_else(|| format!("HTTP{}", failure.status.unwrap_or(0))),
                "IYS refuses the account: check its subscription and consent quota in IYS (H520 paused, H521 expired, H524 closed, H586 no API in the package, H525 quota used up)",
            ),
            FailureKind::BadCredentials => (
                None,
                "PGIYS_CREDENTIALS".to_owned(),
                "IYS's token endpoint refused the username or password of iys.account",
            ),
            _ => return,
        };
        let reason = format!("{what}; IYS answered: {}. Nothing is rejected; rows wait. The worker tries again later, or at once after SELECT iys.resume('{}').", failure.message, target.iys_code);
        if let Err(e) = tx::run("pausing", || store::pause(&target.iys_code, brand, &code, &reason)) {
            pgrx::warning!("pg_iys worker: {e}");
        }
        pgrx::warning!("pg_iys worker: {} {} paused ({code}): {reason}", if brand.is_some() { "brand" } else { "account" }, brand.unwrap_or(&target.iys_code));
    }

    /// A call for a paused target went through: it is active again.
    pub(super) fn resume_if_paused(&mut self, target: &Target) {
        if target.paused {
            if let Err(e) = tx::run("ending a pause", || store::unpause(&target.iys_code, &target.brand_code)) {
                pgrx::warning!("pg_iys worker: {e}");
            } else {
                pgrx::log!("pg_iys worker: brand {} of account {} is active again", target.brand_code, target.iys_code);
            }
        }
    }

    /// Waits for this thread's turn in the request budget.
    pub(super) fn pace(&mut self) {
        self.budget.take_turn(Self::rate());
    }

    pub(super) fn backoff(&mut self, attempts: i32) -> i64 {
        let cap = settings::BACKOFF_CAP.get();
        backoff::delay(attempts.max(0) as u32, cap, self.jitter.next()).as_millis() as i64
    }

    /// Never one token call per round after a failure: back off (2 s doubling to 5 min).
    fn token_failed(&mut self, iys_code: &str, why: &str) {
        let failures = self.token_retry.get(iys_code).map_or(0, |(_, n, _)| *n) + 1;
        let wait = Duration::from_secs((1u64 << failures.min(8)).min(300));
        self.token_retry.insert(iys_code.to_owned(), (Instant::now() + wait, failures, why.to_owned()));
    }

    /// A usable access token for the target's account: cached, refreshed, or a new login.
    pub(super) fn token(&mut self, target: &Target) -> Result<String, CallFailure> {
        let cached = tx::run("loading the IYS token", || store::load_token(&target.iys_code)).map_err(internal)?;
        if let Some(secs) = cached.halted_secs {
            return Err(CallFailure {
                kind: FailureKind::TokenLimit,
                status: Some(429),
                errors: Vec::new(),
                message: format!("token calls halted for {secs} more seconds after H084"),
            });
        }
        if let (Some(token), Some(valid)) = (&cached.access_token, cached.access_valid_secs) {
            if valid > TOKEN_MARGIN_SECS {
                return Ok(token.clone());
            }
        }
        if let Some((at, failures, last)) = self.token_retry.get(&target.iys_code) {
            if *at > Instant::now() {
                return Err(CallFailure::transport(format!(
                    "no token call for {} more s after {failures} failed one(s) in a row; the last: {last}",
                    at.saturating_duration_since(Instant::now()).as_secs() + 1
                )));
            }
        }
        let refreshable = cached.refresh_token.as_ref().filter(|_| cached.refresh_valid_secs.unwrap_or(0) > 5);
        // A login needs the stored password or the password file's. Without one no call is made
        // (nothing is counted against IYS), and the next try waits like after a failed call.
        let password = super::password::password_for(target.password.as_deref(), &target.iys_code, settings::password_file().as_deref());
        if let (None, Err(why)) = (refreshable, &password) {
            self.token_failed(&target.iys_code, why);
            return Err(CallFailure::transport(why.clone()));
        }
        let login = |client: &Client| match &password {
            Ok(password) => client.token_password(&target.username, password),
            Err(why) => Err(CallFailure::transport(why.clone())),
        };
        self.pace();
        let client = self.client(&target.base_url);
        let grant = match refreshable {
            Some(refresh) => match client.token_refresh(refresh) {
                Ok(grant) => Ok(grant),
                // A spent or revoked refresh token: log in again.
                Err(f) if !f.is_retryable() && f.kind != FailureKind::TokenLimit => {
                    self.pace();
                    login(&self.client(&target.base_url))
                }
                Err(f) => Err(f),
            },
            None => login(&client),
        };
        self.count(&target.iys_code, &grant);
        match &grant {
            Ok(_) => {
                self.token_retry.remove(&target.iys_code);
            }
            Err(f) => self.token_failed(&target.iys_code, &f.message),
        }
        match grant {
            Ok(grant) => {
                let expires = grant.expires_in.unwrap_or(7200);
                tx::run("saving the IYS token", || {
                    store::save_token(&target.iys_code, &grant.access_token, expires, grant.refresh_token.as_deref(), grant.refresh_expires_in)
                })
                .map_err(internal)?;
                Ok(grant.access_token)
            }
            Err(f) if f.kind == FailureKind::TokenLimit => {
                let reason = f.message.clone();
                tx::run("persisting the H084 halt", || store::halt_token_calls(&target.iys_code, TOKEN_HALT_SECS, &reason)).map_err(internal)?;
                Err(f)
            }
            Err(f) => {
                // Wrong credentials are not retried every round: the account pauses.
                self.pause_for(target, &f);
                Err(f)
            }
        }
    }

    /// Claims and sends the due changes of every brand, up to MAX_BATCHES_PER_ROUND batches each.
    pub fn flush(&mut self, round: &mut Round) -> Result<(), Error> {
        let batch_size = settings::BATCH_SIZE.get().clamp(1, 1000);
        tx::run("refreshing queue statistics", store::refresh_stale_statistics)?;
        // A batch whose answer could not be recorded last round (an ERROR in that transaction)
        // may or may not have reached IYS: its rows go back to pending; if it did reach IYS, the
        // V2 endpoint answers the resend with the original result.
        if !self.unrecorded.is_empty() {
            let batches = std::mem::take(&mut self.unrecorded);
            match tx::run("releasing unrecorded batches", || store::release_claimed(&batches)) {
                Ok(n) if n > 0 => pgrx::log!("pg_iys worker: {n} change(s) of batches never recorded as sent are pending again"),
                Ok(_) => {}
                Err(e) => {
                    self.unrecorded = batches;
                    return Err(e);
                }
            }
        }
        for target in tx::run("finding brands with pending changes", store::brands_with_pending)? {
            if crate::worker::stop_requested() {
                return Ok(());
            }
            if let Err(e) = self.flush_brand(&target, batch_size, round) {
                round.last_error = Some(format!("brand {}: {e}", target.brand_code));
            }
        }
        Ok(())
    }

    /// Sends a brand's due changes batch after batch. Each batch's HTTP exchange runs on a
    /// helper thread while this thread settles the previous batch and claims the next one.
    fn flush_brand(&mut self, target: &Target, batch_size: i32, round: &mut Round) -> Result<(), Error> {
        // Without a token nothing can be sent; rows stay pending, untouched.
        let token = self.token(target).map_err(Error::from)?;
        let client = self.client(&target.base_url).clone();
        let endpoint = target.endpoint();
        std::thread::scope(|scope| {
            let mut in_air: Option<(Claim, exchange::InAir<'_>)> = None;
            let mut outcome = Ok(());
            for _ in 0..MAX_BATCHES_PER_ROUND {
                if crate::worker::stop_requested() {
                    break;
                }
                let (claim, records) = match self.claim_next(target, batch_size, round) {
                    Ok(Some(next)) => next,
                    Ok(None) => break,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                };
                let full = claim.full;
                let request = exchange::Request {
                    client: client.clone(),
                    token: token.clone(),
                    endpoint: endpoint.clone(),
                    records,
                    budget: self.budget.clone(),
                    rate: Self::rate(),
                };
                let started = exchange::start(scope, request);
                if let Some((previous, flying)) = in_air.replace((claim, started)) {
                    if let Err(e) = self.apply_answer(target, previous, exchange::finish(flying), round) {
                        outcome = Err(e);
                        break;
                    }
                }
                if !full {
                    break;
                }
            }
            if let Some((last, flying)) = in_air.take() {
                let applied = self.apply_answer(target, last, exchange::finish(flying), round);
                outcome = outcome.and(applied);
            }
            outcome
        })
    }

    /// Claims the brand's next batch, moving the claim watermark.
    fn claim_next(&mut self, target: &Target, batch_size: i32, round: &mut Round) -> Result<Option<(Claim, Vec<ConsentRecord>)>, Error> {
        let after = self.watermarks.get(&target.brand_code).copied().unwrap_or(0);
        let (batch_id, claimed) = tx::run("claiming a batch", || store::claim(&target.brand_code, batch_size, after))?;
        let full = claimed.len() as i32 == batch_size;
        match claimed.iter().map(|c| c.id).max() {
            Some(highest) if full => self.watermarks.insert(target.brand_code.clone(), highest),
            _ => self.watermarks.remove(&target.brand_code),
        };
        if claimed.is_empty() {
            return Ok(None);
        }
        // More may wait: a full batch, or a partial one claimed after the mark.
        round.more_pending |= full || after > 0;
        let attempts = claimed.iter().map(|c| c.attempts).max().unwrap_or(1);
        let ids = claimed.iter().map(|c| c.id).collect();
        let records = claimed.into_iter().map(|c| c.record).collect();
        Ok(Some((Claim { batch_id, ids, attempts, full }, records)))
    }

    /// Records what IYS answered for a batch: its request id and, when already there, its
    /// results. A batch left 'claimed' by an error here is released next round.
    fn apply_answer(&mut self, target: &Target, claim: Claim, answer: exchange::Answer, round: &mut Round) -> Result<(), Error> {
        let batch_id = claim.batch_id;
        let applied = self.record_answer(target, claim, answer, round);
        if applied.is_err() {
            self.unrecorded.push(batch_id);
        }
        applied
    }

    fn record_answer(&mut self, target: &Target, claim: Claim, answer: exchange::Answer, round: &mut Round) -> Result<(), Error> {
        match answer {
            exchange::Answer::Taken(accepted) => {
                self.count_status(&target.iys_code, Some(202));
                tx::run("recording the request id", || store::mark_sent(claim.batch_id, &accepted.request_id))?;
                round.sent_batches += 1;
                self.resume_if_paused(target);
                // IYS answers the result only after the delay: fetch it then, once.
                let due = Instant::now() + settings::RESULT_DELAY.get();
                self.polls.insert(claim.batch_id, (due, 0));
                round.poll_by(due);
                if self.backing_off.remove(&target.brand_code) {
                    // IYS answers again: rows waiting out a backoff go now, their count starts over.
                    tx::run("ending the backoff", || store::end_backoff(&target.brand_code))?;
                    self.watermarks.remove(&target.brand_code);
                }
                Ok(())
            }
            exchange::Answer::Refused(failure) => {
                self.count_status(&target.iys_code, failure.status);
                let outcome = self.handle_submit_failure(target, claim.batch_id, &claim.ids, claim.attempts, failure);
                round.last_error = Some(format!("brand {}: {}", target.brand_code, outcome));
                Ok(())
            }
        }
    }

    /// Decides what happens to a claimed batch IYS did not take. Returns a log line.
    fn handle_submit_failure(&mut self, target: &Target, batch_id: i64, ids: &[i64], attempts: i32, failure: CallFailure) -> String {
        // Rows go back to pending below the mark: the next claim must see them.
        self.watermarks.remove(&target.brand_code);
        let code = failure.code().map(str::to_owned);
        let result = match failure.kind {
            FailureKind::BatchRejected => {
                // IYS refused the whole list for the items it names: those are final, the
                // others go out again at once in the next round.
                let mut bad_ids = Vec::new();
                let mut codes = Vec::new();
                let mut messages = Vec::new();
                for error in &failure.errors {
                    if let Some(&id) = error.index.and_then(|i| ids.get(i)) {
                        if !bad_ids.contains(&id) {
                            bad_ids.push(id);
                            codes.push(error.code.clone());
                            messages.push(format!("{}{}", error.message, error.location.as_deref().map(|l| format!(" ({l})")).unwrap_or_default()));
                        }
                    }
                }
                let good: Vec<i64> = ids.iter().copied().filter(|id| !bad_ids.contains(id)).collect();
                tx::run("settling a refused batch", || store::split_refused_batch(batch_id, &bad_ids, &codes, &messages, &good))
            }
            FailureKind::Unauthorized => tx::run("dropping a refused token", || {
                store::drop_access_token(&target.iys_code)?;
                store::release_batch(batch_id, ids, 0, code.as_deref(), &failure.message)
            }),
            FailureKind::AccountRefused | FailureKind::BadCredentials => {
                self.pause_for(target, &failure);
                tx::run("keeping the rows of a refused account", || store::release_batch(batch_id, ids, 0, code.as_deref(), &failure.message))
            }
            FailureKind::TokenLimit => tx::run("releasing after H084", || {
                store::release_batch(batch_id, ids, TOKEN_HALT_SECS * 1000, code.as_deref(), &failure.message)
            }),
            FailureKind::Transport | FailureKind::Retryable => {
                self.backing_off.insert(target.brand_code.clone());
                let delay = self.backoff(attempts);
                tx::run("scheduling a retry", || store::release_batch(batch_id, ids, delay, code.as_deref(), &failure.message))
            }
            FailureKind::Final => {
                // A refusal that names no item applies to the whole request.
                let codes = vec![code.clone().unwrap_or_else(|| format!("HTTP{}", failure.status.unwrap_or(0))); ids.len()];
                let messages = vec![format!("IYS refused the whole batch: {}", failure.message); ids.len()];
                tx::run("settling a refused batch", || store::reject_batch(batch_id, ids, &codes, &messages))
            }
        };
        match result {
            Ok(()) => failure.message,
            Err(e) => format!("{} (and settling it failed: {e})", failure.message),
        }
    }

    /// Fetches the results of the open batches that are due (iys.result_delay after their
    /// submit; a batch the previous run sent is due by its recorded submit time) and settles
    /// their rows.
    pub fn poll(&mut self, round: &mut Round) -> Result<(), Error> {
        let open = tx::run("finding open batches", store::open_batches)?;
        let now = Instant::now();
        self.polls.retain(|id, _| open.iter().any(|o| o.batch_id == *id));
        let delay = settings::RESULT_DELAY.get();
        for batch in open {
            if crate::worker::stop_requested() {
                return Ok(());
            }
            let target = &batch.target;
            let first_due = now + delay.saturating_sub(Duration::from_millis(batch.sent_age_ms.max(0) as u64));
            let (due, polls) = *self.polls.entry(batch.batch_id).or_insert((first_due, 0));
            if due > now {
                round.poll_by(due);
                continue;
            }
            let token = match self.token(target) {
                Ok(token) => token,
                Err(f) => {
                    round.last_error = Some(format!("brand {}: {f}", target.brand_code));
                    continue;
                }
            };
            let endpoint = target.endpoint();
            self.pace();
            let answer = self.client(&target.base_url).batch_result(&token, &endpoint, &batch.request_id);
            self.count(&target.iys_code, &answer);
            self.apply_result(target, &batch, polls, answer, round)?;
        }
        Ok(())
    }

    /// Settles a batch by the result IYS gave, or schedules the next fetch. `polls`: how often
    /// the batch was fetched before.
    fn apply_result(
        &mut self,
        target: &Target,
        batch: &store::OpenBatch,
        polls: u32,
        answer: Result<Vec<ItemResult>, CallFailure>,
        round: &mut Round,
    ) -> Result<(), Error> {
        let batch_id = batch.batch_id;
        let again = Instant::now() + refetch_interval();
        match answer {
            Ok(results) => {
                self.resume_if_paused(target);
                let answered = results.iter().any(|r| r.status != crate::iys::ItemStatus::Enqueue);
                if !answered && batch.sent_age_ms >= settings::RESULT_TIMEOUT.get().as_millis() as i64 {
                    // Every batch ends: one IYS never answers (or forgot: results last 60
                    // days) is sent again; the V2 endpoint answers a resend of what it already
                    // has with the original outcome.
                    let note = format!("no result within {} s of the submit: rows sent again", settings::RESULT_TIMEOUT.get().as_secs());
                    tx::run("resending an unanswered batch", || store::release_request(batch_id, &note))?;
                    self.watermarks.remove(&target.brand_code);
                    self.polls.remove(&batch_id);
                    round.last_error = Some(format!("brand {}: batch {batch_id}: {note}", target.brand_code));
                    return Ok(());
                }
                let delay = self.backoff(1);
                let (settled, still_open) = if answered {
                    tx::run("settling batch results", || store::settle(batch_id, &results, delay))?
                } else {
                    (0, 1)
                };
                if results.iter().any(|r| r.status == crate::iys::ItemStatus::Failure) {
                    // A retryable failure may have put rows back to pending.
                    self.watermarks.remove(&target.brand_code);
                }
                round.settled_rows += settled;
                if still_open > 0 {
                    self.polls.insert(batch_id, (again, polls + 1));
                    round.poll_by(again);
                } else {
                    self.polls.remove(&batch_id);
                }
            }
            Err(failure) => {
                if failure.kind == FailureKind::Unauthorized {
                    let _ = tx::run("dropping a refused token", || store::drop_access_token(&target.iys_code));
                }
                if matches!(failure.kind, FailureKind::AccountRefused | FailureKind::BadCredentials) {
                    // The batch stays open: its result is fetched once the account works again.
                    self.pause_for(target, &failure);
                    self.polls.remove(&batch_id);
                    return Ok(());
                }
                if failure.kind == FailureKind::Final {
                    // IYS does not know the request (any more): send its rows again; the V2
                    // endpoint answers an identical resend with the original result.
                    tx::run("resending an unknown request", || store::release_request(batch_id, &failure.message))?;
                    self.watermarks.remove(&target.brand_code);
                    self.polls.remove(&batch_id);
                    round.last_error = Some(format!("brand {}: batch result refused, rows resent: {failure}", target.brand_code));
                    return Ok(());
                }
                let next = Instant::now() + Duration::from_millis(self.backoff(polls as i32 + 1).max(0) as u64);
                self.polls.insert(batch_id, (next, polls + 1));
                round.poll_by(next);
                round.last_error = Some(format!("brand {}: fetching a batch result: {failure}", target.brand_code));
            }
        }
        Ok(())
    }
}

/// How long to wait before fetching again a result IYS has not produced yet: a fifth of the
/// delay, between 1 s and 60 s.
fn refetch_interval() -> Duration {
    (settings::RESULT_DELAY.get() / 5).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

fn internal(e: Error) -> CallFailure {
    CallFailure { kind: FailureKind::Retryable, status: None, errors: Vec::new(), message: e.to_string() }
}
