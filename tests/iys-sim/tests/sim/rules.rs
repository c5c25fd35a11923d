//! One test per IYS rule and error code, through HTTP.

use serde_json::{json, Value};

use crate::common::*;
use iys_sim::Config;

/// Single add with `field` replaced by `value` (or removed when `value` is null).
fn add_with(c: &Client, field: &str, value: Value) -> Resp {
    let mut body = consent(&phone(1), "MESAJ", "ONAY");
    if value.is_null() {
        body.as_object_mut().unwrap().remove(field);
    } else {
        body[field] = value;
    }
    c.add(&body)
}

fn item_result(items: &[Value], index: usize) -> &Value {
    items.iter().find(|i| i["index"] == index).unwrap_or_else(|| panic!("no result for index {index}"))
}

// ---- format rules: 422 on single add ------------------------------------------------------

#[test]
fn h115_bad_status() {
    let sim = start(test_config());
    let r = add_with(&Client::logged_in(&sim), "status", json!("ONAYY"));
    assert_error(&r, 422, "H115");
    assert_eq!(r.body["errors"][0]["location"], json!(["status"]));
    assert_eq!(r.body["errors"][0]["value"], "ONAYY");
}

#[test]
fn h116_bad_recipient_type() {
    let sim = start(test_config());
    assert_error(&add_with(&Client::logged_in(&sim), "recipientType", json!("TACIRR")), 422, "H116");
}

#[test]
fn h117_bad_type() {
    let sim = start(test_config());
    assert_error(&add_with(&Client::logged_in(&sim), "type", json!("SMS")), 422, "H117");
}

#[test]
fn h118_unknown_field() {
    let sim = start(test_config());
    let r = add_with(&Client::logged_in(&sim), "firstName", json!("Ali"));
    assert_error(&r, 422, "H118");
    assert_eq!(r.body["errors"][0]["location"], json!(["firstName"]));
}

#[test]
fn h119_bad_source_and_iys_sources_are_refused_from_hs() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    assert_error(&add_with(&c, "source", json!("HS_FIZIKSEL_OTAM")), 422, "H119");
    assert_error(&add_with(&c, "source", json!("IYS_WEB")), 422, "H119");
    assert_error(&add_with(&c, "source", json!(null)), 422, "H113");
    let sources = ["HS_FIZIKSEL_ORTAM", "HS_ISLAK_IMZA", "HS_ETKINLIK", "HS_ATM", "HS_EORTAM", "HS_WEB", "HS_MOBIL", "HS_MESAJ", "HS_EPOSTA", "HS_CAGRI_MERKEZI", "HS_SOSYAL_MEDYA"];
    for (i, s) in sources.iter().enumerate() {
        let mut body = consent(&phone(200 + i), "ARAMA", "ONAY");
        body["source"] = json!(s);
        assert_eq!(c.add(&body).status, 200, "{s}");
    }
}

#[test]
fn h120_bad_email() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    for bad in ["örnek@mail.com", "no-at-sign.com", "a@b.c", "a b@example.com", "a!b@example.com", "+905321234567"] {
        let r = c.add(&consent(bad, "EPOSTA", "ONAY"));
        assert_error(&r, 422, "H120");
    }
    let long = format!("{}@example.com", "a".repeat(260));
    assert_error(&c.add(&consent(&long, "EPOSTA", "ONAY")), 422, "H120");
}

#[test]
fn h121_bad_phone() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    for bad in ["05321234567", "905321234567", "+9005321234567", "+90532123456", "user@example.com"] {
        assert_error(&c.add(&consent(bad, "MESAJ", "ONAY")), 422, "H121");
    }
    // Longer than 15 characters: H160 as well, as in the document's example.
    let r = c.add(&consent("+9055436100000000", "MESAJ", "ONAY"));
    assert_eq!(r.codes(), vec!["H160", "H121"]);
    assert_eq!(c.add(&consent("+905321234567", "MESAJ", "ONAY")).status, 200);
    assert_eq!(c.add(&consent("+4915123456789", "ARAMA", "ONAY")).status, 200);
}

#[test]
fn missing_required_fields() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    for (field, code) in [("recipient", "H114"), ("type", "H111"), ("status", "H110"), ("source", "H113"), ("consentDate", "H112")] {
        assert_error(&add_with(&c, field, Value::Null), 422, code);
    }
}

#[test]
fn h158_bad_date_format() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    for bad in ["2024-01-01T10:00:00", "2024-01-01 10:00", "01-01-2024 10:00:00", ""] {
        assert_error(&add_with(&c, "consentDate", json!(bad)), 422, "H158");
    }
    assert_error(&add_with(&c, "consentDate", json!(20240101)), 422, "H158");
}

#[test]
fn h157_impossible_date() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    for bad in ["2020-15-01 13:35:00", "2023-02-29 10:00:00", "2024-04-31 10:00:00", "2024-01-01 24:00:00"] {
        assert_error(&add_with(&c, "consentDate", json!(bad)), 422, "H157");
    }
}

#[test]
fn h156_before_may_2015() {
    let sim = start(test_config());
    let r = add_with(&Client::logged_in(&sim), "consentDate", json!("2015-04-30 23:59:00"));
    assert_error(&r, 422, "H156");
}

#[test]
fn h155_hs_2015_only_with_its_date() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let mut body = consent(&phone(1), "MESAJ", "ONAY");
    body["source"] = json!("HS_2015");
    body["consentDate"] = json!("2020-04-30 23:59:00");
    assert_error(&c.add(&body), 422, "H155");
    body["consentDate"] = json!("2015-02-10 09:30:00");
    let r = c.add(&body);
    assert_eq!(r.codes(), vec!["H156", "H155"], "{}", r.text);
    // Its one legal date is years old, yet not refused as too old (H467).
    body["consentDate"] = json!("2015-05-01 00:00:00");
    assert_eq!(c.add(&body).status, 200);
}

#[test]
fn h162_future_date() {
    let sim = start(test_config());
    assert_error(&add_with(&Client::logged_in(&sim), "consentDate", json!(tr_ago(-3600))), 422, "H162");
}

