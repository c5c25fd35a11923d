//! The daily movement file (`GET .../changes/{reportDate}/file`) and `/admin/seed`, the
//! movements IYS held before a test began.

use serde_json::{json, Value};

use crate::common::*;
use iys_sim::Config;

const HEADER: &str = "creationDate,transactionId,recipient,recipientType,type,status,consentDate,source";

/// `/sps/{IYS}/brands/{BRAND}/changes/{date}/file`.
fn file_path(date: &str) -> String {
    brand(&format!("/changes/{date}/file"))
}

fn seed(c: &Client, movements: Value) -> Vec<String> {
    let r = c.post("/admin/seed", &movements);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().unwrap().iter().map(|a| a["transactionId"].as_str().unwrap().to_string()).collect()
}

fn tx(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["transactionId"].as_str().unwrap().to_string()
}

#[test]
fn daily_file_lists_a_turkey_day_of_movements_oldest_first() {
    // Tokens outlive the two simulated days the test moves through.
    let sim = start(Config { token_ttl_secs: 30 * 86_400, ..test_config() });
    let c = Client::logged_in(&sim);
    freeze_at(&c, "2024-03-05 23:59:58");
    let mut hs = consent(&phone(1), "MESAJ", "ONAY");
    hs["consentDate"] = json!("2024-03-05 10:00:00");
    let tx1 = tx(&c.add(&hs));
    sim.advance_clock(1);
    let citizen = c.post("/admin/citizen-change", &json!({"iysCode": IYS, "brandCode": BRAND, "recipient": phone(1), "type": "MESAJ", "status": "RET"}));
    let tx2 = tx(&citizen);
    sim.advance_clock(2); // 2024-03-06 00:00:01: the next day's file
    let mut next_day = consent(&phone(2), "MESAJ", "ONAY");
    next_day["consentDate"] = json!("2024-03-06 00:00:00");
    let tx3 = tx(&c.add(&next_day));
    let other_brand = c.post(&format!("/sps/{IYS}/brands/700002/consents"), &next_day);
    assert_eq!(other_brand.status, 200, "{}", other_brand.text);
    let seeded = seed(
        &c,
        json!([
            // First second of the day, a TACIR consent without a date, missed by the pull.
            {"iysCode": IYS, "brandCode": BRAND, "recipient": phone(3), "recipientType": "TACIR", "type": "MESAJ", "status": "ONAY",
             "source": "HS_FIZIKSEL_ORTAM", "creationDate": "2024-03-05 00:00:00", "inPull": false},
            // Last second of the day before.
            {"iysCode": IYS, "brandCode": BRAND, "recipient": phone(4), "type": "MESAJ", "status": "ONAY",
             "source": "HS_2015", "consentDate": "2015-05-01 00:00:00", "creationDate": "2024-03-04 23:59:59"},
        ]),
    );
    freeze_at(&c, "2024-03-07 10:00:00");

    let day = c.get(&file_path("2024-03-05"));
    assert_eq!(day.status, 200, "{}", day.text);
    assert!(day.content_type.starts_with("text/csv"), "{}", day.content_type);
    let expected = [
        HEADER.to_string(),
        format!("2024-03-05 00:00:00,{},{},TACIR,MESAJ,ONAY,,HS_FIZIKSEL_ORTAM", seeded[0], phone(3)),
        format!("2024-03-05 23:59:58,{tx1},{},BIREYSEL,MESAJ,ONAY,2024-03-05 10:00:00,HS_WEB", phone(1)),
        format!("2024-03-05 23:59:59,{tx2},{},BIREYSEL,MESAJ,RET,2024-03-05 23:59:59,IYS_WEB", phone(1)),
    ];
    assert_eq!(day.text, expected.join("\n") + "\n", "the file ends with \\n");
    let next = c.get(&file_path("2024-03-06"));
    assert_eq!(next.text, format!("{HEADER}\n2024-03-06 00:00:01,{tx3},{},BIREYSEL,MESAJ,ONAY,2024-03-06 00:00:00,HS_WEB\n", phone(2)), "only this brand");
    let before = c.get(&file_path("2024-03-04"));
    assert_eq!(before.text, format!("{HEADER}\n2024-03-04 23:59:59,{},{},BIREYSEL,MESAJ,ONAY,2015-05-01 00:00:00,HS_2015\n", seeded[1], phone(4)));
    let quiet = c.get(&file_path("2024-03-03"));
    assert_eq!((quiet.status, quiet.text.as_str()), (200, format!("{HEADER}\n").as_str()), "a day without movements");

    // Today's file is made tonight; later days have none either.
    for date in ["2024-03-07", "2024-03-08", "2030-01-01"] {
        let r = c.get(&file_path(date));
        assert_eq!((r.status, r.text.as_str()), (204, ""), "{date}");
    }
    // Seven days back is the oldest file.
    assert_eq!(c.get(&file_path("2024-02-29")).text, format!("{HEADER}\n"));
    let old = c.get(&file_path("2024-02-28"));
    assert_error(&old, 422, "H502");
    assert_eq!(old.body["errors"][0]["location"], json!(["reportDate"]));
    assert_eq!(old.body["errors"][0]["value"], "2024-02-28");
    assert_eq!(old.body["errors"][0]["message"], "reportDate alanı en fazla 7 gün önce olabilir.");
    for bad in ["06.07.2020", "2024-02-30", "2024-3-01", "yesterday"] {
        let r = c.get(&file_path(bad));
        assert_error(&r, 422, "H501");
        assert_eq!(r.body["errors"][0]["value"], bad);
        assert_eq!(r.body["errors"][0]["location"], json!(["reportDate"]));
    }
    // The day boundary is Turkey's midnight (21:00 UTC).
    freeze_at(&c, "2024-03-08 00:00:00");
    assert_eq!(c.get(&file_path("2024-03-07")).status, 200, "yesterday's file exists from midnight on");
}

