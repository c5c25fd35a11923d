//! Token endpoint: grants, rotation, expiry and the H084 hourly limit.

use std::time::Duration;

use serde_json::json;

use crate::common::*;
use iys_sim::Config;

fn password_grant(c: &Client) -> Resp {
    c.post("/oauth2/token", &json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}))
}

fn with_token(sim: &iys_sim::Simulator, token: &str) -> Client {
    let mut c = Client::new(sim);
    c.token = Some(token.to_string());
    c
}

fn can_call(sim: &iys_sim::Simulator, token: &str) -> u16 {
    with_token(sim, token).get(&brand("/consents/changes?source=HS")).status
}

#[test]
fn password_grant_json_and_form() {
    let sim = start(test_config());
    let c = Client::new(&sim);
    let r = password_grant(&c);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["expires_in"], 7200);
    assert_eq!(r.body["refresh_expires_in"], 14400);
    assert_eq!(r.body["token_type"], "bearer");
    let access = r.body["access_token"].as_str().unwrap();
    assert!(r.body["refresh_token"].is_string());
    assert_eq!(can_call(&sim, access), 204);

    let form = c.post_raw("/oauth2/token", "application/x-www-form-urlencoded", "grant_type=password&username=iys-demo&password=demo-password");
    assert_eq!(form.status, 200, "{}", form.text);
    assert_ne!(form.body["access_token"], r.body["access_token"]);
    assert_eq!(can_call(&sim, form.body["access_token"].as_str().unwrap()), 204);
}

#[test]
fn configured_users_and_bad_requests() {
    // Eleven token calls: more than the default limit of 10 an hour.
    let sim = start(Config { users: vec![("api-user".into(), "s3cret:x".into())], token_limit_per_hour: 100, ..test_config() });
    let c = Client::new(&sim);
    let ok = c.post_raw("/oauth2/token", "application/x-www-form-urlencoded", "grant_type=password&username=api-user&password=s3cret%3Ax");
    assert_eq!(ok.status, 200, "{}", ok.text);
    let cases = [
        (json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}), "invalid_request"),
        (json!({"grant_type": "password", "username": "api-user", "password": "wrong"}), "invalid_request"),
        (json!({"username": "api-user", "password": "s3cret:x"}), "invalid_request"),
        (json!({"grant_type": "client_credentials"}), "invalid_request"),
        (json!({"grant_type": ""}), "invalid_grant"),
        (json!({"grant_type": "password", "password": "x"}), "invalid_request"),
        (json!({"grant_type": "password", "username": "api-user", "password": ""}), "invalid_grant"),
        (json!({"grant_type": "refresh_token"}), "invalid_request"),
        (json!({"grant_type": "refresh_token", "refresh_token": "forged"}), "invalid_grant"),
    ];
    for (body, error) in cases {
        let r = c.post("/oauth2/token", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.body["error"], error, "{body}");
        assert!(r.body["error_description"].is_string());
    }
    let r = c.post_raw("/oauth2/token", "application/json", "{not json");
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_request")));
}

#[test]
fn refresh_rotates_the_refresh_token() {
    let sim = start(test_config());
    let c = Client::new(&sim);
    let first = password_grant(&c);
    let refresh = first.body["refresh_token"].as_str().unwrap().to_string();
    let second = c.post("/oauth2/token", &json!({"grant_type": "refresh_token", "refresh_token": refresh}));
    assert_eq!(second.status, 200, "{}", second.text);
    assert_ne!(second.body["refresh_token"], first.body["refresh_token"]);
    assert_eq!(can_call(&sim, second.body["access_token"].as_str().unwrap()), 204);
    // The used refresh token is spent.
    let again = c.post("/oauth2/token", &json!({"grant_type": "refresh_token", "refresh_token": refresh}));
    assert_eq!((again.status, again.body["error"].as_str()), (400, Some("invalid_grant")));
    // Its successor works, once, through a form body too.
    let next = second.body["refresh_token"].as_str().unwrap();
    let third = c.post_raw("/oauth2/token", "application/x-www-form-urlencoded", &format!("grant_type=refresh_token&refresh_token={next}"));
    assert_eq!(third.status, 200, "{}", third.text);
}

#[test]
fn tokens_expire() {
    let sim = start(Config { token_ttl_secs: 1, refresh_ttl_secs: 3, ..test_config() });
    let c = Client::new(&sim);
    let r = password_grant(&c);
    assert_eq!(r.body["expires_in"], 1);
    let access = r.body["access_token"].as_str().unwrap();
    assert_eq!(can_call(&sim, access), 204);
    std::thread::sleep(Duration::from_millis(1100));
    let expired = with_token(&sim, access).get(&brand("/consents/changes"));
    assert_eq!((expired.status, expired.codes()), (401, vec!["H351".to_string()]));
    // The refresh token outlives the access token, then expires too (simulated clock).
    let refresh = r.body["refresh_token"].as_str().unwrap();
    let renewed = c.post("/oauth2/token", &json!({"grant_type": "refresh_token", "refresh_token": refresh}));
    assert_eq!(renewed.status, 200);
    sim.advance_clock(4);
    let late = c.post("/oauth2/token", &json!({"grant_type": "refresh_token", "refresh_token": renewed.body["refresh_token"]}));
    assert_eq!((late.status, late.body["error"].as_str()), (400, Some("invalid_grant")));
}

#[test]
fn h084_hourly_limit_and_restart_of_the_hour() {
    let sim = start(Config { token_limit_per_hour: 3, ..test_config() });
    let c = Client::new(&sim);
    for _ in 0..3 {
        assert_eq!(password_grant(&c).status, 200);
    }
    let limited = password_grant(&c);
    assert_eq!((limited.status, limited.codes()), (429, vec!["H084".to_string()]));
    // 59 minutes later: still limited, and asking again restarts the hour.
    sim.advance_clock(59 * 60);
    assert_eq!(password_grant(&c).status, 429);
    sim.advance_clock(59 * 60);
    assert_eq!(password_grant(&c).status, 429, "the hour restarted at the previous call");
    // A full quiet hour after the last call, the endpoint serves again.
    sim.advance_clock(3600);
    assert_eq!(password_grant(&c).status, 200);
    // Failed grants count as calls too.
    let mut bad = 0;
    while c.post("/oauth2/token", &json!({"grant_type": "password", "username": "x", "password": "y"})).status == 400 {
        bad += 1;
    }
    assert_eq!(bad, 2);
}

#[test]
fn h084_window_is_configurable() {
    let sim = start(Config { token_limit_per_hour: 1, token_limit_window_secs: 1, ..test_config() });
    let c = Client::new(&sim);
    assert_eq!(password_grant(&c).status, 200);
    assert_eq!(password_grant(&c).status, 429);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(password_grant(&c).status, 200);
}