fn add_dated(c: &Client, n: usize, date: &str) -> Resp {
    let mut body = consent(&phone(n), "MESAJ", "ONAY");
    body["consentDate"] = json!(date);
    c.add(&body)
}

#[test]
fn h467_three_business_days_skip_weekends() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    // Collected Friday 2024-03-01 15:00: accepted until Wednesday 2024-03-06 15:00.
    freeze_at(&c, "2024-03-06 15:00:00");
    assert_eq!(add_dated(&c, 1, "2024-03-01 15:00:00").status, 200);
    freeze_at(&c, "2024-03-06 15:00:01");
    let r = add_dated(&c, 2, "2024-03-01 15:00:00");
    assert_error(&r, 422, "H467");
    assert_eq!(r.body["errors"][0]["location"], json!(["consentDate"]));
    assert_eq!(r.body["errors"][0]["value"], "2024-03-01 15:00:00");
    assert_eq!(add_dated(&c, 3, "2024-03-01 15:00:01").status, 200, "one second younger");
    // More than 72 hours, yet within three business days: accepted (IYS is not 72 hours).
    freeze_at(&c, "2024-03-05 10:00:00");
    assert_eq!(add_dated(&c, 4, "2024-03-01 09:00:00").status, 200);
    // The same rule rejects a whole batch, with the item index.
    freeze_at(&c, "2024-03-07 09:00:00");
    let items = json!([
        {"recipient": phone(5), "type": "MESAJ", "source": "HS_WEB", "status": "ONAY", "consentDate": "2024-03-04 09:00:00"},
        {"recipient": phone(6), "type": "MESAJ", "source": "HS_WEB", "status": "ONAY", "consentDate": "2024-03-01 23:59:59"},
    ]);
    let r = c.post(&brand("/consents/request"), &items);
    assert_error(&r, 422, "H467");
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["errors"][0]["index"], 1);
}

#[test]
fn h467_public_holidays_are_not_business_days_but_eves_are() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    // Collected on the eve of Kurban Bayramı (Thursday 2025-06-05, a half day): Friday 6 and
    // Monday 9 June are holidays, so the third business day is Thursday 12 June.
    freeze_at(&c, "2025-06-12 10:00:00");
    assert_eq!(add_dated(&c, 1, "2025-06-05 10:00:00").status, 200);
    freeze_at(&c, "2025-06-12 10:00:01");
    assert_error(&add_dated(&c, 2, "2025-06-05 10:00:00"), 422, "H467");
    // The eve itself is a business day: collected on Wednesday 4 June → until Wednesday 11 June.
    freeze_at(&c, "2025-06-11 12:00:00");
    assert_eq!(add_dated(&c, 3, "2025-06-04 12:00:00").status, 200);
    freeze_at(&c, "2025-06-11 12:00:01");
    assert_error(&add_dated(&c, 4, "2025-06-04 12:00:00"), 422, "H467");
    // 28 October is a half day (counted), 29 October a holiday: Friday 2024-10-25 → Thursday 31.
    freeze_at(&c, "2024-10-31 08:00:00");
    assert_eq!(add_dated(&c, 5, "2024-10-25 08:00:00").status, 200);
    freeze_at(&c, "2024-10-31 08:00:01");
    assert_error(&add_dated(&c, 6, "2024-10-25 08:00:00"), 422, "H467");
    // Ramazan Bayramı 2026 (20–22 March, Friday to Sunday): Thursday 19 March (eve) → Tuesday 24.
    freeze_at(&c, "2026-03-24 18:30:00");
    assert_eq!(add_dated(&c, 7, "2026-03-18 18:30:00").status, 200, "18 → 19, 23, 24");
    assert_error(&add_dated(&c, 8, "2026-03-18 18:29:59"), 422, "H467");
    // HS_2015 stays exempt.
    let mut old = consent(&phone(9), "MESAJ", "ONAY");
    old["source"] = json!("HS_2015");
    old["consentDate"] = json!("2015-05-01 00:00:00");
    assert_eq!(c.add(&old).status, 200);
}

#[test]
fn h408_hs_karar_must_be_ret() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let mut body = consent(&phone(1), "MESAJ", "ONAY");
    body["source"] = json!("HS_KARAR");
    assert_error(&c.add(&body), 422, "H408");
    // HS_KARAR with RET is a legal update of an existing approval.
    assert_eq!(c.add(&consent(&phone(1), "MESAJ", "ONAY")).status, 200);
    body["status"] = json!("RET");
    body["consentDate"] = json!(tr_ago(10));
    let r = c.add(&body);
    assert_eq!(r.status, 200, "{}", r.text);
}

// ---- state rules: 400 on single add -------------------------------------------------------

#[test]
fn h175_first_record_cannot_be_ret() {
    let sim = start(test_config());
    assert_error(&Client::logged_in(&sim).add(&consent(&phone(1), "MESAJ", "RET")), 400, "H175");
}

#[test]
fn h174_ret_on_ret() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let mut body = consent(&phone(1), "MESAJ", "ONAY");
    body["consentDate"] = json!(tr_ago(300));
    assert_eq!(c.add(&body).status, 200);
    body["status"] = json!("RET");
    body["consentDate"] = json!(tr_ago(200));
    assert_eq!(c.add(&body).status, 200);
    body["consentDate"] = json!(tr_ago(100));
    assert_error(&c.add(&body), 400, "H174");
    // ONAY on ONAY with a newer date is accepted.
    body["status"] = json!("ONAY");
    assert_eq!(c.add(&body).status, 200);
    body["consentDate"] = json!(tr_ago(50));
    assert_eq!(c.add(&body).status, 200);
}

#[test]
fn h178_older_than_stored() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let mut body = consent(&phone(1), "MESAJ", "ONAY");
    body["consentDate"] = json!(tr_ago(100));
    assert_eq!(c.add(&body).status, 200);
    body["status"] = json!("RET");
    body["consentDate"] = json!(tr_ago(200));
    assert_error(&c.add(&body), 400, "H178");
    let stored = c.status_of(&phone(1), "MESAJ", "BIREYSEL");
    assert_eq!(stored.body["status"], "ONAY");
}

