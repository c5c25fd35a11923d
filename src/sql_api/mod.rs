//! pgrx bindings: the SQL surface of schema `iys`. One concern per module.

pub mod adopt;
pub mod attach;
pub mod calendar;
pub mod consent_trigger;
mod direct_enqueue;
mod drop_guard;
pub mod error;
pub mod normalize;
pub mod privilege;
pub mod push;
pub mod time;
pub mod types;
pub mod validate;
pub mod validate_table;
pub mod via;
pub mod worker_status;
