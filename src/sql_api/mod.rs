//! pgrx bindings: the SQL surface of schema `iys`. One concern per module.

mod attach;
pub mod calendar;
pub mod consent_trigger;
pub mod error;
pub mod normalize;
pub mod time;
pub mod types;
pub mod validate;
pub mod validate_table;
mod worker_status;