#[test]
fn h462_h463_tacir_updates_need_date_and_source() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let first = json!({"recipient": "firma@example.com", "type": "EPOSTA", "recipientType": "TACIR", "status": "ONAY"});
    assert_eq!(c.add(&first).status, 200, "TACIR may omit date and source at first");
    let mut update = first.clone();
    update["status"] = json!("RET");
    update["source"] = json!("HS_WEB");
    assert_error(&c.add(&update), 400, "H462");
    let mut update = first.clone();
    update["status"] = json!("RET");
    update["consentDate"] = json!(tr_ago(10));
    assert_error(&c.add(&update), 400, "H463");
    update["source"] = json!("HS_WEB");
    assert_eq!(c.add(&update).status, 200);
    // BIREYSEL still needs both from the start.
    let mut bireysel = first.clone();
    bireysel["recipientType"] = json!("BIREYSEL");
    assert_error(&c.add(&bireysel), 422, "H113");
}

#[test]
fn emails_are_lower_cased() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    assert_eq!(c.add(&consent("Ali.Veli@Example.COM", "EPOSTA", "ONAY")).status, 200);
    let r = c.status_of("ALI.VELI@example.com", "EPOSTA", "BIREYSEL");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["recipient"], "ali.veli@example.com");
    assert_eq!(r.body["status"], "ONAY");
    // The same address in other case is the same consent: RET now updates it.
    let mut ret = consent("ali.veli@EXAMPLE.com", "EPOSTA", "RET");
    ret["consentDate"] = json!(tr_ago(1));
    assert_eq!(c.add(&ret).status, 200);
    let admin = c.get("/admin/consents?recipient=ALI.VELI@EXAMPLE.COM");
    assert_eq!(admin.body.as_array().unwrap().len(), 1);
    assert_eq!(admin.body[0]["status"], "RET");
}

#[test]
fn consents_are_kept_per_brand_recipient_type_and_channel() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    assert_eq!(c.add(&consent(&phone(1), "MESAJ", "ONAY")).status, 200);
    // Another channel, another recipientType, another brand: each is a first record.
    assert_error(&c.add(&consent(&phone(1), "ARAMA", "RET")), 400, "H175");
    let mut tacir = consent(&phone(1), "MESAJ", "RET");
    tacir["recipientType"] = json!("TACIR");
    assert_error(&c.add(&tacir), 400, "H175");
    let other_brand = c.post(&format!("/sps/{IYS}/brands/{}/consents", BRAND + 1), &consent(&phone(1), "MESAJ", "RET"));
    assert_error(&other_brand, 400, "H175");
}

// ---- async batch ---------------------------------------------------------------------------

#[test]
fn batch_format_errors_reject_the_whole_list_with_indexes() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let mut bad_status = consent(&phone(2), "MESAJ", "ONAYY");
    bad_status["status"] = json!("RETT");
    let items = json!([
        consent(&phone(1), "MESAJ", "ONAY"),
        bad_status,
        consent("not-an-email", "EPOSTA", "ONAY"),
        {"recipient": phone(4), "type": "MESAJ", "source": "HS_WEB", "status": "ONAY", "consentDate": tr_ago(30 * 86_400)},
        {"recipient": phone(5), "type": "MESAJ", "source": "HS_KARAR", "status": "ONAY", "consentDate": tr_ago(5)},
        {"recipient": phone(6), "type": "MESAJ", "source": "HS_WEB", "status": "ONAY", "consentDate": tr_ago(-600)},
    ]);
    let r = c.post(&brand("/consents/request"), &items);
    assert_eq!(r.status, 422, "{}", r.text);
    let found: Vec<(u64, String)> = r.body["errors"].as_array().unwrap().iter().map(|e| (e["index"].as_u64().unwrap(), e["code"].as_str().unwrap().to_string())).collect();
    for expected in [(1, "H115"), (2, "H120"), (3, "H467"), (4, "H408"), (5, "H162")] {
        assert!(found.contains(&(expected.0, expected.1.to_string())), "{expected:?} missing in {found:?}");
    }
    assert!(!found.iter().any(|(i, _)| *i == 0));
    assert_eq!(c.get("/admin/history").body.as_array().unwrap().len(), 0, "nothing applied");
}

#[test]
fn h194_same_recipient_twice_in_one_list() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let items = json!([
        consent("a@example.com", "EPOSTA", "ONAY"),
        consent(&phone(1), "MESAJ", "ONAY"),
        consent("A@EXAMPLE.COM", "EPOSTA", "ONAY"),
    ]);
    let r = c.post(&brand("/consents/request"), &items);
    assert_error(&r, 422, "H194");
    assert_eq!(r.body["errors"][0]["index"], 2);
    // Same recipient on another channel or recipientType is fine.
    let mut tacir = consent("a@example.com", "EPOSTA", "ONAY");
    tacir["recipientType"] = json!("TACIR");
    let ok = json!([consent(&phone(1), "MESAJ", "ONAY"), consent(&phone(1), "ARAMA", "ONAY"), consent("a@example.com", "EPOSTA", "ONAY"), tacir]);
    assert_eq!(c.post(&brand("/consents/request"), &ok).status, 202);
}

#[test]
fn h091_more_than_1000_and_h092_not_a_list() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let big: Vec<Value> = (0..1001).map(|i| consent(&phone(i), "MESAJ", "ONAY")).collect();
    assert_error(&c.post(&brand("/consents/request"), &Value::from(big)), 422, "H091");
    let full: Vec<Value> = (0..1000).map(|i| consent(&phone(i), "MESAJ", "ONAY")).collect();
    assert_eq!(c.post(&brand("/consents/request"), &Value::from(full)).status, 202);
    assert_error(&c.post(&brand("/consents/request"), &consent(&phone(1), "MESAJ", "ONAY")), 400, "H092");
    assert_error(&c.post(&brand("/consents/request"), &json!([])), 400, "H092");
    assert_error(&c.post_raw(&brand("/consents/request"), "application/json", "[{"), 400, "H014");
}

