//! Pulling consent changes from IYS (`GET …/consents/changes`): citizens' own changes (source
//! IYS) and other service providers' (source HS, for reconciliation). Each page is fetched with
//! no transaction open, then recorded (ledger, current consent, inbox) and the cursor moved in
//! ONE transaction (`iys_internal.record_pulled`), so a crash in between re-fetches the page and records
//! it once. The attached tables get the changes from the inbox afterwards (`apply`).

use super::flush::Sender;
use super::store::{self, Target};
use super::tx;
use crate::core::Error;
use crate::iys::PullSource;
use pgrx::log;
use std::time::Instant;

/// Records per page (IYS's maximum).
const PAGE: u32 = 1000;
/// Pages per brand and source in one round, so sending is never starved by a long backlog.
const MAX_PAGES_PER_ROUND: usize = 20;

impl Sender {
    /// Pulls every brand with `pull` on, when iys.pull_interval has passed.
    pub fn pull(&mut self, round: &mut super::flush::Round) -> Result<(), Error> {
        let interval = crate::settings::PULL_INTERVAL.get();
        if self.last_pull.is_some_and(|t| t.elapsed() < interval) {
            return Ok(());
        }
        self.last_pull = Some(Instant::now());
        for target in tx::run("finding brands to pull", store::brands_to_pull)? {
            // Before the pull moves last_success_at: a gap over IYS's 7 days is bridged by
            // asking IYS about every known key (known_state.rs answers them).
            match tx::run("checking for a pull gap", || store::recover_pull_gap(&target.brand_code)) {
                Ok(0) => {}
                Ok(n) => log!("pg_iys worker: brand {}: the last pull is older than the 167 hours IYS serves; {n} known key(s) queued for IYS's status queries", target.brand_code),
                Err(e) => round.last_error = Some(format!("brand {}: {e}", target.brand_code)),
            }
            for source in [PullSource::Iys, PullSource::Hs] {
                if crate::worker::stop_requested() {
                    return Ok(());
                }
                if let Err(e) = self.pull_source(&target, source, round) {
                    let message = e.to_string();
                    let _ = tx::run("noting a failed pull", || store::pull_failed(&target.brand_code, source.as_str(), &message));
                    round.last_error = Some(format!("brand {} pull {}: {message}", target.brand_code, source.as_str()));
                }
            }
        }
        Ok(())
    }

    fn pull_source(&mut self, target: &Target, source: PullSource, round: &mut super::flush::Round) -> Result<(), Error> {
        let endpoint = target.endpoint();
        for _ in 0..MAX_PAGES_PER_ROUND {
            let token = self.token(target)?;
            let after = tx::run("reading the pull cursor", || store::pull_cursor(&target.brand_code, source.as_str()))?;
            self.pace();
            let page = self.client(&target.base_url).changes(&token, &endpoint, source, after.as_deref(), PAGE);
            self.count(&target.iys_code, &page);
            let page = match page {
                Ok(page) => page,
                Err(failure) if after.is_some() && refuses_the_cursor(&failure) => {
                    log!(
                        "pg_iys worker: brand {} pull {}: IYS refused the cursor ({}); pulling again from the oldest change it serves",
                        target.brand_code,
                        source.as_str(),
                        failure.message
                    );
                    tx::run("restarting the pull", || store::restart_pull(&target.brand_code, source.as_str(), &failure.message))?;
                    continue;
                }
                Err(failure) => {
                    if failure.kind == crate::iys::FailureKind::Unauthorized {
                        let _ = tx::run("dropping a refused token", || store::drop_access_token(&target.iys_code));
                    }
                    // An account or brand IYS refuses pauses; its rows are kept.
                    self.pause_for(target, &failure);
                    return Err(failure.into());
                }
            };
            self.resume_if_paused(target);
            let Some(page) = page else {
                // 204: nothing new. The pull still succeeded.
                tx::run("recording an empty pull", || store::record_pulled(&target.brand_code, source.as_str(), None, "[]"))?;
                return Ok(());
            };
            let list = serde_json::to_string(&page.list).map_err(|e| Error::Internal(e.to_string()))?;
            let applied = tx::run("recording pulled changes", || {
                store::record_pulled(&target.brand_code, source.as_str(), page.after.as_deref(), &list)
            })?;
            round.pulled_changes += applied as usize;
            if page.list.len() < PAGE as usize || page.after.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// An answer that refuses the `after` cursor itself: IYS's document names no code for a cursor
/// past its 7 days (H098 "izin değişim sorgulama isteği geçerli olmalıdır" is the plausible one),
/// so any 400/404/422 to a request with a cursor counts, except the two codes that blame the
/// other parameters (H506 source, H507 limit). Without a cursor the same answer is an ordinary
/// failure.
fn refuses_the_cursor(failure: &crate::iys::CallFailure) -> bool {
    matches!(failure.status, Some(400 | 404 | 422)) && !failure.errors.iter().any(|e| e.code == "H506" || e.code == "H507")
}
