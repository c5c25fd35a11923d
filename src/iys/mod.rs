//! Pure-Rust IYS client: wire types (serde) and a blocking HTTP client (ureq) with timeouts.
//! No pgrx here: the worker calls it outside any database transaction, and plain `#[test]`s
//! exercise it against the simulator.

pub mod client;
pub mod outcome;
pub mod via;
pub mod wire;

#[cfg(test)]
mod sim_tests;

pub use client::{Client, Endpoint};
pub use outcome::{CallFailure, FailureKind};
// Pull types (ChangesPage, PullSource) serve the coming pull of citizens' changes; the status
// queries and the daily file (ConsentDetail, FileMovement) serve reconciliation with IYS.
#[allow(unused_imports)]
pub use wire::{
    BatchAccepted, ChangesPage, PushConnection, PushStatus, ConsentDetail, ConsentRecord, FileMovement, ItemError,
    ItemResult, ItemStatus, PullSource, TokenGrant,
};
#[cfg(test)]
pub use wire::ChangeItem;
