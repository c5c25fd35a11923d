//! The client against the IYS simulator on 127.0.0.1: every call and failure class for real.

use super::*;
use crate::core::{format_iys_datetime, now_turkey};
use iys_sim::{Config, Simulator};
use std::time::{Duration, Instant};

/// A simulator with IYS's rules but relaxed pace: no 10 requests/s limit (the tests call back
/// to back and are not about H124), no one-hour hold-back of citizens' changes (a pull sees them
/// at once), and the batch delay the test needs instead of IYS's 300 s.
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
    let mut seen: Vec<String> = first.list.iter().chain(&second.list).map(|c| crate::iys::ChangeItem::read(c).unwrap().recipient).collect();
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

/// Plants movements IYS held before the test (`/admin/seed`); returns their transactionIds.
fn seed(base: &str, movements: serde_json::Value) -> Vec<String> {
    let answer: serde_json::Value = ureq::post(&format!("{base}/admin/seed")).send_json(movements).expect("seed").into_json().unwrap();
    answer.as_array().unwrap().iter().map(|m| m["transactionId"].as_str().unwrap().to_owned()).collect()
}

fn seeded(recipient: &str, consent_type: &str, status: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut m = serde_json::json!({"iysCode": 700001, "brandCode": 700001, "recipient": recipient, "type": consent_type,
                                   "status": status, "source": "HS_ISLAK_IMZA", "consentDate": "2019-06-01 10:00:00",
                                   "creationDate": "2019-06-01 10:05:00"});
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

#[test]
fn multi_status_answers_only_the_approved_recipients() {
    let sim = sim(0);
    let base = sim.base_url();
    let client = Client::new(&base, Duration::from_secs(5), None);
    let token = login(&client).access_token;
    seed(
        &base,
        serde_json::json!([
            seeded("+905320000011", "MESAJ", "ONAY", serde_json::json!({})),
            seeded("+905320000012", "MESAJ", "RET", serde_json::json!({})),
            seeded("Onay@Example.com", "EPOSTA", "ONAY", serde_json::json!({})),
        ]),
    );
    let asked = ["+905320000011", "+905320000012", "+905320000013"].map(String::from);
    let approved = client.multi_status(&token, &endpoint(), "BIREYSEL", "MESAJ", &asked).expect("multi status");
    assert_eq!(approved, ["+905320000011"], "RET and unknown ones are not listed");
    let emails = client.multi_status(&token, &endpoint(), "BIREYSEL", "EPOSTA", &["ONAY@example.com".to_owned()]).unwrap();
    assert_eq!(emails, ["onay@example.com"], "as IYS holds it");
    assert_eq!(client.multi_status(&token, &endpoint(), "TACIR", "MESAJ", &asked).unwrap(), Vec::<String>::new());
    assert_eq!(client.multi_status(&token, &endpoint(), "BIREYSEL", "MESAJ", &[]).unwrap(), Vec::<String>::new(), "nothing asked");
    // IYS takes 1000 addresses a query.
    let too_many: Vec<String> = (0..1001).map(|i| format!("+90533{i:07}")).collect();
    let failure = client.multi_status(&token, &endpoint(), "BIREYSEL", "MESAJ", &too_many).unwrap_err();
    assert_eq!((failure.kind.clone(), failure.code()), (FailureKind::Final, Some("H127")), "{failure:?}");
    assert_eq!(client.multi_status(&token, &endpoint(), "BIREYSEL", "MESAJ", &too_many[..1000]).unwrap(), Vec::<String>::new());
}

#[test]
fn single_status_details_a_known_consent_and_none_for_an_unknown_one() {
    // Three queries an hour instead of 1000, so the test reaches H086 without a thousand calls.
    let sim = Simulator::start(Config { rate_limit_per_sec: None, status_limit_per_hour: Some(3), ..Config::default() }).expect("start simulator");
    let base = sim.base_url();
    let client = Client::new(&base, Duration::from_secs(5), None);
    let token = login(&client).access_token;
    let tx = seed(&base, serde_json::json!([seeded("+905320000021", "MESAJ", "ONAY", serde_json::json!({}))]));
    let detail = client.single_status(&token, &endpoint(), "+905320000021", "BIREYSEL", "MESAJ").unwrap().expect("a consent");
    assert_eq!(detail.status, "ONAY");
    assert_eq!(detail.consent_date.as_deref(), Some("2019-06-01 10:00:00"));
    assert_eq!(detail.creation_date.as_deref(), Some("2019-06-01 10:05:00"));
    assert_eq!(detail.source.as_deref(), Some("HS_ISLAK_IMZA"));
    assert_eq!(detail.transaction_id.as_ref(), Some(&tx[0]));
    assert_eq!(detail.retailer_code, None);
    assert_eq!(client.single_status(&token, &endpoint(), "+905320000022", "BIREYSEL", "MESAJ").unwrap(), None, "IYS answers {{}}");
    let bad = client.single_status(&token, &endpoint(), "+905320000021", "BIREYSEL", "SMS").unwrap_err();
    assert_eq!((bad.kind.clone(), bad.code()), (FailureKind::Final, Some("H117")));
    let limited = client.single_status(&token, &endpoint(), "+905320000021", "BIREYSEL", "MESAJ").unwrap_err();
    assert!(limited.is_rate_limited() && limited.is_status_query_limit() && limited.is_retryable(), "{limited:?}");
    assert_eq!((limited.status, limited.code()), (Some(429), Some("H086")));
}

/// Answers every connection with one fixed HTTP answer: shapes of "no consent" that IYS might
/// use and the simulator does not.
fn fixed_answer(status_line: &'static str, body: &'static str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        // One call, one connection: the thread ends with it.
        for stream in listener.incoming().flatten().take(1) {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let _ = reader.by_ref().take(length).read_to_end(&mut Vec::new());
            let answer = format!("HTTP/1.1 {status_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            let _ = reader.into_inner().write_all(answer.as_bytes());
        }
    });
    format!("http://{addr}")
}

