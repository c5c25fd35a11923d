//! HTTP tests of the simulator: one test binary (one link step) with a module per concern.

mod cli;
mod common;
mod conformance;
mod faults;
mod rules;
mod tokens;