#[test]
fn batch_accepts_then_reports_state_rules_per_item_in_input_order() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    // Stored beforehand: a RET (for H174) and a recent ONAY (for H178), TACIR without date (H462).
    let mut old = consent(&phone(1), "MESAJ", "ONAY");
    old["consentDate"] = json!(tr_ago(400));
    assert_eq!(c.add(&old).status, 200);
    old["status"] = json!("RET");
    old["consentDate"] = json!(tr_ago(300));
    assert_eq!(c.add(&old).status, 200);
    let mut recent = consent(&phone(2), "MESAJ", "ONAY");
    recent["consentDate"] = json!(tr_ago(10));
    assert_eq!(c.add(&recent).status, 200);
    let tacir = json!({"recipient": phone(3), "type": "MESAJ", "recipientType": "TACIR", "status": "ONAY"});
    assert_eq!(c.add(&tacir).status, 200);

    let mut ret_again = consent(&phone(1), "MESAJ", "RET");
    ret_again["consentDate"] = json!(tr_ago(100));
    let mut older = consent(&phone(2), "MESAJ", "RET");
    older["consentDate"] = json!(tr_ago(500));
    let tacir_no_date = json!({"recipient": phone(3), "type": "MESAJ", "recipientType": "TACIR", "status": "RET", "source": "HS_WEB"});
    let tacir_no_source = json!({"recipient": phone(4), "type": "ARAMA", "recipientType": "TACIR", "status": "ONAY"});
    let items = json!([
        consent(&phone(10), "MESAJ", "ONAY"),
        ret_again,
        older,
        consent(&phone(11), "MESAJ", "RET"),
        tacir_no_date,
        consent("New@Example.com", "EPOSTA", "ONAY"),
        tacir_no_source,
    ]);
    let r = c.post(&brand("/consents/request"), &items);
    assert_eq!(r.status, 202, "{}", r.text);
    let subs = r.body["subRequests"].as_array().unwrap();
    assert_eq!(subs.len(), 7);
    assert_eq!(subs[5]["recipient"], "new@example.com");
    assert!(subs.iter().all(|s| s["subRequestId"].as_str().is_some_and(|id| id.len() == 36)));
    let id = r.body["requestId"].as_str().unwrap();

    let results = c.wait_batch(&brand(""), id);
    let indexes: Vec<u64> = results.iter().map(|i| i["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, (0..7).collect::<Vec<_>>(), "input order");
    let status_code = |i: usize| {
        let it = item_result(&results, i);
        (it["status"].as_str().unwrap().to_string(), it["error"]["code"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(status_code(0), ("success".into(), "".into()));
    assert_eq!(status_code(1), ("failure".into(), "H174".into()));
    assert_eq!(status_code(2), ("failure".into(), "H178".into()));
    assert_eq!(status_code(3), ("failure".into(), "H175".into()));
    assert_eq!(status_code(4), ("failure".into(), "H462".into()));
    assert_eq!(status_code(5), ("success".into(), "".into()));
    assert_eq!(status_code(6), ("success".into(), "".into()), "a first TACIR record needs neither");
    for (i, it) in results.iter().enumerate() {
        assert_eq!(it["subRequestId"], subs[i]["subRequestId"]);
        if it["status"] == "success" {
            assert_eq!(it["transactionId"].as_str().unwrap().len(), 64);
            assert!(it["creationDate"].is_string());
        }
    }
    // A TACIR update without source is H463.
    let upd = json!([{"recipient": phone(4), "type": "ARAMA", "recipientType": "TACIR", "status": "RET", "consentDate": tr_ago(1)}]);
    let id = c.submit_batch(&upd);
    assert_eq!(c.wait_batch(&brand(""), &id)[0]["error"]["code"], "H463");
}

#[test]
fn batch_enqueue_phase_is_optional_and_follows_the_delay() {
    let sim = start(Config { batch_delay_ms: 10_000, batch_enqueue_ms: 5_000, ..test_config() });
    let c = Client::logged_in(&sim);
    let id = c.submit_batch(&json!([consent(&phone(1), "MESAJ", "ONAY"), consent(&phone(2), "MESAJ", "ONAY")]));
    let path = brand(&format!("/consents/request/{id}"));
    assert_eq!(c.get(&path).body, json!([]), "nothing to show during the delay");
    sim.advance_clock(11);
    let queued = c.get(&path).body;
    assert_eq!(queued.as_array().unwrap().len(), 2);
    assert!(queued.as_array().unwrap().iter().all(|i| i["status"] == "enqueue" && i["subrequestId"].is_string()), "{queued}");
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").body, json!({}), "not applied while enqueued");
    sim.advance_clock(5);
    let done = c.get(&path).body;
    assert!(done.as_array().unwrap().iter().all(|i| i["status"] == "success"), "{done}");
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").body["status"], "ONAY");
}

#[test]
fn batches_and_single_adds_apply_in_arrival_order() {
    let sim = start(Config { batch_delay_ms: 5_000, ..test_config() });
    let c = Client::logged_in(&sim);
    let mut first = consent(&phone(1), "MESAJ", "ONAY");
    first["consentDate"] = json!(tr_ago(100));
    let a = c.submit_batch(&json!([first]));
    sim.advance_clock(1);
    let mut second = consent(&phone(1), "MESAJ", "RET");
    second["consentDate"] = json!(tr_ago(50));
    let b = c.submit_batch(&json!([second]));
    // Batch B is asked about first, yet A must have been applied before it.
    sim.advance_clock(10);
    assert_eq!(c.get(&brand(&format!("/consents/request/{b}"))).body[0]["status"], "success");
    assert_eq!(c.get(&brand(&format!("/consents/request/{a}"))).body[0]["status"], "success");
    let history = c.get("/admin/history").body;
    let ids: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["requestId"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![a.as_str(), b.as_str()]);
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").body["status"], "RET");
}

#[test]
fn batch_result_request_id_checks_and_unknown_ids() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    assert_error(&c.get(&brand("/consents/request/a9817bd8-0642-4d8c-946b-cc47d5aac41ab-cc47")), 422, "H198");
    assert_error(&c.get(&brand("/consents/request/abcde")), 422, "H199");
    assert_error(&c.get(&brand("/consents/request/12345")), 422, "H400");
    let r = c.get(&brand("/consents/request/5a2edd8e-dd6e-4293-b09b-6180b2c5d021"));
    assert_eq!((r.status, r.body.clone()), (200, json!([])));
    // Another brand cannot read this brand's batch.
    let id = c.submit_batch(&json!([consent(&phone(1), "MESAJ", "ONAY")]));
    let other = c.get(&format!("/sps/{IYS}/brands/{}/consents/request/{id}", BRAND + 1));
    assert_eq!(other.body, json!([]));
}

// ---- V2 idempotency ------------------------------------------------------------------------

#[test]
fn v2_single_add_returns_the_same_transaction_for_a_resend() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let body = consent(&phone(1), "MESAJ", "ONAY");
    let first = c.post(&brand_v2("/consents"), &body);
    assert_eq!(first.status, 200, "{}", first.text);
    let again = c.post(&brand_v2("/consents"), &body);
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    assert_eq!(c.get("/admin/history").body.as_array().unwrap().len(), 1, "resend recorded nothing");
    // V1 has no such memory: the same ONAY again is a new movement (a second later: within the
    // same second IYS gives one address and type one transactionId).
    sim.advance_clock(1);
    let v1 = c.add(&body);
    assert_eq!(v1.status, 200);
    assert_ne!(v1.body["transactionId"], first.body["transactionId"]);
    // Even after the state moved on, the identical V2 request keeps its original answer.
    let mut ret = consent(&phone(1), "MESAJ", "RET");
    ret["consentDate"] = json!(tr_ago(1));
    let r = c.post(&brand_v2("/consents"), &ret);
    assert_eq!(r.status, 200);
    assert_eq!(c.post(&brand_v2("/consents"), &body).body, first.body);
    // A RET resent through V1 is refused; through V2 it is the same transaction.
    assert_error(&c.add(&ret), 400, "H174");
    assert_eq!(c.post(&brand_v2("/consents"), &ret).body, r.body);
    // A different body is a different request.
    let mut other = ret.clone();
    other["consentDate"] = json!(tr_ago(0));
    assert_error(&c.post(&brand_v2("/consents"), &other), 400, "H174");
}

#[test]
fn v2_batch_resend_points_to_the_original_request() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let items = json!([consent(&phone(1), "MESAJ", "ONAY"), consent("x@example.com", "EPOSTA", "ONAY")]);
    let r1 = c.post(&brand_v2("/consents/request"), &items);
    assert_eq!(r1.status, 202);
    let id1 = r1.body["requestId"].as_str().unwrap().to_string();
    let res1 = c.wait_batch(&brand_v2(""), &id1);
    assert!(res1.iter().all(|i| i["status"] == "success" && i["isAddConsentV2Service"] == true));

    let r2 = c.post(&brand_v2("/consents/request"), &items);
    let id2 = r2.body["requestId"].as_str().unwrap().to_string();
    assert_ne!(id1, id2, "a resend gets a new requestId");
    let res2 = c.wait_batch(&brand_v2(""), &id2);
    for (a, b) in res1.iter().zip(&res2) {
        assert_eq!(b["status"], "success");
        assert_eq!(b["transactionId"], a["transactionId"]);
        assert_eq!(b["originalRequestInformation"]["requestId"], id1.as_str());
        assert_eq!(b["originalRequestInformation"]["subRequestId"], a["subRequestId"]);
    }
    assert_eq!(c.get("/admin/history").body.as_array().unwrap().len(), 2);
    // The V1 batch makes a new movement for the ONAY resend (a second later, see above).
    sim.advance_clock(1);
    let id3 = c.submit_batch(&items);
    let res3 = c.wait_batch(&brand(""), &id3);
    assert_ne!(res3[0]["transactionId"], res1[0]["transactionId"]);
    assert!(res3[0].get("originalRequestInformation").is_none());
}

// ---- status queries ------------------------------------------------------------------------

#[test]
fn single_status_query() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let body = consent(&phone(1), "ARAMA", "ONAY");
    let added = c.add(&body);
    let r = c.status_of(&phone(1), "ARAMA", "BIREYSEL");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ONAY");
    assert_eq!(r.body["consentDate"], body["consentDate"]);
    assert_eq!(r.body["source"], "HS_WEB");
    assert_eq!(r.body["transactionId"], added.body["transactionId"]);
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").body, json!({}), "unknown consent");
    assert_error(&c.status_of(&phone(1), "SMS", "BIREYSEL"), 422, "H117");
    assert_error(&c.status_of(&phone(1), "ARAMA", "X"), 422, "H116");
    assert_error(&c.status_of("ornekmail.com", "EPOSTA", "BIREYSEL"), 422, "H120");
    assert_error(&c.status_of("+05543213232", "MESAJ", "BIREYSEL"), 422, "H121");
    assert_error(&c.status_of("+0554321323223333333333", "MESAJ", "BIREYSEL"), 422, "H166");
    assert_error(&c.post(&brand("/consents/status"), &json!({"recipient": phone(1), "type": "MESAJ"})), 422, "H170");
    assert_error(&c.post(&brand("/consents/status"), &json!([1])), 400, "H097");
}

