//! iys.receive_push: where iys-push-receiver hands over what IYS pushed.

use crate::core::Error;
use crate::sql_api::error::OrRaise;
use pgrx::prelude::*;

/// Records one pushed request (`{"list":[movement, ...]}` as IYS sent it) in the ledger, the
/// known state and the inbox (`iys_internal.record_pushed`), and wakes the worker at commit to
/// apply it to the attached tables. Made SECURITY DEFINER in sql/push.sql: the receiver's role
/// may run this and nothing else. Returns how many movements were new.
#[pg_extern(volatile)]
fn receive_push(body: pgrx::JsonB) -> i32 {
    crate::worker::wake::wake_worker_at_commit();
    Spi::get_one_with_args::<i32>("SELECT iys_internal.record_pushed($1)", &[body.into()])
        .map(Option::unwrap_or_default)
        .map_err(|e| Error::Internal(format!("recording a push failed: {e}")))
        .or_raise()
}
