//! pgrx bindings: the SQL surface of schema `iys`.

mod worker_status;