#[test]
fn multi_status_lists_only_approvals() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    c.add(&consent(&phone(1), "MESAJ", "ONAY"));
    c.add(&consent(&phone(2), "MESAJ", "ONAY"));
    let mut ret = consent(&phone(2), "MESAJ", "RET");
    ret["consentDate"] = json!(tr_ago(1));
    c.add(&ret);
    c.add(&consent(&phone(3), "ARAMA", "ONAY"));
    let path = brand("/consents/BIREYSEL/status/MESAJ");
    let r = c.post(&path, &json!({"recipients": [phone(1), phone(2), phone(3), phone(4)]}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["list"], json!([phone(1)]));
    assert!(r.body["requestId"].is_string());
    assert_eq!(c.post(&brand("/consents/TACIR/status/MESAJ"), &json!({"recipients": [phone(1)]})).body["list"], json!([]));

    c.add(&consent("Mixed@Case.com", "EPOSTA", "ONAY"));
    let e = c.post(&brand("/consents/BIREYSEL/status/EPOSTA"), &json!({"recipients": ["MIXED@case.com"]}));
    assert_eq!(e.body["list"], json!(["mixed@case.com"]));

    assert_error(&c.post(&path, &json!({})), 422, "H168");
    assert_error(&c.post(&path, &json!({"recipients": {}})), 422, "H478");
    assert_error(&c.post(&path, &json!({"recipients": []})), 422, "H164");
    // H464 names the queried type, as the document's two examples do.
    let wrong_kind = c.post(&path, &json!({"recipients": ["test@gmail.com"]}));
    assert_error(&wrong_kind, 422, "H464");
    assert_eq!(wrong_kind.body["errors"][0]["message"], "İzin tipi (type) MESAJ için, alıcı (recipient) telefon formatında olmalıdır.");
    assert_eq!(wrong_kind.body["errors"][0]["location"], json!(["recipient"]));
    assert_eq!(wrong_kind.body["errors"][0]["value"], "test@gmail.com");
    let phone_for_email = c.post(&brand("/consents/BIREYSEL/status/EPOSTA"), &json!({"recipients": ["+905312560714"]}));
    assert_eq!(phone_for_email.body["errors"][0]["message"], "İzin tipi (type) EPOSTA için, alıcı (recipient) e-posta formatında olmalıdır.");
    let dup = c.post(&path, &json!({"recipients": [phone(1), phone(2), phone(1)]}));
    assert_error(&dup, 422, "H193");
    assert_eq!(dup.body["errors"][0]["location"], json!(["recipients", 2]));
    let many: Vec<String> = (0..1001).map(phone).collect();
    assert_error(&c.post(&path, &json!({"recipients": many})), 422, "H127");
    let ok: Vec<String> = (0..1000).map(phone).collect();
    assert_eq!(c.post(&path, &json!({"recipients": ok})).status, 200);
    assert_error(&c.post(&brand("/consents/BIREYSELL/status/MESAJ"), &json!({"recipients": [phone(1)]})), 422, "H116");
    assert_error(&c.post(&brand("/consents/BIREYSEL/status/SMS"), &json!({"recipients": [phone(1)]})), 422, "H117");
}

