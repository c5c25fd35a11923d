//! Learning what IYS holds, beyond the pull: the status queries that answer `iys.status_check`
//! (rows adopted on day one, keys rechecked after a pull gap) and the daily movement files that
//! reconcile each past day. Every call goes through the shared request budget; nothing is held
//! open across a call; each answer is recorded in one transaction, so a restart resumes where
//! the queue stands.
//!
//! - Multi-status (`POST …/consents/{recipientType}/status/{type}`): up to 1000 keys of one
//!   channel and recipient type a call; IYS lists the ONAY ones.
//! - Single status (`POST …/consents/status`): IYS's record of one key, for the keys whose row
//!   says ONAY while IYS does not list them. IYS allows 1000 an hour per IP:
//!   `iys.status_queries_per_hour` (default 900) of them, counted here.
//! - Pull gaps: `pull.rs` queues every known key (iys_internal.recover_pull_gap) before the pull.
//! - Daily file (`GET …/changes/{date}/file`): from `iys.reconcile_hour` (Turkey time) on, each
//!   of the last 7 days not reconciled yet, once.

use super::flush::{Round, Sender};
use super::store::{self, spi, Target};
use super::tx;
use crate::core::Error;
use crate::iys::{CallFailure, FailureKind};
use chrono::{Duration as Days, NaiveDate, Timelike};
use pgrx::prelude::*;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Keys per multi-status call (IYS's maximum).
const KEYS_PER_QUERY: i64 = 1000;
/// Calls per brand and round, so sending is never starved by a long import.
const QUERIES_PER_ROUND: usize = 10;
/// IYS serves movement files of the last 7 days.
const FILE_DAYS: i64 = 7;
const HOUR: Duration = Duration::from_secs(3600);

/// The single status queries of the last hour, and a hold after IYS said the hour's are used.
#[derive(Default)]
pub struct StatusHour {
    calls: VecDeque<Instant>,
    held_until: Option<Instant>,
}

impl StatusHour {
    fn admit(&mut self, per_hour: usize) -> bool {
        let now = Instant::now();
        if self.held_until.is_some_and(|t| now < t) {
            return false;
        }
        while self.calls.front().is_some_and(|t| now.duration_since(*t) >= HOUR) {
            self.calls.pop_front();
        }
        if self.calls.len() >= per_hour {
            return false;
        }
        self.calls.push_back(now);
        true
    }

    fn hold_for_an_hour(&mut self) {
        self.held_until = Some(Instant::now() + HOUR);
    }
}

/// One multi-status call's worth of keys.
struct Group {
    consent_type: String,
    recipient_type: String,
    recipients: Vec<String>,
}

impl Sender {
    /// Answers queued status checks and reconciles past days, for every active brand.
    pub fn learn_known_state(&mut self, round: &mut Round) -> Result<(), Error> {
        for target in tx::run("finding brands with status queries", store::brands_to_query)? {
            if crate::worker::stop_requested() {
                return Ok(());
            }
            if let Err(e) = self.learn_for(&target, round) {
                round.last_error = Some(format!("brand {}: {e}", target.brand_code));
            }
        }
        Ok(())
    }

    fn learn_for(&mut self, target: &Target, round: &mut Round) -> Result<(), Error> {
        for _ in 0..QUERIES_PER_ROUND {
            let Some(group) = tx::run("claiming keys for a status query", || next_group(&target.brand_code))? else { break };
            let token = self.token(target)?;
            self.pace();
            let answer = self.client(&target.base_url).multi_status(&token, &target.endpoint(), &group.recipient_type, &group.consent_type, &group.recipients);
            self.count(&target.iys_code, &answer);
            let onay = answer.map_err(|failure| self.refused(target, failure))?;
            self.resume_if_paused(target);
            tx::run("recording a status answer", || record_answers(&target.brand_code, &group, &onay))?;
            round.status_answers += group.recipients.len();
            if group.recipients.len() < KEYS_PER_QUERY as usize {
                break;
            }
            round.more_pending = true;
        }
        self.fetch_details(target, round)?;
        self.reconcile(target, round)
    }

    /// IYS's record of each key waiting for detail, as far as the hour's allowance goes.
    fn fetch_details(&mut self, target: &Target, round: &mut Round) -> Result<(), Error> {
        let per_hour = crate::settings::STATUS_QUERIES_PER_HOUR.get().max(0) as usize;
        loop {
            let Some((consent_type, recipient_type, recipient)) = tx::run("finding a key to detail", || next_detail(&target.brand_code))? else {
                return Ok(());
            };
            if !self.status_hour.admit(per_hour) {
                return Ok(());
            }
            let token = self.token(target)?;
            self.pace();
            let answer = self.client(&target.base_url).single_status(&token, &target.endpoint(), &recipient, &recipient_type, &consent_type);
            self.count(&target.iys_code, &answer);
            let detail = match answer {
                Ok(detail) => detail,
                Err(failure) if failure.is_rate_limited() => {
                    // H086: the hour's single status queries are used up (by us or another
                    // process on this IP); H124: this second's, try next round.
                    if failure.is_status_query_limit() {
                        self.status_hour.hold_for_an_hour();
                    }
                    return Ok(());
                }
                Err(failure) => return Err(self.refused(target, failure)),
            };
            let json = match &detail {
                Some(d) => Some(serde_json::to_string(d).map_err(|e| Error::Internal(e.to_string()))?),
                None => None,
            };
            tx::run("recording IYS's record of a key", || record_detail(&target.brand_code, &consent_type, &recipient_type, &recipient, json.as_deref()))?;
            round.status_answers += 1;
        }
    }

    /// Fetches and compares each past day's movement file not reconciled yet.
    fn reconcile(&mut self, target: &Target, round: &mut Round) -> Result<(), Error> {
        let hour = crate::settings::RECONCILE_HOUR.get();
        if hour < 0 {
            return Ok(());
        }
        let now = crate::core::now_turkey();
        if now.hour() < hour as u32 {
            return Ok(());
        }
        let today = now.date();
        if self.reconciled_on.get(&target.brand_code) == Some(&today) {
            return Ok(());
        }
        for back in (1..=FILE_DAYS).rev() {
            let day = today - Days::days(back);
            if tx::run("checking a reconciled day", || reconciled(&target.brand_code, day))? {
                continue;
            }
            let token = self.token(target)?;
            self.pace();
            let answer = self.client(&target.base_url).daily_file(&token, &target.endpoint(), day);
            self.count(&target.iys_code, &answer);
            let movements = match answer {
                Ok(movements) => movements,
                // IYS refuses this day (H502 at the 7-day edge when clocks differ): the others
                // are still worth fetching.
                Err(failure) if failure.kind == FailureKind::Final => continue,
                Err(failure) => return Err(self.refused(target, failure)),
            };
            // 204: IYS has no file for the day (no movement, or not made yet); an empty day.
            let list = serde_json::to_string(&movements.unwrap_or_default()).map_err(|e| Error::Internal(e.to_string()))?;
            let findings = tx::run("reconciling a day", || record_file(&target.brand_code, day, &list))?;
            if findings > 0 {
                log!("pg_iys worker: brand {} {day}: IYS's movement file differs from pg_iys in {findings} movement(s); see iys.drift", target.brand_code);
            }
            round.status_answers += 1;
        }
        self.reconciled_on.insert(target.brand_code.clone(), today);
        Ok(())
    }

    /// A failed call: a refused token is dropped, a refused account or brand paused.
    fn refused(&mut self, target: &Target, failure: CallFailure) -> Error {
        if failure.kind == FailureKind::Unauthorized {
            let _ = tx::run("dropping a refused token", || store::drop_access_token(&target.iys_code));
        }
        self.pause_for(target, &failure);
        failure.into()
    }
}


/// Up to 1000 pending keys of one channel and recipient type of the brand.
fn next_group(brand: &str) -> Result<Option<Group>, Error> {
    Spi::connect(|client| {
        let mut rows = client.select(
            "WITH g AS (SELECT consent_type, recipient_type FROM iys.status_check
                         WHERE brand_code = $1 AND state = 'pending' LIMIT 1)
             SELECT g.consent_type::text, g.recipient_type::text,
                    ARRAY(SELECT s.recipient FROM iys.status_check s
                           WHERE s.brand_code = $1 AND s.state = 'pending'
                             AND s.consent_type = g.consent_type AND s.recipient_type = g.recipient_type
                           ORDER BY s.recipient LIMIT $2)
               FROM g",
            None,
            &[brand.into(), KEYS_PER_QUERY.into()],
        )?;
        let Some(row) = rows.next() else { return Ok(None) };
        Ok(Some(Group {
            consent_type: row.get::<String>(1)?.unwrap_or_default(),
            recipient_type: row.get::<String>(2)?.unwrap_or_default(),
            recipients: row.get::<Vec<String>>(3)?.unwrap_or_default(),
        }))
    })
    .map_err(spi)
}

