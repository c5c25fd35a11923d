//! Fault injection, the per-second rate limit and the admin endpoints.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;
use iys_sim::Config;

fn set_faults(c: &Client, body: Value) {
    let r = c.post("/admin/faults", &body);
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn error_rate_answers_retryable_5xx_without_applying() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    set_faults(&c, json!({"error_rate": 1.0}));
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..40 {
        let r = c.add(&consent(&phone(i), "MESAJ", "ONAY"));
        seen.insert((r.status, r.codes()[0].clone()));
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![(500, "H101".to_string()), (503, "H192".to_string())]);
    assert_eq!(c.get("/admin/history").body, json!([]), "nothing applied");
    // The token endpoint is not a consent endpoint.
    assert_eq!(c.post("/oauth2/token", &json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"})).status, 200);
    assert_eq!(c.delete("/admin/faults").status, 200);
    assert_eq!(c.add(&consent(&phone(1), "MESAJ", "ONAY")).status, 200);
}

#[test]
fn error_rate_is_a_fraction() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    set_faults(&c, json!({"error_rate": 0.5}));
    let failures = (0..200).filter(|_| c.get(&brand("/consents/changes?source=HS")).status >= 500).count();
    assert!((50..150).contains(&failures), "{failures} of 200");
}

#[test]
fn burst_429_answers_the_next_n_requests() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    set_faults(&c, json!({"burst_429": 3}));
    for _ in 0..3 {
        let r = c.get(&brand("/consents/changes?source=HS"));
        assert_eq!((r.status, r.codes()), (429, vec!["H124".to_string()]));
    }
    assert_eq!(c.get(&brand("/consents/changes?source=HS")).status, 204);
    assert_eq!(c.get("/admin/faults").body["burst_429"], 0);
}

#[test]
fn latency_delays_every_iys_request_but_not_admin() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    set_faults(&c, json!({"latency_ms": 300}));
    let t = Instant::now();
    c.get(&brand("/consents/changes?source=HS"));
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    c.get("/admin/stats");
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[test]
fn drop_rate_closes_the_connection_without_an_answer() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    set_faults(&c, json!({"drop_rate": 1.0}));
    let t = Instant::now();
    let r = c.try_send("POST", &brand("/consents"), Some("application/json"), Some(&consent(&phone(1), "MESAJ", "ONAY").to_string()));
    assert!(r.is_err(), "expected a transport error, got {r:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "closed at once, not a timeout");
    assert_eq!(c.get("/admin/history").body, json!([]), "dropped before processing");
    assert_eq!(c.get("/admin/stats").body["endpoints"]["POST /sps/{iysCode}/brands/{brandCode}/consents"]["dropped"], 1);
}

#[test]
fn lost_reply_applies_the_change_but_never_answers() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    set_faults(&c, json!({"lost_reply_rate": 1.0}));
    let body = consent(&phone(1), "MESAJ", "ONAY");
    assert!(c.try_send("POST", &brand_v2("/consents"), Some("application/json"), Some(&body.to_string())).is_err());
    assert!(c.try_send("POST", &brand("/consents/request"), Some("application/json"), Some(&json!([consent(&phone(2), "MESAJ", "ONAY")]).to_string())).is_err());
    c.delete("/admin/faults");
    // Both were applied; the V2 resend is recognised instead of being applied twice.
    let history = c.get("/admin/history").body;
    assert_eq!(history.as_array().unwrap().len(), 2);
    let resend = c.post(&brand_v2("/consents"), &body);
    assert_eq!(resend.status, 200);
    assert_eq!(resend.body["transactionId"], history[0]["transactionId"]);
    assert_eq!(c.get("/admin/history").body.as_array().unwrap().len(), 2);
    assert_eq!(c.get("/admin/stats").body["endpoints"]["POST /v2/sps/{iysCode}/brands/{brandCode}/consents"]["lost_reply"], 1);
}

#[test]
fn revoke_tokens_invalidates_issued_access_tokens() {
    let sim = start(test_config());
    let mut c = Client::logged_in(&sim);
    assert_eq!(c.get(&brand("/consents/changes")).status, 204);
    set_faults(&c, json!({"revoke_tokens": true}));
    let r = c.get(&brand("/consents/changes"));
    assert_eq!((r.status, r.codes()), (401, vec!["H351".to_string()]));
    c = Client::logged_in(&sim);
    assert_eq!(c.get(&brand("/consents/changes")).status, 204, "new tokens work");
}

#[test]
fn token_limit_hit_forces_h084_until_cleared() {
    let sim = start(test_config());
    let c = Client::new(&sim);
    set_faults(&c, json!({"token_limit_hit": true}));
    let grant = json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"});
    let r = c.post("/oauth2/token", &grant);
    assert_eq!((r.status, r.codes()), (429, vec!["H084".to_string()]));
    assert!(c.get("/admin/clock").body["tokenLimitedUntil"].is_string());
    c.delete("/admin/faults");
    assert_eq!(c.post("/oauth2/token", &grant).status, 200);
}