// ---- changes (pull) ------------------------------------------------------------------------

fn citizen(c: &Client, recipient: &str, status: &str, extra: Value) -> Resp {
    let mut body = json!({"iysCode": IYS, "brandCode": BRAND, "recipient": recipient, "type": "MESAJ", "status": status, "source": "IYS_KISAMESAJ"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = c.post("/admin/citizen-change", &body);
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

#[test]
fn changes_lists_hs_and_citizen_movements_separately_oldest_first() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let t1 = c.add(&consent(&phone(1), "MESAJ", "ONAY")).body["transactionId"].clone();
    let t2 = c.add(&consent(&phone(2), "MESAJ", "ONAY")).body["transactionId"].clone();
    let cz = citizen(&c, &phone(1), "RET", json!({}));

    let hs = c.get(&brand("/consents/changes?source=HS"));
    assert_eq!(hs.status, 200);
    let tx: Vec<&Value> = hs.body["list"].as_array().unwrap().iter().map(|m| &m["transactionId"]).collect();
    assert_eq!(tx, vec![&t1, &t2]);

    for path in [brand("/consents/changes?source=IYS"), brand("/consents/changes")] {
        let iys = c.get(&path);
        assert_eq!(iys.status, 200, "default source is IYS");
        let list = iys.body["list"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["source"], "IYS_KISAMESAJ");
        assert_eq!(list[0]["status"], "RET");
        assert_eq!(list[0]["transactionId"], cz.body["transactionId"]);
    }
    // The citizen's change is now what IYS holds; an older HS update conflicts with it.
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").body["source"], "IYS_KISAMESAJ");
    let mut stale = consent(&phone(1), "MESAJ", "ONAY");
    stale["consentDate"] = json!(tr_ago(3600));
    assert_error(&c.add(&stale), 400, "H178");
}

#[test]
fn changes_cursor_and_limit_page_without_gaps_or_repeats() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let mut expected = Vec::new();
    for i in 0..7 {
        expected.push(citizen(&c, &phone(i), "ONAY", json!({})).body["transactionId"].clone());
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => brand("/consents/changes?source=IYS&limit=3"),
            Some(a) => brand(&format!("/consents/changes?source=IYS&limit=3&after={a}")),
        };
        let r = c.get(&path);
        if r.status == 204 {
            assert!(r.text.is_empty());
            break;
        }
        assert_eq!(r.status, 200);
        let list = r.body["list"].as_array().unwrap();
        assert!(list.len() <= 3);
        seen.extend(list.iter().map(|m| m["transactionId"].clone()));
        after = Some(r.body["after"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, expected);
    // New movements appear after the stored cursor.
    let late = citizen(&c, &phone(99), "ONAY", json!({})).body["transactionId"].clone();
    let r = c.get(&brand(&format!("/consents/changes?source=IYS&after={}", after.unwrap())));
    assert_eq!(r.body["list"].as_array().unwrap().iter().map(|m| m["transactionId"].clone()).collect::<Vec<_>>(), vec![late]);
}

#[test]
fn changes_hold_back_the_last_hour_and_forget_after_seven_days() {
    let sim = start(Config { changes_holdback_secs: 3600, ..test_config() });
    let c = Client::logged_in(&sim);
    citizen(&c, &phone(1), "ONAY", json!({}));
    assert_eq!(c.get(&brand("/consents/changes?source=IYS")).status, 204, "younger than an hour");
    // Back-dated citizen change: visible at once.
    citizen(&c, &phone(2), "ONAY", json!({"creationDate": tr_ago(2 * 3600), "consentDate": tr_ago(2 * 3600)}));
    let r = c.get(&brand("/consents/changes?source=IYS"));
    assert_eq!(r.body["list"].as_array().unwrap().len(), 1);
    sim.advance_clock(3601);
    assert_eq!(c.get(&brand("/consents/changes?source=IYS")).body["list"].as_array().unwrap().len(), 2);
    // Now = start + 7 days - 1 hour: the window opens at start - 1 hour.
    sim.advance_clock(7 * 24 * 3600 - 3600 - 3601);
    let c = Client::logged_in(&sim); // the old token expired on the way
    let r = c.get(&brand("/consents/changes?source=IYS"));
    assert_eq!(r.body["list"].as_array().unwrap().len(), 1, "the back-dated one left the 7-day window: {}", r.text);
    // The hold-back is a run-time setting.
    assert_eq!(c.post("/admin/config", &json!({"changes_holdback_secs": 0})).status, 200);
    citizen(&c, &phone(3), "ONAY", json!({}));
    assert_eq!(c.get(&brand("/consents/changes?source=IYS")).body["list"].as_array().unwrap().len(), 2);
}

#[test]
fn changes_parameter_errors() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    assert_error(&c.get(&brand("/consents/changes?source=SH")), 422, "H506");
    assert_error(&c.get(&brand("/consents/changes?limit=1500")), 422, "H507");
    assert_error(&c.get(&brand("/consents/changes?limit=0")), 422, "H507");
    assert_error(&c.get(&brand("/consents/changes?after=garbage")), 422, "H098");
    assert_eq!(c.get(&brand("/consents/changes?source=HS")).status, 204);
}

// ---- authentication and paths -------------------------------------------------------------

#[test]
fn h351_without_a_valid_token() {
    let sim = start(test_config());
    let mut c = Client::new(&sim);
    assert_error(&c.add(&consent(&phone(1), "MESAJ", "ONAY")), 401, "H351");
    c.token = Some("not-a-token".into());
    assert_error(&c.get(&brand("/consents/changes")), 401, "H351");
    assert_error(&c.post(&brand("/consents/request"), &json!([])), 401, "H351");
    let r = c.send("POST", &brand("/consents/status"), Some("application/json"), Some("{}"));
    assert_error(&r, 401, "H351");
}

#[test]
fn h190_h191_codes_must_be_integers() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let r = c.post("/sps/abc/brands/xyz/consents", &consent(&phone(1), "MESAJ", "ONAY"));
    assert_eq!(r.codes(), vec!["H190", "H191"]);
    assert_eq!(c.get("/sps/1/brands/2/nothing-here").status, 404);
    assert_eq!(c.get(&brand("/consents")).status, 405);
}

