//! The client against the IYS simulator on 127.0.0.1: every call and failure class for real.

use super::*;
use crate::core::{format_iys_datetime, now_turkey};
use iys_sim::{Config, Simulator};
use std::time::{Duration, Instant};

fn sim(batch_delay_ms: u64) -> Simulator {
    Simulator::start(Config { batch_delay_ms, rate_limit_per_sec: None, changes_holdback_secs: 0, ..Config::default() })
        .expect("start simulator")
}

fn endpoint() -> Endpoint {
    Endpoint { iys_code: "700001".into(), brand_code: "700001".into() }
}

fn consent(recipient: &str, status: &str, seconds_ago: i64) -> ConsentRecord {
    ConsentRecord {
        recipient: recipient.into(),
        consent_type: "MESAJ".into(),
        source: Some("HS_WEB".into()),
        status: status.into(),
        consent_date: Some(format_iys_datetime(now_turkey() - chrono::Duration::seconds(seconds_ago))),
        recipient_type: "BIREYSEL".into(),
        retailer_code: None,
        retailer_access: None,
    }
}

fn login(client: &Client) -> TokenGrant {
    client.token_password("iys-demo", "demo-password").expect("password grant")
}

/// Polls the batch result until no item is pending (bounded).
fn settled(client: &Client, token: &str, request_id: &str, items: usize) -> Vec<ItemResult> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let results = client.batch_result(token, &endpoint(), request_id).expect("batch result");
        if results.len() == items && results.iter().all(|r| r.status != ItemStatus::Enqueue) {
            return results;
        }
        assert!(Instant::now() < deadline, "batch never settled: {results:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn token_password_and_refresh_rotation() {
    let sim = sim(0);
    let client = Client::new(&sim.base_url(), Duration::from_secs(5), None);
    let first = login(&client);
    assert!(first.expires_in.unwrap_or(0) > 0);
    let refresh = first.refresh_token.clone().expect("refresh token");
    let second = client.token_refresh(&refresh).expect("refresh grant");
    assert_ne!(second.access_token, first.access_token);
    // Rotation: the old refresh token is spent.
    let reused = client.token_refresh(&refresh).unwrap_err();
    assert!(!reused.is_retryable(), "{reused:?}");
    let wrong = client.token_password("iys-demo", "not-the-password").unwrap_err();
    assert!(!wrong.message.contains("not-the-password"));
}

#[test]
fn batch_add_then_result_settles_each_item_by_index() {
    let sim = sim(50);
    let client = Client::new(&sim.base_url(), Duration::from_secs(5), None);
    let token = login(&client).access_token;
    let records = vec![consent("+905320000001", "ONAY", 60), consent("+905320000002", "RET", 60)];
    let accepted = client.submit_batch(&token, &endpoint(), &records).expect("202");
    let results = settled(&client, &token, &accepted.request_id, 2);
    let by_index = |i: usize| results.iter().find(|r| r.index == i).unwrap();
    assert_eq!(by_index(0).status, ItemStatus::Success);
    assert!(by_index(0).transaction_id.is_some());
    // The first record of a recipient cannot be RET.
    assert_eq!(by_index(1).status, ItemStatus::Failure);
    assert_eq!(by_index(1).error.as_ref().unwrap().code, "H175");
}

#[test]
fn whole_batch_422_names_the_bad_items() {
    let sim = sim(0);
    let client = Client::new(&sim.base_url(), Duration::from_secs(5), None);
    let token = login(&client).access_token;
    let too_old = consent("+905320000003", "ONAY", 10 * 24 * 3600);
    let records = vec![consent("+905320000004", "ONAY", 60), too_old];
    let failure = client.submit_batch(&token, &endpoint(), &records).unwrap_err();
    assert_eq!(failure.kind, FailureKind::BatchRejected, "{failure:?}");
    assert!(failure.errors.iter().any(|e| e.index == Some(1) && e.code == "H467"), "{:?}", failure.errors);
}

#[test]
fn bad_token_is_unauthorized() {
    let sim = sim(0);
    let client = Client::new(&sim.base_url(), Duration::from_secs(5), None);
    let failure = client.submit_batch("not-a-token", &endpoint(), &[consent("+905320000005", "ONAY", 60)]).unwrap_err();
    assert_eq!(failure.kind, FailureKind::Unauthorized, "{failure:?}");
}

#[test]
fn changes_pull_pages_with_cursor_and_ends_with_none() {
    let sim = sim(0);
    let base = sim.base_url();
    let client = Client::new(&base, Duration::from_secs(5), None);
    let token = login(&client).access_token;
    for n in 0..3 {
        let body = serde_json::json!({"iysCode": 700001, "brandCode": 700001, "recipient": format!("+90532100000{n}"),
            "type": "MESAJ", "status": "ONAY", "source": "IYS_KISAMESAJ"});
        ureq::post(&format!("{base}/admin/citizen-change")).send_json(body).expect("inject citizen change");
    }
    let first = client.changes(&token, &endpoint(), PullSource::Iys, None, 2).unwrap().expect("a page");
    assert_eq!(first.list.len(), 2);
    let cursor = first.after.clone().expect("cursor");
    let second = client.changes(&token, &endpoint(), PullSource::Iys, Some(&cursor), 2).unwrap().expect("a page");
    assert_eq!(second.list.len(), 1);
    let mut seen: Vec<String> = first.list.iter().chain(&second.list).map(|c| c.recipient.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "no change twice, none missed");
    let rest = client.changes(&token, &endpoint(), PullSource::Iys, second.after.as_deref(), 2).unwrap();
    assert!(rest.map(|p| p.list.is_empty()).unwrap_or(true));
}

#[test]
fn latency_beyond_the_timeout_is_a_retryable_transport_failure() {
    let sim = sim(0);
    let base = sim.base_url();
    let client = Client::new(&base, Duration::from_millis(200), None);
    let token = login(&client).access_token;
    ureq::post(&format!("{base}/admin/faults")).send_json(serde_json::json!({"latency_ms": 1000})).unwrap();
    let started = Instant::now();
    let failure = client.batch_result(&token, &endpoint(), "whatever").unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(900), "the timeout did not cut the call short");
    assert_eq!(failure.kind, FailureKind::Transport, "{failure:?}");
}