fn record_answers(brand: &str, group: &Group, onay: &[String]) -> Result<(), Error> {
    Spi::run_with_args(
        "SELECT iys_internal.record_status_answers($1, $2::iys.consent_type, $3::iys.recipient_type, $4, $5)",
        &[brand.into(), group.consent_type.as_str().into(), group.recipient_type.as_str().into(), group.recipients.clone().into(), onay.to_vec().into()],
    )
    .map_err(spi)
}

fn next_detail(brand: &str) -> Result<Option<(String, String, String)>, Error> {
    Spi::connect(|client| {
        let mut rows = client.select(
            "SELECT consent_type::text, recipient_type::text, recipient FROM iys.status_check
              WHERE brand_code = $1 AND state = 'detail' ORDER BY checked_at, recipient LIMIT 1",
            None,
            &[brand.into()],
        )?;
        let Some(row) = rows.next() else { return Ok(None) };
        Ok(Some((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default(), row.get::<String>(3)?.unwrap_or_default())))
    })
    .map_err(spi)
}

fn record_detail(brand: &str, consent_type: &str, recipient_type: &str, recipient: &str, detail: Option<&str>) -> Result<(), Error> {
    Spi::run_with_args(
        "SELECT iys_internal.record_status_detail($1, $2::iys.consent_type, $3::iys.recipient_type, $4, $5::jsonb)",
        &[brand.into(), consent_type.into(), recipient_type.into(), recipient.into(), detail.into()],
    )
    .map_err(spi)
}

fn reconciled(brand: &str, day: NaiveDate) -> Result<bool, Error> {
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM iys.reconcile_day WHERE brand_code = $1 AND report_date = $2::date)",
        &[brand.into(), day.to_string().into()],
    )
    .map(|b| b.unwrap_or(false))
    .map_err(spi)
}

fn record_file(brand: &str, day: NaiveDate, movements_json: &str) -> Result<i32, Error> {
    Spi::get_one_with_args::<i32>(
        "SELECT iys_internal.record_movement_file($1, $2::date, $3::jsonb)",
        &[brand.into(), day.to_string().into(), movements_json.into()],
    )
    .map(Option::unwrap_or_default)
    .map_err(spi)
}
