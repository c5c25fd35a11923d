//! Clock acceleration: simulated time runs `clock_speed` times faster than real time, and every
//! rule that reads it follows; the per-second rate limit stays on real time.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;
use iys_sim::Config;

fn now_local(c: &Client) -> i64 {
    iys_sim::clock::parse_local(c.get("/admin/clock").body["now"].as_str().unwrap()).unwrap()
}

#[test]
fn speed_100_ends_a_300_second_batch_delay_after_3_real_seconds() {
    let sim = start(Config { clock_speed: 100.0, batch_delay_ms: 300_000, ..test_config() });
    let c = Client::logged_in(&sim);
    let sent = Instant::now();
    let id = c.submit_batch(&json!([consent(&phone(1), "MESAJ", "ONAY")]));
    let path = brand(&format!("/consents/request/{id}"));
    loop {
        let r = c.get(&path);
        assert_eq!(r.status, 200);
        if r.body != json!([]) {
            let elapsed = sent.elapsed();
            assert_eq!(r.body[0]["status"], "success", "{}", r.text);
            // 300 simulated seconds = 3 real seconds; never earlier, and not much later.
            assert!(elapsed >= Duration::from_millis(2950), "results after {elapsed:?}");
            assert!(elapsed < Duration::from_secs(8), "results only after {elapsed:?}");
            break;
        }
        assert!(sent.elapsed() < Duration::from_secs(8), "no results after 8 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn speed_changes_keep_simulated_time_continuous() {
    let sim = start(test_config());
    let c = Client::new(&sim);
    let before = now_local(&c);
    let r = c.post("/admin/config", &json!({"clock_speed": 3600}));
    assert_eq!((r.status, r.body["clock_speed"].as_f64()), (200, Some(3600.0)), "{}", r.text);
    let at_change = now_local(&c);
    assert!(at_change - before < 60, "no jump when the speed changes: {}", at_change - before);
    std::thread::sleep(Duration::from_millis(1000));
    let r = c.post("/admin/clock", &json!({"clock_speed": 1}));
    assert_eq!(r.body["clockSpeed"], 1.0);
    let after = now_local(&c);
    // One real second at 3600×: about an hour (generous bounds for a loaded machine).
    assert!((3500..3 * 3600).contains(&(after - at_change)), "{} s passed", after - at_change);
    std::thread::sleep(Duration::from_millis(300));
    assert!(now_local(&c) - after < 5, "real time again");
    // advance_secs adds to the accelerated time; sim.set_clock_speed does what clock_speed does.
    sim.set_clock_speed(0.0);
    let frozen = now_local(&c);
    sim.advance_clock(600);
    assert_eq!(now_local(&c), frozen + 600);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(now_local(&c), frozen + 600, "speed 0 freezes the clock");
    for bad in [json!(-1), json!("fast"), json!(null)] {
        assert_eq!(c.post("/admin/config", &json!({ "clock_speed": bad })).status, 400);
    }
}

#[test]
fn token_expiry_h084_and_changes_holdback_follow_the_speed() {
    // 1800×: an hour passes in two real seconds.
    let sim = start(Config { clock_speed: 1800.0, changes_holdback_secs: 3600, token_limit_per_hour: 1, ..test_config() });
    let anon = Client::new(&sim);
    let c = Client::logged_in(&sim);
    assert_eq!(anon.post("/oauth2/token", &json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"})).status, 429);
    let citizen = json!({"iysCode": IYS, "brandCode": BRAND, "recipient": phone(1), "type": "MESAJ", "status": "ONAY", "source": "IYS_WEB"});
    assert_eq!(c.post("/admin/citizen-change", &citizen).status, 200);
    assert_eq!(c.get(&brand("/consents/changes?source=IYS")).status, 204, "held back for an hour");
    std::thread::sleep(Duration::from_millis(2300));
    let r = c.get(&brand("/consents/changes?source=IYS"));
    assert_eq!(r.status, 200, "after a simulated hour: {}", r.text);
    // The H084 hour is over too (the last refused call was more than an hour ago).
    let grant = anon.post("/oauth2/token", &json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}));
    assert_eq!(grant.status, 200, "{}", grant.text);
    // The access token lives 2 hours: 4 real seconds here.
    std::thread::sleep(Duration::from_millis(2000));
    let r = c.get(&brand("/consents/changes?source=HS"));
    assert_eq!((r.status, r.codes()), (401, vec!["H351".to_string()]), "2 simulated hours later the token has expired");
}

#[test]
fn consent_date_rules_follow_the_speed() {
    let sim = start(Config { clock_speed: 1000.0, ..test_config() });
    let c = Client::logged_in(&sim);
    // Two minutes ahead of real time; the simulated clock gets there within ~0.12 s.
    let mut body = consent(&phone(1), "MESAJ", "ONAY");
    body["consentDate"] = json!(tr_ago(-120));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.add(&body).status, 200, "not in the simulated future any more");
    // And it goes stale (H467) after three business days: at most 13 calendar days, 1123 s real.
    c.post("/admin/clock", &json!({"advance_secs": 14 * 86_400}));
    let c = Client::logged_in(&sim);
    body["recipient"] = json!(phone(2));
    let r = c.add(&body);
    assert_eq!((r.status, r.codes()), (422, vec!["H467".to_string()]), "{}", r.text);
}

#[test]
fn the_rate_limit_stays_on_real_time() {
    // A token that outlives the accelerated clock.
    let sim = start(Config { clock_speed: 100_000.0, rate_limit_per_sec: Some(3), token_ttl_secs: 1_000_000_000, ..test_config() });
    let c = Client::logged_in(&sim); // counts as one
    let started = Instant::now();
    let statuses: Vec<u16> = (0..6).map(|_| c.get(&brand("/consents/changes?source=HS")).status).collect();
    if started.elapsed() < Duration::from_millis(900) {
        // Each request is more than a simulated second after the previous one, yet refused.
        assert_eq!(statuses, vec![204, 204, 429, 429, 429, 429]);
    }
    std::thread::sleep(Duration::from_millis(1050));
    assert_eq!(c.get(&brand("/consents/changes?source=HS")).status, 204);
}
