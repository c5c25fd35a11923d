//! HTTP tests of the simulator: one test binary (one link step) with a module per concern.

mod batches;
mod cli;
mod clock;
mod common;
mod conformance;
mod daily_file;
mod faults;
mod push;
mod rules;
mod tokens;
mod via;