#[test]
fn single_status_reads_every_plausible_no_consent_answer_as_none() {
    let answers = [
        ("200 OK", ""),
        ("200 OK", "{}"),
        ("200 OK", r#"{"recipient":"+905320000031","type":"MESAJ"}"#),
        ("204 No Content", ""),
        ("404 Not Found", ""),
        ("404 Not Found", r#"{"errors":[{"message":"İstenen kaynak bulunamadı."}]}"#),
        ("400 Bad Request", r#"{"errors":[{"code":"H175","message":"İlk defa kaydedilen bir iznin durum (status) bilgisi RET olmamalıdır."}]}"#),
        ("422 Unprocessable Entity", r#"{"errors":[{"code":"H1084","message":"Alıcı (recipient) sistemde bulunamadı."}]}"#),
    ];
    for (status_line, body) in answers {
        let client = Client::new(&fixed_answer(status_line, body), Duration::from_secs(5), None);
        let answer = client.single_status("token", &endpoint(), "+905320000031", "BIREYSEL", "MESAJ");
        assert!(matches!(answer, Ok(None)), "{status_line} {body}: {answer:?}");
    }
    // An account refusal on 404 stays one; a bare 429 is taken as the hourly limit.
    let client = Client::new(&fixed_answer("404 Not Found", r#"{"errors":[{"code":"H353","message":"x"}]}"#), Duration::from_secs(5), None);
    let refused = client.single_status("token", &endpoint(), "+905320000031", "BIREYSEL", "MESAJ").unwrap_err();
    assert_eq!(refused.kind, FailureKind::AccountRefused);
    let client = Client::new(&fixed_answer("429 Too Many Requests", ""), Duration::from_secs(5), None);
    let limited = client.single_status("token", &endpoint(), "+905320000031", "BIREYSEL", "MESAJ").unwrap_err();
    assert!(limited.is_status_query_limit(), "{limited:?}");
}

#[test]
fn daily_file_of_yesterday_lists_its_movements_and_refuses_past_seven_days() {
    let sim = sim(0);
    let base = sim.base_url();
    // A frozen, fixed Turkey time: the test's "yesterday" and the simulator's agree even at midnight.
    ureq::post(&format!("{base}/admin/clock")).send_json(serde_json::json!({"clock_speed": 0, "now": "2024-03-07 10:00:00"})).unwrap();
    let client = Client::new(&base, Duration::from_secs(5), None);
    let token = login(&client).access_token;
    let tx = seed(
        &base,
        serde_json::json!([
            seeded("+905320000041", "MESAJ", "ONAY", serde_json::json!({"creationDate": "2024-03-06 12:00:00", "inPull": false})),
            seeded("+905320000042", "MESAJ", "ONAY", serde_json::json!({"recipientType": "TACIR", "creationDate": "2024-03-06 12:00:01", "source": "IYS_WEB"})),
        ]),
    );
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
    let movements = client.daily_file(&token, &endpoint(), day(6)).unwrap().expect("yesterday's file");
    assert_eq!(movements.len(), 2, "{movements:?}");
    assert_eq!(movements[0].transaction_id, tx[0]);
    assert_eq!(
        (movements[0].recipient.as_str(), movements[0].consent_type.as_str(), movements[0].status.as_str(), movements[0].source.as_deref()),
        ("+905320000041", "MESAJ", "ONAY", Some("HS_ISLAK_IMZA"))
    );
    assert_eq!(movements[0].creation_date.as_deref(), Some("2024-03-06 12:00:00"));
    assert_eq!((movements[1].transaction_id.as_str(), movements[1].recipient_type.as_deref()), (tx[1].as_str(), Some("TACIR")));
    assert_eq!(client.daily_file(&token, &endpoint(), day(5)).unwrap(), Some(Vec::new()), "a day without movements");
    assert_eq!(client.daily_file(&token, &endpoint(), day(7)).unwrap(), None, "today's file is made tonight (204)");
    let too_old = client.daily_file(&token, &endpoint(), day(7) - chrono::Days::new(8)).unwrap_err();
    assert_eq!((too_old.kind.clone(), too_old.status, too_old.code()), (FailureKind::Final, Some(422), Some("H502")), "{too_old:?}");
    assert!(client.daily_file(&token, &endpoint(), day(7) - chrono::Days::new(7)).unwrap().is_some(), "seven days back is kept");
}
