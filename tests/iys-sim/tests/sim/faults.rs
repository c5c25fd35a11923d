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

// ---- account-level refusals ------------------------------------------------------------------

/// One call of every consent endpoint (V1 and V2): (name, answer).
fn every_consent_endpoint(c: &Client, n: usize) -> Vec<(&'static str, Resp)> {
    let any_id = "5a2edd8e-dd6e-4293-b09b-6180b2c5d021";
    vec![
        ("add", c.add(&consent(&phone(n), "MESAJ", "ONAY"))),
        ("add v2", c.post(&brand_v2("/consents"), &consent(&phone(n + 1), "MESAJ", "ONAY"))),
        ("batch", c.post(&brand("/consents/request"), &json!([consent(&phone(n + 2), "MESAJ", "ONAY")]))),
        ("batch v2", c.post(&brand_v2("/consents/request"), &json!([consent(&phone(n + 3), "MESAJ", "ONAY")]))),
        ("result", c.get(&brand(&format!("/consents/request/{any_id}")))),
        ("result v2", c.get(&brand_v2(&format!("/consents/request/{any_id}")))),
        ("status", c.status_of(&phone(n), "MESAJ", "BIREYSEL")),
        ("multi status", c.post(&brand("/consents/BIREYSEL/status/MESAJ"), &json!({"recipients": [phone(n)]}))),
        ("changes", c.get(&brand("/consents/changes?source=IYS"))),
    ]
}

#[test]
fn account_refusal_answers_every_consent_endpoint_and_processes_nothing() {
    let sim = start(test_config());
    let cases = [
        (403, Some("H353"), "Alan, kullanıcı izinleriyle eşleştirilemiyor".to_string()),
        (403, Some("H520"), "Abonelik durumu PAUSED iken api kullanılamamaktadır".to_string()),
        (403, Some("H521"), "Abonelik durumu CLOSED iken api kullanılamamaktadır.".to_string()),
        (403, Some("H524"), format!("{IYS} için ait abonelik kaydı bulunamadı")),
        (403, Some("H586"), "Aboneliğiniz API kullanımını içermemektedir.".to_string()),
        (422, Some("H525"), "Kullanılan izin sayısı maksimum sayıya ulaştığı için yeni izin eklenememektedir.".to_string()),
        (404, None, "İstenen kaynak bulunamadı.".to_string()),
    ];
    for (status, code, message) in cases {
        // A fresh hour and token per case: token calls are limited to 10 an hour.
        sim.advance_clock(3601);
        let c = Client::logged_in(&sim);
        let refusal = match code {
            Some(code) => json!({"status": status, "code": code}),
            None => json!({"status": status}),
        };
        set_faults(&c, json!({ "account_refusal": refusal }));
        assert_eq!(c.get("/admin/faults").body["account_refusal"], refusal);
        for (name, r) in every_consent_endpoint(&c, 1) {
            assert_eq!(r.status, status, "{name} under {refusal}: {}", r.text);
            let expected = match code {
                Some(code) => json!({"errors": [{"code": code, "message": message}]}),
                None => json!({"errors": [{"message": message}]}),
            };
            assert_eq!(r.body, expected, "{name} under {refusal}");
        }
        // The token endpoint is not a consent endpoint.
        let grant = c.post("/oauth2/token", &json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}));
        assert_eq!(grant.status, 200, "{}", grant.text);
        assert_eq!(c.get("/admin/history").body, json!([]), "nothing applied under {refusal}");
        assert_eq!(c.get("/admin/stats").body["store"]["batches"], 0, "no batch queued under {refusal}");
        assert_eq!(c.delete("/admin/faults").status, 200);
        assert_eq!(c.get("/admin/faults").body["account_refusal"], Value::Null);
        assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").status, 200, "cleared");
    }
    // Cleared: everything works again.
    let c = Client::logged_in(&sim);
    assert_eq!(c.add(&consent(&phone(1), "MESAJ", "ONAY")).status, 200);
}

#[test]
fn account_refusal_can_be_limited_to_an_iys_code_or_brand() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let other_brand = |rest: &str| format!("/sps/{IYS}/brands/{}{rest}", BRAND + 1);
    set_faults(&c, json!({"account_refusal": {"status": 403, "code": "H353", "brandCode": BRAND}}));
    let r = c.add(&consent(&phone(1), "MESAJ", "ONAY"));
    assert_eq!((r.status, r.codes()), (403, vec!["H353".to_string()]));
    assert_eq!(c.post(&other_brand("/consents"), &consent(&phone(1), "MESAJ", "ONAY")).status, 200, "another brand is served");
    set_faults(&c, json!({"account_refusal": {"status": 403, "code": "H524", "iysCode": IYS + 1}}));
    assert_eq!(c.add(&consent(&phone(2), "MESAJ", "ONAY")).status, 200, "another iysCode is refused, not this one");
    let r = c.post(&format!("/sps/{}/brands/{BRAND}/consents", IYS + 1), &consent(&phone(2), "MESAJ", "ONAY"));
    assert_eq!(r.status, 403);
    assert_eq!(r.body["errors"][0]["message"], format!("{} için ait abonelik kaydı bulunamadı", IYS + 1));
    // null clears only the refusal; other faults stay.
    set_faults(&c, json!({"latency_ms": 1, "account_refusal": {"status": 422, "code": "H525"}}));
    set_faults(&c, json!({"account_refusal": null}));
    let f = c.get("/admin/faults").body;
    assert_eq!((f["account_refusal"].clone(), f["latency_ms"].clone()), (Value::Null, json!(1)));
}

