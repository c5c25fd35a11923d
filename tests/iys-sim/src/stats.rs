//! Request counts by endpoint and answer, for `/admin/stats`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

#[derive(Debug, Default)]
pub struct Stats {
    /// endpoint (method + OpenAPI path template) → outcome ("200", "429", "dropped") → count
    by_endpoint: BTreeMap<String, BTreeMap<String, u64>>,
    total: u64,
}

impl Stats {
    pub fn record(&mut self, endpoint: &str, outcome: &str) {
        *self.by_endpoint.entry(endpoint.to_string()).or_default().entry(outcome.to_string()).or_default() += 1;
        self.total += 1;
    }

    pub fn to_json(&self) -> Value {
        json!({ "total": self.total, "endpoints": self.by_endpoint })
    }
}