// ---- IYS's rules on lists, transactionIds and IYS_* sources -------------------------------------

#[test]
fn h194_one_address_with_different_statuses_in_one_list() {
    // addBatchConsent: "Aynı iletişim adresi (recipient) için farklı izin durumları (status) aynı
    // listede olacak şekilde istek gönderilmemelidir"; its 422 example `statusOrderError` is H194.
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let mut tacir_ret = consent(&phone(1), "ARAMA", "RET");
    tacir_ret["recipientType"] = json!("TACIR");
    for (items, bad_index) in [
        (json!([consent(&phone(1), "MESAJ", "ONAY"), consent(&phone(2), "MESAJ", "ONAY"), consent(&phone(1), "ARAMA", "RET")]), 2),
        (json!([consent(&phone(1), "ARAMA", "RET"), consent(&phone(1), "MESAJ", "ONAY")]), 1),
        (json!([consent(&phone(1), "MESAJ", "ONAY"), tacir_ret]), 1),
        (json!([consent("Ali@Example.com", "EPOSTA", "ONAY"), consent(&phone(3), "MESAJ", "ONAY"), consent("ali@example.com", "EPOSTA", "RET")]), 2),
    ] {
        for prefix in [brand(""), brand_v2("")] {
            let r = c.post(&format!("{prefix}/consents/request"), &items);
            assert_error(&r, 422, "H194");
            assert_eq!(r.body["errors"].as_array().unwrap().len(), 1, "{}", r.text);
            assert_eq!(r.body["errors"][0]["index"], bad_index, "{}", r.text);
        }
    }
    assert_eq!(c.get("/admin/stats").body["store"]["batches"], 0, "every such list refused whole");
    // One status per address across channels and recipient types is fine; so is a single add
    // of each movement, as IYS recommends.
    let ok = json!([consent(&phone(1), "MESAJ", "RET"), consent(&phone(1), "ARAMA", "RET"), consent(&phone(2), "MESAJ", "ONAY")]);
    assert_eq!(c.post(&brand("/consents/request"), &ok).status, 202);
    assert_eq!(c.add(&consent(&phone(5), "MESAJ", "ONAY")).status, 200);
    assert_eq!(c.add(&consent(&phone(5), "ARAMA", "ONAY")).status, 200);
}

