//! İLETİ ViA: sends the consent requests `iys.request_via_consent` queued, confirms the one-time
//! codes `iys.confirm_via_otp` gave, follows each request until IYS finishes it (recorded by
//! `iys_internal.via_state`: approved ETK consents go the way of pulled changes), and fetches the
//! e-mail opt-out links `iys.optout_link` asked for, up to 100 a call.

use super::flush::{Round, Sender};
use super::store::{spi, Target};
use super::tx;
use crate::core::Error;
use crate::iys::via::{HashLink, PersonData, ViaConsentType, ViaStart, HASH_LINKS_PER_CALL};
use crate::iys::{CallFailure, FailureKind};
use pgrx::prelude::*;
use std::time::Duration;

/// Requests handled in one round (each is one call to IYS, within its 10 a second).
const REQUESTS_PER_ROUND: i32 = 50;
/// Opt-out link calls per brand in one round.
const LINK_CALLS_PER_ROUND: usize = 5;
/// Longest wait between two status queries of one request.
const LONGEST_CHECK: Duration = Duration::from_secs(3600);
/// A refusal of the account's use of ViA (no credit, no permission) is asked about again after
/// this long; nothing else of the account stops.
const ACCOUNT_REFUSAL_WAIT: Duration = Duration::from_secs(3600);

/// One due request, as `iys_internal.via_due` returns it.
struct Due {
    id: i64,
    iys_code: String,
    state: String,
    recipient: String,
    verification_type: String,
    form_id: i64,
    brand_codes: Vec<String>,
    etk_types: Vec<String>,
    recipient_type: Option<String>,
    kvk_types: Vec<String>,
    person: Option<PersonData>,
    request_id: Option<String>,
    otp: Vec<(&'static str, String)>,
    attempts: i32,
    checks: i32,
}

impl Due {
    fn start_body(&self) -> ViaStart {
        let mut consent_types = Vec::new();
        if !self.brand_codes.is_empty() {
            consent_types.push(ViaConsentType::Etk {
                title: "ETK",
                brand_codes: self.brand_codes.iter().filter_map(|b| b.parse().ok()).collect(),
                types: self.etk_types.clone(),
                recipient_type: self.recipient_type.clone().unwrap_or_else(|| "BIREYSEL".to_owned()),
            });
        }
        if let (false, Some(person)) = (self.kvk_types.is_empty(), &self.person) {
            consent_types.push(ViaConsentType::Kvk { title: "KVK", types: self.kvk_types.clone(), person_data: person.clone() });
        }
        ViaStart { form_id: self.form_id, recipient: self.recipient.clone(), verification_type: self.verification_type.clone(), consent_types }
    }
}

impl Sender {
    pub fn via(&mut self, round: &mut Round) -> Result<(), Error> {
        for due in tx::run("finding ViA requests", || due_requests(REQUESTS_PER_ROUND))? {
            if crate::worker::stop_requested() {
                return Ok(());
            }
            let Some(target) = tx::run("finding a ViA request's account", || super::store::account_target(&due.iys_code))? else { continue };
            if let Err(failure) = self.via_call(&target, &due) {
                round.last_error = Some(format!("ViA request {}: {}", due.id, failure.message));
                let (final_, retry_in) = self.after_failure(&target, &failure, &due);
                let code = failure.code().map(str::to_owned);
                tx::run("recording a failed ViA call", || {
                    Spi::run_with_args(
                        "SELECT iys_internal.via_failed($1, $2, $3, $4, make_interval(secs => $5 / 1000.0))",
                        &[due.id.into(), code.clone().into(), failure.message.clone().into(), final_.into(), (retry_in.as_millis() as f64).into()],
                    )
                    .map_err(spi)
                })?;
            }
        }
        self.optout_links(round)
    }

