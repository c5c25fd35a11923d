//! Batch results on IYS's schedule (`[]` for 300 s, results after, `[]` again after 60 days) and
//! the defaults that make the simulator as strict and as slow as IYS.

use serde_json::{json, Value};

use crate::common::*;
use iys_sim::{Config, TokenLimitShape};

fn result(c: &Client, prefix: &str, id: &str) -> Value {
    let r = c.get(&format!("{prefix}/consents/request/{id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[test]
fn defaults_are_iys_own_limits_and_delays() {
    let d = Config::default();
    assert_eq!(d.batch_delay_ms, 300_000, "IYS: ask no earlier than 300 s after the submit");
    assert_eq!(d.batch_enqueue_ms, 0);
    assert_eq!(d.rate_limit_per_sec, Some(10));
    assert_eq!(d.changes_holdback_secs, 3600);
    assert_eq!(d.changes_window_secs, 7 * 24 * 3600);
    assert_eq!(d.token_limit_per_hour, 10, "the stricter of the document's 10 and 100 an hour");
    assert_eq!(d.token_limit_window_secs, 3600);
    assert_eq!((d.token_ttl_secs, d.refresh_ttl_secs), (7200, 14400));
    assert_eq!(d.status_limit_per_hour, Some(1000));
    assert_eq!(d.clock_speed, 1.0);
    assert_eq!(d.token_limit_shape, TokenLimitShape::Errors);
    // The same through /admin/config of a simulator started with the defaults.
    let sim = start(Config::default());
    let cfg = Client::new(&sim).get("/admin/config").body;
    crate::common::assert_iys_defaults(&cfg);
}

#[test]
fn batch_result_is_empty_until_300_seconds_after_the_submit_then_final() {
    let sim = start(Config { batch_delay_ms: Config::default().batch_delay_ms, ..test_config() });
    let c = Client::logged_in(&sim);
    for prefix in [brand(""), brand_v2("")] {
        let n = if prefix.starts_with("/v2") { 10 } else { 0 };
        let items = json!([consent(&phone(n), "MESAJ", "ONAY"), consent(&phone(n + 1), "MESAJ", "RET")]);
        let r = c.post(&format!("{prefix}/consents/request"), &items);
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.body["requestId"].as_str().unwrap().to_string();
        let submitted = c.get("/admin/clock").body["now"].as_str().unwrap().to_string();
        assert_eq!(result(&c, &prefix, &id), json!([]));
        sim.advance_clock(299);
        assert_eq!(result(&c, &prefix, &id), json!([]), "still empty after 299 s");
        assert_eq!(c.status_of(&phone(n), "MESAJ", "BIREYSEL").body, json!({}), "not applied yet");
        assert_eq!(c.get("/admin/history").body.as_array().unwrap().len(), n / 10, "nothing recorded yet");
        sim.advance_clock(2);
        let done = result(&c, &prefix, &id);
        let items = done.as_array().unwrap();
        assert_eq!(items.len(), 2, "{done}");
        assert_eq!((items[0]["status"].as_str(), items[1]["status"].as_str()), (Some("success"), Some("failure")));
        assert_eq!(items[1]["error"]["code"], "H175");
        assert!(items.iter().all(|i| i["status"] != "enqueue"), "no enqueue phase by default");
        // Applied as of the end of the delay: 300 s after the submit.
        let created = iys_sim::clock::parse_local(items[0]["creationDate"].as_str().unwrap()).unwrap();
        let submitted = iys_sim::clock::parse_local(&submitted).unwrap();
        assert!((300..=301).contains(&(created - submitted)), "created {} s after the submit", created - submitted);
        assert_eq!(c.status_of(&phone(n), "MESAJ", "BIREYSEL").body["status"], "ONAY");
    }
}

#[test]
fn batch_results_are_kept_for_60_days_then_empty() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let id = c.submit_batch(&json!([consent(&phone(1), "MESAJ", "ONAY")]));
    let v2 = c.post(&brand_v2("/consents/request"), &json!([consent(&phone(2), "MESAJ", "ONAY")]));
    let id2 = v2.body["requestId"].as_str().unwrap().to_string();
    assert_eq!(result(&c, &brand(""), &id)[0]["status"], "success");
    assert_eq!(result(&c, &brand_v2(""), &id2)[0]["status"], "success");
    sim.advance_clock(60 * 86_400 - 10);
    let c = Client::logged_in(&sim); // the old token expired on the way
    assert_eq!(result(&c, &brand(""), &id)[0]["status"], "success", "59 days 23:59:50 old: still answered");
    sim.advance_clock(11);
    let c = Client::logged_in(&sim);
    assert_eq!(result(&c, &brand(""), &id), json!([]), "older than 60 days: empty");
    assert_eq!(result(&c, &brand_v2(""), &id2), json!([]));
    // The consents themselves stay.
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").body["status"], "ONAY");
    assert_eq!(c.get("/admin/stats").body["store"]["batches"], 0, "and the batches are forgotten");
}

#[test]
fn unknown_request_ids_answer_an_empty_list() {
    // The document gives a well-formed id only 200 (with a list) or errors about its shape;
    // "an empty answer does not mean the consents were not added".
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    for prefix in [brand(""), brand_v2("")] {
        let r = c.get(&format!("{prefix}/consents/request/5a2edd8e-dd6e-4293-b09b-6180b2c5d021"));
        assert_eq!((r.status, r.body), (200, json!([])));
    }
}