#[test]
fn movements_of_one_address_and_type_in_the_same_second_share_a_transaction_id() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    c.post("/admin/clock", &json!({"clock_speed": 0}));
    let date = tr_ago(120);
    let with = |recipient: &str, ty: &str, status: &str| {
        let mut b = consent(recipient, ty, status);
        b["consentDate"] = json!(date);
        b
    };
    let onay = c.add(&with(&phone(1), "MESAJ", "ONAY"));
    let ret = c.add(&with(&phone(1), "MESAJ", "RET"));
    assert_eq!((onay.status, ret.status), (200, 200), "{} {}", onay.text, ret.text);
    assert_eq!(ret.body["transactionId"], onay.body["transactionId"], "same second, same address and type");
    // Another type, another address or another brand: its own transactionId.
    let arama = c.add(&with(&phone(1), "ARAMA", "ONAY"));
    let other = c.add(&with(&phone(2), "MESAJ", "ONAY"));
    let other_brand = c.post(&format!("/sps/{IYS}/brands/{}/consents", BRAND + 1), &with(&phone(1), "MESAJ", "ONAY"));
    let ids = [&onay, &arama, &other, &other_brand].map(|r| r.body["transactionId"].as_str().unwrap().to_string());
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 4, "{ids:?}");
    // A citizen's change of the same address and type in that second shares it too.
    let cz = c.post("/admin/citizen-change", &json!({"iysCode": IYS, "brandCode": BRAND, "recipient": phone(1), "type": "MESAJ", "status": "ONAY", "source": "IYS_WEB", "consentDate": date}));
    assert_eq!(cz.body["transactionId"], onay.body["transactionId"]);
    // A second later: a new one.
    sim.advance_clock(1);
    let later = c.add(&with(&phone(1), "MESAJ", "RET"));
    assert_eq!(later.status, 200, "{}", later.text);
    assert_ne!(later.body["transactionId"], onay.body["transactionId"]);
    // Both movements are there, under one id, in the history and in the changes feed.
    let h = c.get(&format!("/admin/history?brandCode={BRAND}&recipient=%2B90532{:07}", 1)).body;
    let mesaj: Vec<&Value> = h.as_array().unwrap().iter().filter(|m| m["type"] == "MESAJ").collect();
    assert_eq!(mesaj.len(), 4);
    assert_eq!(mesaj[0]["transactionId"], mesaj[1]["transactionId"]);
    let hs = c.get(&brand("/consents/changes?source=HS")).body;
    let shared: Vec<&Value> = hs["list"].as_array().unwrap().iter().filter(|m| m["transactionId"] == onay.body["transactionId"]).collect();
    assert_eq!(shared.len(), 2, "{hs}");
    assert_eq!((shared[0]["status"].as_str(), shared[1]["status"].as_str()), (Some("ONAY"), Some("RET")));
    // Paging one at a time neither skips nor repeats a movement of a shared id: the pair comes
    // on one page (the cursor `<seconds>_<transactionId>` cannot point between them).
    let all: Vec<Value> = hs["list"].as_array().unwrap().iter().map(|m| json!([m["transactionId"], m["status"]])).collect();
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => brand("/consents/changes?source=HS&limit=1"),
            Some(a) => brand(&format!("/consents/changes?source=HS&limit=1&after={a}")),
        };
        let r = c.get(&path);
        if r.status == 204 {
            break;
        }
        let page = r.body["list"].as_array().unwrap();
        let shared_page = page[0]["transactionId"] == onay.body["transactionId"];
        assert_eq!(page.len(), if shared_page { 2 } else { 1 }, "{}", r.text);
        paged.extend(page.iter().map(|m| json!([m["transactionId"], m["status"]])));
        assert!(paged.len() <= all.len(), "paging repeats: {paged:?}");
        after = Some(r.body["after"].as_str().unwrap().to_string());
    }
    assert_eq!(paged, all);
}

#[test]
fn citizen_changes_take_any_iys_source() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let sources = ["IYS_3338", "IYS_KISA_LINK", "IYS_WEB_YENI", "IYS_FRAME_SMS", "IYS_SOME_NEW_CHANNEL_2"];
    for (i, source) in sources.iter().enumerate() {
        citizen(&c, &phone(i), "ONAY", json!({ "source": source }));
    }
    let list = c.get(&brand("/consents/changes?source=IYS")).body["list"].as_array().unwrap().clone();
    let got: Vec<&str> = list.iter().map(|m| m["source"].as_str().unwrap()).collect();
    assert_eq!(got, sources);
    assert_eq!(c.get(&brand("/consents/changes?source=HS")).status, 204, "not the service provider's own");
    for bad in ["HS_WEB", "IYS_", "iys_web", "IYS_WEB SMS", "WEB"] {
        let r = c.post("/admin/citizen-change", &json!({"iysCode": IYS, "brandCode": BRAND, "recipient": phone(9), "type": "MESAJ", "status": "ONAY", "source": bad}));
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    // The API still refuses IYS_* sources from the service provider (H119).
    let mut mine = consent(&phone(9), "MESAJ", "ONAY");
    mine["source"] = json!("IYS_3338");
    assert_error(&c.add(&mine), 422, "H119");
}

#[test]
fn operator_line_closure_is_a_ret_that_keeps_the_consent_date() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let mut onay = consent(&phone(1), "MESAJ", "ONAY");
    onay["consentDate"] = json!(tr_ago(86_400));
    assert_eq!(c.add(&onay).status, 200);
    sim.advance_clock(5);
    let r = c.post("/admin/citizen-change", &json!({"iysCode": IYS, "brandCode": BRAND, "recipient": phone(1), "type": "MESAJ", "source": "IYS_AHS_HAT_KAPATMA"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = c.status_of(&phone(1), "MESAJ", "BIREYSEL").body;
    assert_eq!((stored["status"].as_str(), stored["source"].as_str()), (Some("RET"), Some("IYS_AHS_HAT_KAPATMA")));
    assert_eq!(stored["consentDate"], onay["consentDate"], "the stored consent's date, not a new one");
    let change = &c.get(&brand("/consents/changes?source=IYS")).body["list"][0];
    assert_eq!(change["consentDate"], onay["consentDate"]);
    assert_eq!((change["status"].as_str(), change["source"].as_str()), (Some("RET"), Some("IYS_AHS_HAT_KAPATMA")));
    assert_eq!(change["transactionId"], r.body["transactionId"]);
    // Explicit RET is fine; ONAY, a date of its own, or no consent to close are refused.
    let base = json!({"iysCode": IYS, "brandCode": BRAND, "type": "MESAJ", "source": "IYS_AHS_HAT_KAPATMA"});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        c.post("/admin/citizen-change", &b)
    };
    assert_eq!(with(json!({"recipient": phone(1), "status": "ONAY"})).status, 400);
    assert_eq!(with(json!({"recipient": phone(1), "consentDate": tr_ago(1)})).status, 400);
    assert_eq!(with(json!({"recipient": phone(2), "status": "RET"})).status, 400, "nothing stored for this line");
    assert_eq!(with(json!({"recipient": phone(1), "status": "RET"})).status, 200);
}