    /// One call for `due` and the record of its answer; the failure, if it failed.
    fn via_call(&mut self, target: &Target, due: &Due) -> Result<(), CallFailure> {
        let token = self.token(target)?;
        self.pace();
        let client = self.client(&target.base_url).clone();
        match due.state.as_str() {
            "pending" => {
                let answer = client.via_start(&token, &target.iys_code, &due.start_body());
                self.count(&target.iys_code, &answer);
                let request_id = answer?;
                let first = crate::settings::VIA_CHECK_INTERVAL.get();
                record("recording a sent ViA request", "SELECT iys_internal.via_sent($1, $2, make_interval(secs => $3 / 1000.0))", &[
                    due.id.into(),
                    request_id.into(),
                    (first.as_millis() as f64).into(),
                ])
            }
            "confirming" => {
                let request_id = due.request_id.clone().unwrap_or_default();
                let otp: Vec<(&str, &str)> = due.otp.iter().map(|(title, code)| (*title, code.as_str())).collect();
                let answer = client.via_confirm(&token, &target.iys_code, &request_id, &due.verification_type, &otp);
                self.count(&target.iys_code, &answer);
                answer?;
                record("recording a confirmed ViA code", "SELECT iys_internal.via_confirmed($1)", &[due.id.into()])
            }
            _ => {
                let request_id = due.request_id.clone().unwrap_or_default();
                let answer = client.via_state(&token, &target.iys_code, &request_id);
                self.count(&target.iys_code, &answer);
                let state = serde_json::to_value(answer?).unwrap_or_default();
                let next = (crate::settings::VIA_CHECK_INTERVAL.get() * 2u32.saturating_pow(due.checks.clamp(0, 20) as u32 + 1)).min(LONGEST_CHECK);
                record("recording a ViA request's state", "SELECT iys_internal.via_state($1, $2, make_interval(secs => $3 / 1000.0))", &[
                    due.id.into(),
                    pgrx::JsonB(state).into(),
                    (next.as_millis() as f64).into(),
                ])
            }
        }
    }

    /// Whether a failed call is final for what was asked, and when to come back.
    fn after_failure(&mut self, target: &Target, failure: &CallFailure, due: &Due) -> (bool, Duration) {
        match failure.kind {
            FailureKind::Unauthorized => {
                let _ = tx::run("dropping a refused token", || super::store::drop_access_token(&target.iys_code));
                (false, Duration::from_secs(1))
            }
            FailureKind::AccountRefused | FailureKind::TokenLimit | FailureKind::BadCredentials => (false, ACCOUNT_REFUSAL_WAIT),
            FailureKind::Transport | FailureKind::Retryable => (false, Duration::from_millis(self.backoff(due.attempts + 1).max(0) as u64)),
            // IYS refused what was asked: a start is rejected, a confirmation's codes are dropped;
            // a status query that fails so is asked again later.
            FailureKind::BatchRejected | FailureKind::Final => (true, crate::settings::VIA_CHECK_INTERVAL.get()),
        }
    }