#[test]
fn daily_file_goes_through_the_checks_of_every_brand_call() {
    let sim = start(Config { rate_limit_per_sec: Some(3), ..test_config() });
    let next_second = || std::thread::sleep(std::time::Duration::from_millis(1100));
    let c = Client::logged_in(&sim);
    let yesterday = file_path(&tr_ago(86_400)[..10]);
    let mut anon = Client::new(&sim);
    anon.token = Some("not-a-token".into());
    assert_error(&anon.get(&yesterday), 401, "H351");
    next_second();
    assert_error(&c.get("/sps/abc/brands/1/changes/2024-03-05/file"), 422, "H190");
    assert_eq!(c.send("POST", &yesterday, None, None).status, 405);
    c.post("/admin/faults", &json!({"account_refusal": {"status": 403, "code": "H521"}}));
    assert_error(&c.get(&yesterday), 403, "H521");
    c.delete("/admin/faults");
    next_second();
    let answers: Vec<Resp> = (0..4).map(|_| c.get(&yesterday)).collect();
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 429], "3 requests a second here (IYS: 10)");
    assert_eq!(answers[3].codes(), ["H124"]);
}

#[test]
fn seeded_movements_back_the_status_queries_and_the_file_and_skip_the_pull_when_missed() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let movement = |recipient: &str, ty: &str, status: &str, source: &str, created_secs_ago: i64, extra: Value| {
        let mut m = json!({"iysCode": IYS, "brandCode": BRAND, "recipient": recipient, "type": ty, "status": status,
                           "source": source, "creationDate": tr_ago(created_secs_ago)});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    let seeded = seed(
        &c,
        json!([
            // Given years before pg_iys was installed: no H467.
            movement(&phone(1), "MESAJ", "ONAY", "HS_ISLAK_IMZA", 0, json!({"consentDate": "2019-06-01 10:00:00", "creationDate": "2019-06-01 10:05:00"})),
            // A first record that is a RET (no H175), missed by the pull.
            movement(&phone(2), "MESAJ", "RET", "IYS_3338", 3600, json!({"inPull": false})),
            movement(&phone(3), "MESAJ", "ONAY", "HS_WEB", 7200, json!({"consentDate": tr_ago(7200)})),
            movement("Seed@Example.COM", "EPOSTA", "ONAY", "IYS_WEB", 600, json!({})),
            movement(&phone(5), "MESAJ", "ONAY", "IYS_KISA_LINK", 60, json!({"inPull": false})),
        ]),
    );
    assert_eq!(seeded.len(), 5);

    let multi = c.post(&brand("/consents/BIREYSEL/status/MESAJ"), &json!({"recipients": [phone(1), phone(2), phone(3), phone(5), phone(6)]}));
    assert_eq!(multi.body["list"], json!([phone(1), phone(3), phone(5)]), "{}", multi.text);
    let old = c.status_of(&phone(1), "MESAJ", "BIREYSEL").body;
    assert_eq!((old["status"].as_str(), old["source"].as_str()), (Some("ONAY"), Some("HS_ISLAK_IMZA")));
    assert_eq!((old["consentDate"].as_str(), old["creationDate"].as_str()), (Some("2019-06-01 10:00:00"), Some("2019-06-01 10:05:00")));
    assert_eq!(old["transactionId"].as_str(), Some(seeded[0].as_str()));
    assert_eq!(c.status_of("seed@example.com", "EPOSTA", "BIREYSEL").body["status"], "ONAY", "normalised as everywhere");
    assert_eq!(c.status_of(&phone(2), "MESAJ", "BIREYSEL").body["status"], "RET");
    let undated = c.status_of(&phone(5), "MESAJ", "BIREYSEL").body;
    assert_eq!(undated["consentDate"], undated["creationDate"], "a BIREYSEL consent without a date is dated when created");

    // The pull: the 2019 movement is outside its 7 days, the missed ones never show.
    let pulled = |source: &str| -> Vec<String> {
        let r = c.get(&brand(&format!("/consents/changes?source={source}")));
        r.body["list"].as_array().map(|l| l.iter().map(|m| m["transactionId"].as_str().unwrap().to_string()).collect()).unwrap_or_default()
    };
    assert_eq!(pulled("HS"), vec![seeded[2].clone()]);
    assert_eq!(pulled("IYS"), vec![seeded[3].clone()]);
    let history = c.get("/admin/history").body;
    let in_pull: Vec<(&str, bool)> = history.as_array().unwrap().iter().map(|m| (m["endpoint"].as_str().unwrap(), m["inPull"].as_bool().unwrap())).collect();
    assert_eq!(in_pull, [("admin/seed", true), ("admin/seed", false), ("admin/seed", true), ("admin/seed", true), ("admin/seed", false)]);

    // Seeds may come in any order: an older movement never replaces a later stored one.
    seed(&c, json!([movement(&phone(1), "MESAJ", "RET", "HS_KARAR", 0, json!({"consentDate": "2018-01-01 00:00:00", "creationDate": "2018-01-01 00:00:00"}))]));
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").body["transactionId"].as_str(), Some(seeded[0].as_str()));
    seed(&c, json!([movement(&phone(1), "MESAJ", "RET", "IYS_WEB", 30, json!({}))]));
    assert_eq!(c.status_of(&phone(1), "MESAJ", "BIREYSEL").body["status"], "RET");

    // Later API adds meet the seeded consent under IYS's usual rules.
    let mut stale = consent(&phone(3), "MESAJ", "RET");
    stale["consentDate"] = json!(tr_ago(3 * 3600));
    assert_error(&c.add(&stale), 400, "H178");
}