#[test]
fn unknown_faults_are_refused() {
    let sim = start(test_config());
    let c = Client::new(&sim);
    assert_eq!(c.post("/admin/faults", &json!({"error_rat": 0.5})).status, 400);
    assert_eq!(c.post("/admin/faults", &json!({"error_rate": 2})).status, 400);
    assert_eq!(c.get("/admin/faults").body["error_rate"], 0.0);
}

#[test]
fn h124_rate_limit_per_rolling_second() {
    let sim = start(Config { rate_limit_per_sec: Some(5), ..test_config() });
    let c = Client::logged_in(&sim); // the token call counts too
    let started = Instant::now();
    let statuses: Vec<u16> = (0..8).map(|_| c.get(&brand("/consents/changes?source=HS")).status).collect();
    if started.elapsed() < Duration::from_millis(900) {
        assert_eq!(statuses, vec![204, 204, 204, 204, 429, 429, 429, 429]);
    }
    let r = c.get(&brand("/consents/changes"));
    assert!(r.status == 429 || started.elapsed() >= Duration::from_secs(1));
    if r.status == 429 {
        assert_eq!(r.codes(), vec!["H124"]);
    }
    for _ in 0..20 {
        c.get("/admin/stats"); // admin calls are never limited
    }
    std::thread::sleep(Duration::from_millis(1050));
    assert_eq!(c.get(&brand("/consents/changes?source=HS")).status, 204);
    // Switched off at run time.
    c.post("/admin/config", &json!({"rate_limit_per_sec": null}));
    assert!((0..20).all(|_| c.get(&brand("/consents/changes?source=HS")).status == 204));
}

#[test]
fn stats_count_requests_by_endpoint_and_status() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    c.add(&consent(&phone(1), "MESAJ", "ONAY"));
    c.add(&consent(&phone(2), "MESAJ", "RET"));
    c.get(&brand("/consents/changes?source=HS"));
    let s = c.get("/admin/stats").body;
    let add = &s["endpoints"]["POST /sps/{iysCode}/brands/{brandCode}/consents"];
    assert_eq!((add["200"].as_u64(), add["400"].as_u64()), (Some(1), Some(1)));
    assert_eq!(s["endpoints"]["POST /oauth2/token"]["200"], 1);
    assert_eq!(s["endpoints"]["GET /sps/{iysCode}/brands/{brandCode}/consents/changes"]["200"], 1);
    assert_eq!(s["total"], 4);
    assert_eq!(s["store"]["movements"], 1);
}

#[test]
fn history_and_consents_can_be_filtered_and_reset() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    c.add(&consent(&phone(1), "MESAJ", "ONAY"));
    c.add(&consent(&phone(1), "ARAMA", "ONAY"));
    c.post(&format!("/sps/{IYS}/brands/{}/consents", BRAND + 1), &consent(&phone(2), "MESAJ", "ONAY"));
    assert_eq!(c.get("/admin/consents").body.as_array().unwrap().len(), 3);
    assert_eq!(c.get(&format!("/admin/consents?brandCode={BRAND}")).body.as_array().unwrap().len(), 2);
    assert_eq!(c.get(&format!("/admin/consents?recipient=%2B90532{:07}", 2)).body.as_array().unwrap().len(), 1);
    let h = c.get("/admin/history").body;
    assert_eq!(h.as_array().unwrap().len(), 3);
    assert_eq!(h[0]["endpoint"], "consents");
    assert_eq!(h[0]["seq"], 1);
    assert_eq!(c.get("/admin/history?since=2").body.as_array().unwrap().len(), 1);
    let page = c.get("/admin/history?since=1&limit=1").body;
    assert_eq!((page.as_array().unwrap().len(), &page[0]["seq"]), (1, &json!(2)));
    assert_eq!(c.post("/admin/reset", &json!({})).status, 200);
    assert_eq!(c.get("/admin/history").body, json!([]));
    assert_eq!(c.get("/admin/stats").body["total"], 0);
    // Tokens survive a reset.
    assert_eq!(c.add(&consent(&phone(1), "MESAJ", "ONAY")).status, 200);
}

#[test]
fn config_and_clock_admin() {
    let sim = start(test_config());
    let c = Client::new(&sim);
    let r = c.post("/admin/config", &json!({"batch_delay_ms": 1234, "changes_holdback_secs": 60}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["batch_delay_ms"], 1234);
    assert_eq!(c.get("/admin/config").body["changes_holdback_secs"], 60);
    assert_eq!(c.post("/admin/config", &json!({"nope": 1})).status, 400);
    let before = c.get("/admin/clock").body;
    let after = c.post("/admin/clock", &json!({"advance_secs": 86400})).body;
    assert_eq!(after["offsetSecs"], 86400);
    assert_ne!(before["now"], after["now"]);
}

#[test]
fn shutdown_closes_the_port() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let base = sim.base_url();
    sim.shutdown();
    assert!(c.try_send("GET", &brand("/consents/changes"), None, None).is_err());
    assert!(Client::for_base(&base).try_send("GET", "/admin/stats", None, None).is_err());
}