    fn optout_links(&mut self, round: &mut Round) -> Result<(), Error> {
        for brand in tx::run("finding opt-out links to fetch", brands_with_links_due)? {
            let Some(target) = tx::run("finding a brand's account", || super::store::brand_target(&brand))? else { continue };
            for _ in 0..LINK_CALLS_PER_ROUND {
                if crate::worker::stop_requested() {
                    return Ok(());
                }
                let asked = tx::run("reading opt-out links to fetch", || links_due(&brand))?;
                if asked.is_empty() {
                    break;
                }
                let answer = self.token(&target).and_then(|token| {
                    self.pace();
                    let client = self.client(&target.base_url).clone();
                    let answer = client.via_hash_links(&token, &target.endpoint(), &asked);
                    self.count(&target.iys_code, &answer);
                    answer
                });
                let recipients: Vec<String> = asked.iter().map(|(recipient, _)| recipient.clone()).collect();
                let named;
                let (links, failure, retry_in): (Option<&[HashLink]>, Option<&str>, Duration) = match &answer {
                    Ok(links) => (Some(links), None, crate::settings::VIA_CHECK_INTERVAL.get()),
                    // IYS refused the call for addresses it names by index: those are refused,
                    // the others asked again at once, so one bad address never holds up the rest.
                    Err(f) if f.errors.iter().any(|e| e.index.is_some_and(|i| i < asked.len())) => {
                        named = refused_by_index(&asked, f);
                        (Some(named.as_slice()), Some(f.message.as_str()), Duration::ZERO)
                    }
                    Err(f) => {
                        round.last_error = Some(format!("brand {brand} opt-out links: {}", f.message));
                        if f.kind == FailureKind::Unauthorized {
                            let _ = tx::run("dropping a refused token", || super::store::drop_access_token(&target.iys_code));
                        }
                        let wait = if f.is_retryable() { Duration::from_millis(self.backoff(1).max(0) as u64) } else { ACCOUNT_REFUSAL_WAIT };
                        (None, Some(f.message.as_str()), wait)
                    }
                };
                let links = links.map(|l| serde_json::to_value(l).unwrap_or_default());
                tx::run("recording opt-out links", || {
                    Spi::run_with_args(
                        "SELECT iys_internal.record_optout_links($1, $2, $3, $4, make_interval(secs => $5 / 1000.0))",
                        &[brand.as_str().into(), recipients.clone().into(), links.clone().map(pgrx::JsonB).into(), failure.into(), (retry_in.as_millis() as f64).into()],
                    )
                    .map_err(spi)
                })?;
                if answer.is_err() || asked.len() < HASH_LINKS_PER_CALL {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// The addresses a refused call names by index, each with IYS's code for it.
fn refused_by_index(asked: &[(String, String)], failure: &CallFailure) -> Vec<HashLink> {
    failure
        .errors
        .iter()
        .filter_map(|e| {
            let (recipient, _) = asked.get(e.index?)?;
            Some(HashLink { recipient: recipient.clone(), url: None, code: Some(e.code.clone()), message: Some(e.message.clone()) })
        })
        .collect()
}

/// Runs one recording statement in its own transaction; a failure to record is an internal
/// failure of the call (the request is handled again next round).
fn record(what: &str, sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Result<(), CallFailure> {
    tx::run(what, || Spi::run_with_args(sql, args).map_err(spi)).map_err(|e| CallFailure::transport(e.to_string()))
}

fn due_requests(limit: i32) -> Result<Vec<Due>, Error> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT id, iys_code, state, recipient, verification_type, form_id, brand_codes, etk_types::text[],
                        recipient_type::text, kvk_types, person_name, person_id_number, person_address, request_id,
                        otp_etk, otp_kvk, attempts, checks
                   FROM iys_internal.via_due($1)",
                None,
                &[limit.into()],
            )?
            .map(|row| {
                let list = |n: usize| -> Result<Vec<String>, pgrx::spi::Error> {
                    Ok(row.get::<Vec<Option<String>>>(n)?.unwrap_or_default().into_iter().flatten().collect())
                };
                let (name, recipient_id_number, address) = (row.get::<String>(11)?, row.get(12)?, row.get(13)?);
                let mut otp = Vec::new();
                if let Some(code) = row.get::<String>(15)? {
                    otp.push(("ETK", code));
                }
                if let Some(code) = row.get::<String>(16)? {
                    otp.push(("KVK", code));
                }
                Ok(Due {
                    id: row.get(1)?.unwrap_or_default(),
                    iys_code: row.get(2)?.unwrap_or_default(),
                    state: row.get(3)?.unwrap_or_default(),
                    recipient: row.get(4)?.unwrap_or_default(),
                    verification_type: row.get(5)?.unwrap_or_default(),
                    form_id: row.get(6)?.unwrap_or_default(),
                    brand_codes: list(7)?,
                    etk_types: list(8)?,
                    recipient_type: row.get(9)?,
                    kvk_types: list(10)?,
                    person: name.map(|name| PersonData { name, recipient_id_number, address }),
                    request_id: row.get(14)?,
                    otp,
                    attempts: row.get(17)?.unwrap_or_default(),
                    checks: row.get(18)?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(spi)
}

fn brands_with_links_due() -> Result<Vec<String>, Error> {
    Spi::connect(|client| {
        client
            .select("SELECT b FROM iys_internal.optout_link_brands() b", None, &[])?
            .map(|row| row.get::<String>(1).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(spi)
}

fn links_due(brand: &str) -> Result<Vec<(String, String)>, Error> {
    Spi::connect(|client| {
        client
            .select("SELECT recipient, recipient_type FROM iys_internal.optout_links_due($1)", None, &[brand.into()])?
            .map(|row| Ok((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default())))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(spi)
}