#[test]
fn a_seed_list_with_one_bad_movement_stores_nothing() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let good = json!({"iysCode": IYS, "brandCode": BRAND, "recipient": phone(1), "type": "MESAJ", "status": "ONAY", "source": "HS_WEB"});
    let with = |field: &str, value: Value| {
        let mut m = good.clone();
        if value.is_null() {
            m.as_object_mut().unwrap().remove(field);
        } else {
            m[field] = value;
        }
        m
    };
    let bad = [
        with("recipient", json!("+9005321234567")),
        with("recipient", Value::Null),
        with("status", json!("BEKLIYOR")),
        with("type", json!("SMS")),
        with("source", json!("WEB")),
        with("source", Value::Null),
        with("inpull", json!(false)),
        with("inPull", json!("no")),
        with("creationDate", json!(tr_ago(-3600))),
        with("creationDate", json!("2024-03-01T10:00:00")),
        with("consentDate", json!("01.03.2024")),
        with("brandCode", json!("x")),
    ];
    for movement in bad {
        let r = c.post("/admin/seed", &json!([good, movement]));
        assert_eq!((r.status, r.body["index"].as_u64()), (400, Some(1)), "{movement}: {}", r.text);
    }
    assert_eq!(c.post("/admin/seed", &good).status, 400, "a list, not one movement");
    assert_eq!(c.get("/admin/history").body, json!([]), "nothing stored");
    // TACIR may go without source and consentDate, as IYS keeps it.
    let tacir = json!([{"iysCode": IYS, "brandCode": BRAND, "recipient": phone(1), "recipientType": "TACIR", "type": "MESAJ", "status": "ONAY"}]);
    seed(&c, tacir);
    let stored = c.status_of(&phone(1), "MESAJ", "TACIR").body;
    assert_eq!((stored["status"].as_str(), stored.get("consentDate"), stored.get("source")), (Some("ONAY"), None, None));
}