#[test]
fn account_refusal_accepts_only_iys_combinations() {
    let sim = start(test_config());
    let c = Client::new(&sim);
    for bad in [
        json!({"status": 403}),
        json!({"status": 403, "code": "H525"}),
        json!({"status": 422, "code": "H353"}),
        json!({"status": 404, "code": "H353"}),
        json!({"status": 500, "code": "H101"}),
        json!({"status": 403, "code": "H999"}),
        json!({"code": "H520"}),
        json!({"status": 403, "code": "H520", "brand": 1}),
        json!("H520"),
    ] {
        let r = c.post("/admin/faults", &json!({ "account_refusal": bad }));
        assert_eq!(r.status, 400, "{bad} accepted: {}", r.text);
    }
    assert_eq!(c.get("/admin/faults").body["account_refusal"], Value::Null);
}

// ---- H084 shapes -------------------------------------------------------------------------------

fn grant(c: &Client) -> Resp {
    c.post("/oauth2/token", &json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}))
}

const H084_MESSAGE: &str = "Saatte kabul edilen kimlik doğrulama istek limitine ulaşıldı. Lütfen daha sonra tekrar deneyiniz.";

#[test]
fn h084_comes_in_every_shape() {
    let sim = start(Config { token_limit_per_hour: 1, ..test_config() });
    let c = Client::new(&sim);
    assert_eq!(grant(&c).status, 200);
    // Default: IYS's envelope.
    let r = grant(&c);
    assert_eq!((r.status, r.body.clone()), (429, json!({"errors": [{"code": "H084", "message": H084_MESSAGE}]})));
    assert_eq!(c.get("/admin/faults").body["token_limit_shape"], "errors");
    set_faults(&c, json!({"token_limit_shape": "flat"}));
    let r = grant(&c);
    assert_eq!((r.status, r.body.clone()), (429, json!({"code": "H084", "message": H084_MESSAGE})));
    set_faults(&c, json!({"token_limit_shape": "empty"}));
    let r = grant(&c);
    assert_eq!((r.status, r.text.as_str()), (429, ""));
    // Through /admin/config as well; and it applies to a forced H084 too.
    let cfg = c.post("/admin/config", &json!({"token_limit_shape": "flat"}));
    assert_eq!(cfg.body["token_limit_shape"], "flat");
    c.delete("/admin/faults"); // lifts the H084 state, and the shape goes back to the start-up one
    assert_eq!(c.get("/admin/config").body["token_limit_shape"], "errors");
    set_faults(&c, json!({"token_limit_shape": "empty", "token_limit_hit": true}));
    let r = grant(&c);
    assert_eq!((r.status, r.text.as_str()), (429, ""));
    for bad in [json!("none"), json!(1), json!(null)] {
        assert_eq!(c.post("/admin/faults", &json!({ "token_limit_shape": bad })).status, 400);
        assert_eq!(c.post("/admin/config", &json!({ "token_limit_shape": bad })).status, 400);
    }
}

#[test]
fn h084_shape_can_be_set_at_start_up() {
    let sim = start(Config { token_limit_shape: iys_sim::TokenLimitShape::Flat, ..test_config() });
    let c = Client::new(&sim);
    set_faults(&c, json!({"token_limit_hit": true}));
    let r = grant(&c);
    assert_eq!((r.status, r.body["code"].as_str()), (429, Some("H084")), "{}", r.text);
    assert!(r.body.get("errors").is_none());
    c.delete("/admin/faults");
    assert_eq!(c.get("/admin/faults").body["token_limit_shape"], "flat", "the start-up shape stays");
    c.post("/admin/reset", &json!({}));
    assert_eq!(c.get("/admin/faults").body["token_limit_shape"], "flat");
}

// ---- H086: single status queries per hour -----------------------------------------------------

#[test]
fn h086_single_status_queries_per_hour() {
    let sim = start(Config { status_limit_per_hour: Some(3), ..test_config() });
    let c = Client::logged_in(&sim);
    for _ in 0..3 {
        assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").status, 200);
    }
    let r = c.status_of(&phone(1), "MESAJ", "BIREYSEL");
    assert_eq!((r.status, r.codes()), (429, vec!["H086".to_string()]));
    // Other calls are not limited by it.
    assert_eq!(c.post(&brand("/consents/BIREYSEL/status/MESAJ"), &json!({"recipients": [phone(1)]})).status, 200);
    sim.advance_clock(3600);
    let c = Client::logged_in(&sim);
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").status, 200, "a rolling simulated hour later");
    assert_eq!(c.post("/admin/config", &json!({"status_limit_per_hour": null})).body["status_limit_per_hour"], Value::Null);
    assert!((0..10).all(|_| c.status_of(&phone(1), "MESAJ", "BIREYSEL").status == 200));
}
