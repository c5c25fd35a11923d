//! Push connections: registers and unregisters what `iys.push_register` / `iys.push_unregister`
//! asked for, then reads IYS's list back into `iys.push_connection`. (Receiving the pushes is the
//! companion service's job: push-receiver/, through `iys.receive_push`.)

use super::flush::{Round, Sender};
use super::{store, tx};
use crate::core::Error;
use crate::iys::FailureKind;
use pgrx::prelude::*;

impl Sender {
    pub fn push_connections(&mut self, round: &mut Round) -> Result<(), Error> {
        let asked = tx::run("finding push connections to register", store::pending_push_connections)?;
        let mut listed_brands: Vec<String> = Vec::new();
        for ask in asked {
            if crate::worker::stop_requested() {
                break;
            }
            let Some(target) = tx::run("finding the brand of a push connection", || store::brand_target(&ask.brand_code))? else {
                continue;
            };
            let token = self.token(&target)?;
            self.pace();
            let client = self.client(&target.base_url);
            let answer = if ask.wanted {
                client.push_register(&token, &target.endpoint(), &ask.connection)
            } else {
                client.push_unregister(&token, &target.endpoint(), &ask.connection)
            };
            self.count(&target.iys_code, &answer);
            let outcome = match &answer {
                Ok(()) => store::PushOutcome::Done,
                // IYS busy or unreachable: asked again next round.
                Err(f) if matches!(f.kind, FailureKind::Transport | FailureKind::Retryable | FailureKind::Unauthorized) => {
                    round.last_error = Some(format!("brand {} push connection {}: {}", ask.brand_code, ask.connection.url, f.message));
                    store::PushOutcome::Again(f.message.clone())
                }
                Err(f) => store::PushOutcome::Refused(f.message.clone()),
            };
            if let Err(f) = &answer {
                if f.kind == FailureKind::Unauthorized {
                    let _ = tx::run("dropping a refused token", || store::drop_access_token(&target.iys_code));
                }
            }
            tx::run("recording a push registration", || store::record_push_outcome(&ask, &outcome))?;
            if !listed_brands.contains(&ask.brand_code) {
                listed_brands.push(ask.brand_code.clone());
                self.read_push_list(&target, &token);
            }
        }
        Ok(())
    }

    /// IYS's own view of the brand's connections (status words and times), best effort.
    fn read_push_list(&mut self, target: &store::Target, token: &str) {
        self.pace();
        let listed = self.client(&target.base_url).push_connections(token, &target.endpoint());
        self.count(&target.iys_code, &listed);
        match listed {
            Ok(listed) => {
                if let Err(e) = tx::run("recording IYS's push connections", || store::record_push_list(&target.brand_code, &listed)) {
                    log!("pg_iys worker: brand {}: {e}", target.brand_code);
                }
            }
            Err(f) => log!("pg_iys worker: brand {}: listing push connections: {}", target.brand_code, f.message),
        }
    }
}
