//! İLETİ ViA: starting a request (every validation code, in IYS's order, with each code's body
//! shape), its status while waiting and once completed, approval on the short link's page
//! (admin), OTP confirmation, expiry, the consents an approval creates, and the e-mail opt-out
//! links (`via-hash-links`).

use serde_json::{json, Value};

use crate::common::*;
use crate::push::{push_config, register, wait_until, Auth, Receiver};

/// `/via/sps/{IYS}` + rest.
fn via(rest: &str) -> String {
    format!("/via/sps/{IYS}{rest}")
}

fn etk(types: &[&str]) -> Value {
    json!({"title": "ETK", "brandCodes": [BRAND], "types": types, "recipientType": "BIREYSEL"})
}

fn kvk(types: &[&str]) -> Value {
    json!({"title": "KVK", "types": types, "personData": {"name": "Aslı Can", "recipientIdNumber": "11111111111", "address": "Çankaya Ankara"}})
}

/// A start body; formId as the document's examples send it, a numeric string.
fn body(verification: &str, recipient: &str, consent_types: Value) -> Value {
    json!({"formId": "1", "recipient": recipient, "verificationType": verification, "consentTypes": consent_types})
}

/// Starts a request and returns its id.
fn start_ok(c: &Client, b: &Value) -> String {
    let r = c.post(&via("/consent"), b);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["code"], "OK");
    let id = r.body["message"]["requestId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "{id}");
    id
}

fn status_of_request(c: &Client, id: &str) -> Value {
    let r = c.get(&via(&format!("/consent/request/{id}")));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["code"], "OK");
    r.body["message"].clone()
}

fn admin(c: &Client, id: &str) -> Value {
    let r = c.get(&format!("/admin/via/{id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn approve(c: &Client, id: &str, choice: Value) -> Resp {
    c.post(&format!("/admin/via/{id}/approve"), &choice)
}

/// `(consentTypeChoice, brandCode, operationStatusMessage)` of each requestDetails item.
fn details(message: &Value) -> Vec<(String, String, String)> {
    message["requestDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["consentTypeChoice"].as_str().unwrap().into(), d["brandCode"].as_str().unwrap_or("-").into(), d["operationStatusMessage"].as_str().unwrap().into()))
        .collect()
}

fn last_status(message: &Value) -> (String, String) {
    (message["lastStatus"]["stage"].as_str().unwrap().into(), message["lastStatus"]["status"].as_str().unwrap().into())
}

/// The code of any of the three shapes, and which shape it was.
fn code_and_shape(r: &Resp) -> (String, &'static str) {
    match &r.body["errors"] {
        Value::Array(a) => (a[0]["code"].as_str().unwrap_or("").into(), "list"),
        Value::Object(o) => (o["code"].as_str().unwrap_or("").into(), "object"),
        _ => (r.body["code"].as_str().unwrap_or("").into(), "flat"),
    }
}

fn assert_via_error(r: &Resp, status: u16, code: &str, shape: &str) {
    assert_eq!(r.status, status, "expected {status} {code}: {}", r.text);
    assert_eq!(code_and_shape(r), (code.to_string(), shape), "{}", r.text);
}

/// The message of a one-error answer, whatever its shape.
fn message_of(r: &Resp) -> String {
    let e = match &r.body["errors"] {
        Value::Array(a) => a[0].clone(),
        Value::Object(_) => r.body["errors"].clone(),
        _ => r.body.clone(),
    };
    e["message"].as_str().unwrap_or("").to_string()
}

/// (what is wrong, body, HTTP status, code, shape, message if checked)
type Case = (&'static str, Value, u16, &'static str, &'static str, Option<&'static str>);

#[test]
fn start_checks_every_field_in_order() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let good = body("SMS_SHORTURL", &phone(1), json!([etk(&["MESAJ", "ARAMA"]), kvk(&["AYDINLATMA_METNI"])]));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: Vec<Case> = vec![
        ("a list", json!([]), 400, "H1016", "list", Some("Gönderilen istek JSON formatına uygun olmalıdır.")),
        ("no consentTypes", with(&|b| { b.as_object_mut().unwrap().remove("consentTypes"); }), 400, "H1057", "list", Some("consentTypes alanı boş veya null olmamalıdır.")),
        ("empty consentTypes and no recipient", with(&|b| { b["consentTypes"] = json!([]); b.as_object_mut().unwrap().remove("recipient"); }), 400, "H1057", "list", Some("consentTypes alanı boş veya null olmamalıdır.")),
        ("blank recipient", with(&|b| b["recipient"] = json!(" ")), 400, "H1057", "list", Some("recipient alanı boş veya null olmamalıdır.")),
        ("no verificationType", with(&|b| { b.as_object_mut().unwrap().remove("verificationType"); }), 400, "H1057", "list", Some("verificationType alanı boş veya null olmamalıdır.")),
        ("no formId", with(&|b| { b.as_object_mut().unwrap().remove("formId"); }), 400, "H1005", "list", Some("formId bulunamadı.")),
        ("bad verificationType and recipient", with(&|b| { b["verificationType"] = json!("SMS"); b["recipient"] = json!("x"); }), 400, "H1012", "list", None),
        ("an e-mail for SMS", with(&|b| b["recipient"] = json!("ali@example.com")), 400, "H1026", "list", None),
        ("a landline for SMS", with(&|b| b["recipient"] = json!("+902121230000")), 400, "H1026", "list", None),
        ("a phone for e-mail", with(&|b| { b["verificationType"] = json!("EPOSTA_OTP"); b["consentTypes"] = json!([etk(&["EPOSTA"])]); b["recipient"] = json!(phone(1)); }), 400, "H1027", "list", None),
        ("formId not a number", with(&|b| b["formId"] = json!("bir")), 400, "H1029", "list", None),
        ("title missing", with(&|b| b["consentTypes"] = json!([{"types": ["MESAJ"]}])), 400, "H1005", "list", Some("title bulunamadı.")),
        ("title SADAKAT", with(&|b| b["consentTypes"][1]["title"] = json!("SADAKAT")), 400, "H1013", "list", Some("title alanı için gereken değerler: ETK, KVK olmalıdır.")),
        ("ETK twice", with(&|b| b["consentTypes"][1] = etk(&["MESAJ"])), 400, "H1060", "list", None),
        ("no brandCodes", with(&|b| { b["consentTypes"][0].as_object_mut().unwrap().remove("brandCodes"); }), 400, "H1057", "list", Some("brandCodes alanı boş veya null olmamalıdır.")),
        ("brand 0", with(&|b| b["consentTypes"][0]["brandCodes"] = json!([BRAND, 0])), 400, "H1014", "list", None),
        ("brand as text", with(&|b| b["consentTypes"][0]["brandCodes"] = json!(["x"])), 400, "H1014", "list", None),
        ("no recipientType", with(&|b| { b["consentTypes"][0].as_object_mut().unwrap().remove("recipientType"); }), 400, "H1057", "list", Some("recipientType alanı boş veya null olmamalıdır.")),
        ("recipientType BİREYSEL", with(&|b| b["consentTypes"][0]["recipientType"] = json!("BİREYSEL")), 400, "H1063", "list", None),
        ("no ETK types", with(&|b| b["consentTypes"][0]["types"] = json!([])), 400, "H1057", "list", Some("etkTypes alanı boş veya null olmamalıdır.")),
        ("ETK type FAX", with(&|b| b["consentTypes"][0]["types"] = json!(["MESAJ", "FAX"])), 400, "H1085", "flat", None),
        ("EPOSTA by SMS", with(&|b| b["consentTypes"][0]["types"] = json!(["EPOSTA"])), 400, "H1086", "flat", Some("Girdiğiniz 'EPOSTA' izin tipi, doğrulama tipi 'SMS_SHORTURL' ile uyuşmamaktadır. Uyuşan geçerli değerler: [MESAJ, ARAMA]")),
        ("MESAJ by e-mail", with(&|b| { b["verificationType"] = json!("EPOSTA_SHORTURL"); b["recipient"] = json!("ali@example.com"); b["consentTypes"][0]["types"] = json!(["MESAJ"]); }), 400, "H1086", "flat", None),
        ("EPOSTA twice", with(&|b| { b["verificationType"] = json!("EPOSTA_APPROVALURL"); b["recipient"] = json!("ali@example.com"); b["consentTypes"][0]["types"] = json!(["EPOSTA", "EPOSTA"]); }), 400, "H1066", "flat", Some("İstekte verilen ETK izni EPOSTA tipi için yalnızca bir adet olmalıdır.")),
        ("no KVK types", with(&|b| { b["consentTypes"][1].as_object_mut().unwrap().remove("types"); }), 400, "H1057", "list", Some("kvkTypes alanı boş veya null olmamalıdır.")),
        ("KVK type MESAJ", with(&|b| b["consentTypes"][1]["types"] = json!(["MESAJ"])), 400, "H1085", "flat", None),
        ("no personData", with(&|b| { b["consentTypes"][1].as_object_mut().unwrap().remove("personData"); }), 400, "H1090", "flat", Some("JSON verisinde eksik alanlar: personData.name")),
        ("blank name", with(&|b| b["consentTypes"][1]["personData"]["name"] = json!("")), 400, "H1090", "flat", None),
        ("10-digit identity number", with(&|b| b["consentTypes"][1]["personData"]["recipientIdNumber"] = json!("1111111111")), 400, "H1096", "flat", None),
        ("identity number starting 0", with(&|b| b["consentTypes"][1]["personData"]["recipientIdNumber"] = json!("01111111111")), 400, "H1096", "flat", None),
    ];
    for (what, b, status, code, shape, message) in &cases {
        let r = c.post(&via("/consent"), b);
        assert_eq!(r.status, *status, "{what}: {}", r.text);
        assert_eq!(code_and_shape(&r), (code.to_string(), *shape), "{what}: {}", r.text);
        if let Some(m) = message {
            assert_eq!(message_of(&r), *m, "{what}");
        }
    }
    // The flat shape carries the offending value.
    let fax = c.post(&via("/consent"), &with(&|b| b["consentTypes"][0]["types"] = json!(["FAX"])));
    assert_eq!(fax.body["value"], "FAX", "{}", fax.text);
    assert!(fax.body["message"].as_str().unwrap().starts_with("Geçersiz izin tipi: FAX."), "{}", fax.text);
    let id = c.post(&via("/consent"), &with(&|b| b["consentTypes"][1]["personData"]["recipientIdNumber"] = json!(12345)));
    assert_eq!((id.body["code"].as_str(), &id.body["value"]), (Some("H1096"), &json!(12345)), "{}", id.text);
    // Broken JSON is H1016 too.
    let broken = c.post_raw(&via("/consent"), "application/json", "{broken");
    assert_via_error(&broken, 400, "H1016", "list");
    // Nothing refused was kept.
    assert_eq!(c.get("/admin/via").body, json!([]));
    // The document's own example bodies are taken (formId as a string or a number).
    start_ok(&c, &good);
    start_ok(&c, &with(&|b| b["formId"] = json!(1191)));
    start_ok(&c, &body("EPOSTA_APPROVALURL", "Test@IYS.org.tr", json!([etk(&["EPOSTA"])])));
    start_ok(&c, &body("SMS_OTP", &phone(2), json!([kvk(&["ACIK_RIZA_METNI", "YURTDISI_AKTARIM"])])));
    assert_eq!(c.get("/admin/via").body.as_array().map(Vec::len), Some(4));
}

#[test]
fn the_account_and_token_are_checked_first() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let good = body("SMS_SHORTURL", &phone(1), json!([etk(&["MESAJ"])]));
    let not_ours = c.post("/via/sps/abc/consent", &good);
    assert_via_error(&not_ours, 403, "H1040", "list");
    assert_eq!(message_of(&not_ours), "iysCode, kullanıcı izinleriyle eşleştirilemiyor.");
    let anon = Client::new(&sim);
    assert_via_error(&anon.post(&via("/consent"), &good), 401, "H1045", "list");
    assert_via_error(&anon.get(&via("/consent/request/x-1")), 401, "H1045", "list");
    assert_eq!(c.get(&via("/consent")).status, 405);
    assert_eq!(c.get(&via("/consent/abc-1")).status, 404, "getKVKConsent is not served");
}

#[test]
fn a_short_link_approved_creates_the_consents() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    c.post("/admin/config", &json!({"changes_holdback_secs": 3600}));
    let other_brand = BRAND + 1;
    let mut etk_part = etk(&["MESAJ", "ARAMA"]);
    etk_part["brandCodes"] = json!([BRAND, other_brand]);
    let id = start_ok(&c, &body("SMS_SHORTURL", &phone(1), json!([etk_part, kvk(&["AYDINLATMA_METNI", "ACIK_RIZA_METNI"])])));

    // Waiting: the SMS went out.
    let waiting = status_of_request(&c, &id);
    assert_eq!(last_status(&waiting), ("CONSENT_REQUESTED".into(), "PENDING".into()));
    let (b1, b2) = (BRAND.to_string(), other_brand.to_string());
    let expected = |msg: &str, kvk_msg: &str| -> Vec<(String, String, String)> {
        let mut v: Vec<(String, String, String)> = [(&b1, "MESAJ"), (&b1, "ARAMA"), (&b2, "MESAJ"), (&b2, "ARAMA")].iter().map(|(b, t)| (t.to_string(), b.to_string(), msg.to_string())).collect();
        v.extend(["AYDINLATMA_METNI", "ACIK_RIZA_METNI"].iter().map(|t| (t.to_string(), "-".to_string(), kvk_msg.to_string())));
        v
    };
    assert_eq!(details(&waiting), expected("Onay bekleniyor", "Onay bekleniyor"));
    assert_eq!(waiting["requestId"], id.as_str());
    assert_eq!(waiting["formId"], "1");
    assert_eq!(waiting["iysCode"], IYS.to_string());
    assert_eq!(waiting["source"], "IYS_KISAMESAJ");
    assert_eq!(waiting["consentSource"], "SMS_SHORTURL");
    assert_eq!(waiting["recipient"], phone(1));
    assert_eq!(waiting["recipientType"], "BIREYSEL");
    assert_eq!(waiting["recipientName"], "Aslı Can");
    assert_eq!(waiting["recipientIdNumber"], "11111111111");
    let date = waiting["requestDate"].as_str().unwrap();
    assert!(date.len() == 23 && date.as_bytes()[19] == b'.' && iys_sim::clock::parse_local(&date[..19]).is_ok(), "{date}");
    assert!(admin(&c, &id).get("otpCodes").is_none(), "a short link has no OTP codes");
    assert_eq!(c.get("/admin/consents").body, json!([]), "nothing before the recipient approves");

    // The recipient approves everything on the link's page.
    let approved = approve(&c, &id, json!({}));
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.body["state"], "COMPLETED");
    let done = status_of_request(&c, &id);
    assert_eq!(last_status(&done), ("COMPLETED".into(), "SUCCESS".into()));
    assert_eq!(details(&done), expected("Onay verildi", "Onay verildi"));
    let now = tr_ago(0);
    for d in done["requestDetails"].as_array().unwrap() {
        assert_eq!(d["transactionId"].as_str().map(str::len), Some(64), "{d}");
        assert_eq!(d["consentDate"].as_str().map(|s| &s[..13]), Some(&now[..13]), "{d}");
    }

    // Each brand × type is a consent, like a change made in IYS.
    let consents = c.get(&format!("/admin/consents?recipient={}", phone(1).replace('+', "%2B"))).body;
    let rows: Vec<(u64, String, String, String)> = consents
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["brandCode"].as_u64().unwrap(), r["type"].as_str().unwrap().into(), r["status"].as_str().unwrap().into(), r["source"].as_str().unwrap().into()))
        .collect();
    assert_eq!(rows.len(), 4, "{consents}");
    for (brand, ty) in [(BRAND, "MESAJ"), (BRAND, "ARAMA"), (other_brand, "MESAJ"), (other_brand, "ARAMA")] {
        assert!(rows.contains(&(brand, ty.into(), "ONAY".into(), "IYS_KISAMESAJ".into())), "{brand} {ty}: {rows:?}");
    }
    let st = c.status_of(&phone(1), "MESAJ", "BIREYSEL");
    assert_eq!((st.body["status"].as_str(), st.body["source"].as_str()), (Some("ONAY"), Some("IYS_KISAMESAJ")), "{}", st.text);

    // The pull lists them after the hold-back, with the transactionIds of the request.
    let pull = brand("/consents/changes?source=IYS");
    assert_eq!(c.get(&pull).status, 204, "held back for an hour");
    sim.advance_clock(3601);
    let changes = c.get(&pull);
    assert_eq!(changes.status, 200, "{}", changes.text);
    let mesaj = changes.body["list"].as_array().unwrap().iter().find(|m| m["type"] == "MESAJ").cloned().unwrap();
    let detail_tx = done["requestDetails"][0]["transactionId"].clone();
    assert_eq!(mesaj["transactionId"], detail_tx);
    assert_eq!((mesaj["source"].as_str(), mesaj["status"].as_str()), (Some("IYS_KISAMESAJ"), Some("ONAY")));
    assert_eq!(changes.body["list"].as_array().map(Vec::len), Some(2), "this brand's two types");
    let history = c.get("/admin/history").body;
    assert!(history.as_array().unwrap().iter().all(|m| m["endpoint"] == "via/consent" && m["byCitizen"] == true), "{history}");

    // Completed: neither approval nor the OTP confirmation apply any more.
    assert_eq!(approve(&c, &id, json!({})).status, 409);
    assert_eq!(c.post(&format!("/admin/via/{id}/ignore"), &json!({})).status, 409);
    let confirm = c.post(&via("/confirmation"), &json!({"requestId": id, "verificationType": "SMS_SHORTURL", "consentTypes": [{"title": "ETK", "otpCode": "123456"}]}));
    assert_via_error(&confirm, 400, "H1032", "object");
}

#[test]
fn a_partial_approval_leaves_the_rest_unapproved() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let id = start_ok(&c, &body("SMS_SHORTURL", &phone(1), json!([etk(&["MESAJ", "ARAMA"]), kvk(&["AYDINLATMA_METNI", "ACIK_RIZA_METNI"])])));
    let refused = approve(&c, &id, json!({"types": ["EPOSTA"]}));
    assert_eq!(refused.status, 400, "not requested: {}", refused.text);
    assert_eq!(approve(&c, &id, json!({"kvkTypes": ["YURTDISI_AKTARIM"]})).status, 400);
    assert_eq!(approve(&c, "no-such-id", json!({})).status, 404);
    let r = approve(&c, &id, json!({"types": ["MESAJ"], "kvkTypes": ["AYDINLATMA_METNI"]}));
    assert_eq!(r.status, 200, "{}", r.text);
    let done = status_of_request(&c, &id);
    assert_eq!(last_status(&done), ("COMPLETED".into(), "SUCCESS".into()));
    let b = BRAND.to_string();
    assert_eq!(
        details(&done),
        vec![
            ("MESAJ".into(), b.clone(), "Onay verildi".into()),
            ("ARAMA".into(), b, "Onay verilmedi".into()),
            ("AYDINLATMA_METNI".into(), "-".into(), "Onay verildi".into()),
            ("ACIK_RIZA_METNI".into(), "-".into(), "Onay verilmedi".into()),
        ]
    );
    assert!(done["requestDetails"][1].get("transactionId").is_none());
    let consents = c.get("/admin/consents").body;
    assert_eq!(consents.as_array().map(Vec::len), Some(1), "{consents}");
    assert_eq!(consents[0]["type"], "MESAJ");

    // Approving nothing: the recipient rejected every item.
    let none = start_ok(&c, &body("SMS_SHORTURL", &phone(2), json!([etk(&["ARAMA"])])));
    assert_eq!(approve(&c, &none, json!({"types": [], "kvkTypes": []})).status, 200);
    let rejected = status_of_request(&c, &none);
    assert_eq!(last_status(&rejected), ("COMPLETED".into(), "REJECTED".into()));
    assert_eq!(details(&rejected), vec![("ARAMA".into(), BRAND.to_string(), "Onay verilmedi".into())]);
    assert_eq!(c.get("/admin/consents").body.as_array().map(Vec::len), Some(1));
}

#[test]
fn unanswered_requests_expire() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let ignore = |id: &str| {
        let r = c.post(&format!("/admin/via/{id}/ignore"), &json!({}));
        assert_eq!(r.status, 200, "{}", r.text);
        last_status(&status_of_request(&c, id))
    };
    let otp = start_ok(&c, &body("SMS_OTP", &phone(1), json!([etk(&["MESAJ"])])));
    assert_eq!(ignore(&otp), ("COMPLETED".into(), "OTP_CODE_EXPIRED".into()));
    let short = start_ok(&c, &body("EPOSTA_SHORTURL", "ali@example.com", json!([etk(&["EPOSTA"])])));
    assert_eq!(ignore(&short), ("COMPLETED".into(), "SHORT_URL_EXPIRED".into()));
    let approval = start_ok(&c, &body("EPOSTA_APPROVALURL", "ali@example.com", json!([kvk(&["ACIK_RIZA_METNI"])])));
    assert_eq!(ignore(&approval), ("COMPLETED".into(), "LINK_CLICK_TIMEOUT".into()));
    assert_eq!(details(&status_of_request(&c, &otp)), vec![("MESAJ".into(), BRAND.to_string(), "Onay verilmedi".into())]);

    // On the simulated clock: an OTP is valid 3 minutes, a link 24 hours.
    let otp = start_ok(&c, &body("EPOSTA_OTP", "ali@example.com", json!([etk(&["EPOSTA"])])));
    let link = start_ok(&c, &body("SMS_SHORTURL", &phone(2), json!([etk(&["ARAMA"])])));
    let code = admin(&c, &otp)["otpCodes"]["ETK"].as_str().unwrap().to_string();
    sim.advance_clock(181);
    assert_eq!(last_status(&status_of_request(&c, &otp)), ("COMPLETED".into(), "OTP_CODE_EXPIRED".into()));
    let late = c.post(&via("/confirmation"), &json!({"requestId": otp, "verificationType": "EPOSTA_OTP", "consentTypes": [{"title": "ETK", "otpCode": code}]}));
    assert_via_error(&late, 400, "H1032", "object");
    assert_eq!(last_status(&status_of_request(&c, &link)).1, "PENDING");
    sim.advance_clock(24 * 3600);
    let c = Client::logged_in(&sim); // the access token lasts two hours
    assert_eq!(last_status(&status_of_request(&c, &link)), ("COMPLETED".into(), "SHORT_URL_EXPIRED".into()));
    assert_eq!(approve(&c, &link, json!({})).status, 409);
    assert_eq!(c.get("/admin/consents").body, json!([]));
    let states: Vec<Value> = c.get("/admin/via").body.as_array().unwrap().iter().map(|r| r["state"].clone()).collect();
    assert_eq!(states, vec![json!("COMPLETED"); 5]);
}

#[test]
fn otp_codes_confirm_the_request() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let id = start_ok(&c, &body("EPOSTA_OTP", "Ali.Veli@Example.com", json!([etk(&["EPOSTA"]), kvk(&["YURTDISI_AKTARIM", "ACIK_RIZA_METNI"])])));
    let a = admin(&c, &id);
    assert_eq!(a["recipient"], "ali.veli@example.com", "normalised as the store does");
    let (etk_code, kvk_code) = (a["otpCodes"]["ETK"].as_str().unwrap().to_string(), a["otpCodes"]["KVK"].as_str().unwrap().to_string());
    assert!(etk_code.len() == 6 && etk_code.bytes().all(|b| b.is_ascii_digit()), "{etk_code}");
    let wrong = format!("{:06}", (etk_code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let confirmation = |vt: &str, etk: &str, kvk: &str| json!({"requestId": id, "verificationType": vt, "consentTypes": [{"title": "ETK", "otpCode": etk}, {"title": "KVK", "otpCode": kvk}]});

    // The confirmation's own checks.
    assert_via_error(&c.post(&via("/confirmation"), &json!([])), 400, "H1016", "list");
    assert_via_error(&c.post(&via("/confirmation"), &json!({"verificationType": "EPOSTA_OTP", "consentTypes": [{"title": "ETK", "otpCode": "1"}]})), 400, "H1057", "list");
    assert_via_error(&c.post(&via("/confirmation"), &confirmation("EPOSTA", &etk_code, &kvk_code)), 400, "H1012", "list");
    let unknown = c.post(&via("/confirmation"), &json!({"requestId": "5b423dd7-bb23-4546-b733-d8273468d972", "verificationType": "EPOSTA_OTP", "consentTypes": [{"title": "ETK", "otpCode": "1"}]}));
    assert_via_error(&unknown, 400, "H1030", "flat");
    assert_eq!(unknown.body["value"], "5b423dd7-bb23-4546-b733-d8273468d972");
    let other_account = c.post(&format!("/via/sps/{}/confirmation", IYS + 1), &confirmation("EPOSTA_OTP", &etk_code, &kvk_code));
    assert_via_error(&other_account, 400, "H1030", "flat");
    assert_via_error(&c.post(&via("/confirmation"), &confirmation("SMS_OTP", &etk_code, &kvk_code)), 400, "H1064", "list");

    // A wrong code: refused with the code given, the request still waits.
    let refused = c.post(&via("/confirmation"), &confirmation("EPOSTA_OTP", &wrong, &kvk_code));
    assert_via_error(&refused, 400, "H1052", "list");
    assert_eq!(refused.body["errors"][0]["value"], wrong.as_str());
    assert_eq!(message_of(&refused), "Girilen otp kodu geçerli değildir.");
    assert_eq!(last_status(&status_of_request(&c, &id)), ("CONSENT_REQUESTED".into(), "OTP_CODE_INCORRECT".into()));
    assert_eq!(c.get("/admin/consents").body, json!([]));

    // The right codes: everything requested is approved.
    let ok = c.post(&via("/confirmation"), &confirmation("EPOSTA_OTP", &etk_code, &kvk_code));
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["code"], "OK");
    let items = ok.body["message"].as_array().unwrap();
    let kinds: Vec<(&str, Option<&str>)> = items.iter().map(|i| (i["type"].as_str().unwrap(), i["brandCode"].as_str())).collect();
    let brand_text = BRAND.to_string();
    assert_eq!(kinds, vec![("EPOSTA", Some(brand_text.as_str())), ("YURTDISI_AKTARIM", None), ("ACIK_RIZA_METNI", None)]);
    assert!(items.iter().all(|i| i["creationDate"].as_str().is_some_and(|d| iys_sim::clock::parse_local(d).is_ok())), "{}", ok.text);
    let done = status_of_request(&c, &id);
    assert_eq!(last_status(&done), ("COMPLETED".into(), "SUCCESS".into()));
    assert_eq!(done["source"], "IYS_EPOSTA");
    assert_eq!(done["requestDetails"][0]["transactionId"], items[0]["transactionId"]);
    assert_eq!(done["requestDetails"][2]["transactionId"], items[2]["transactionId"]);
    let st = c.status_of("ALI.VELI@example.com", "EPOSTA", "BIREYSEL");
    assert_eq!((st.body["status"].as_str(), st.body["source"].as_str()), (Some("ONAY"), Some("IYS_EPOSTA")), "{}", st.text);
    assert_eq!(st.body["transactionId"], items[0]["transactionId"]);
    let pulled = c.get(&brand("/consents/changes?source=IYS"));
    assert_eq!(pulled.body["list"][0]["transactionId"], items[0]["transactionId"], "{}", pulled.text);
    assert_via_error(&c.post(&via("/confirmation"), &confirmation("EPOSTA_OTP", &etk_code, &kvk_code)), 400, "H1032", "object");

    // Only the titles given are approved.
    let both = start_ok(&c, &body("SMS_OTP", &phone(3), json!([etk(&["MESAJ"]), kvk(&["AYDINLATMA_METNI"])])));
    let kvk_only = admin(&c, &both)["otpCodes"]["KVK"].clone();
    let r = c.post(&via("/confirmation"), &json!({"requestId": both, "verificationType": "SMS_OTP", "consentTypes": [{"title": "KVK", "otpCode": kvk_only}]}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(details(&status_of_request(&c, &both)), vec![("MESAJ".into(), BRAND.to_string(), "Onay verilmedi".into()), ("AYDINLATMA_METNI".into(), "-".into(), "Onay verildi".into())]);
}

#[test]
fn three_wrong_codes_end_the_request() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let id = start_ok(&c, &body("SMS_OTP", &phone(1), json!([etk(&["MESAJ", "ARAMA"])])));
    let right = admin(&c, &id)["otpCodes"]["ETK"].as_str().unwrap().to_string();
    let wrong = if right == "000000" { "000001" } else { "000000" };
    let send = |code: &str| c.post(&via("/confirmation"), &json!({"requestId": id, "verificationType": "SMS_OTP", "consentTypes": [{"title": "ETK", "otpCode": code}]}));
    for attempt in 1..=3 {
        assert_via_error(&send(wrong), 400, "H1052", "list");
        assert_eq!(admin(&c, &id)["wrongOtpAttempts"], attempt);
    }
    assert_eq!(last_status(&status_of_request(&c, &id)), ("COMPLETED".into(), "OTP_CODE_INCORRECT".into()));
    let fourth = send(&right);
    assert_via_error(&fourth, 400, "H1050", "object");
    assert_eq!(c.get("/admin/consents").body, json!([]), "a fourth code is not taken even when right");
}

#[test]
fn an_unknown_request_is_h1112() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let r = c.get(&via("/consent/request/5b423dd7-bb23-4546-b733-d8273468d972"));
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body, json!({"message": "İlgili requeste ait request detayı bulunamadı!", "code": "H1112", "value": "5b423dd7-bb23-4546-b733-d8273468d972"}));
    let id = start_ok(&c, &body("SMS_SHORTURL", &phone(1), json!([etk(&["MESAJ"])])));
    let elsewhere = c.get(&format!("/via/sps/{}/consent/request/{id}", IYS + 1));
    assert_via_error(&elsewhere, 404, "H1112", "flat");
}

/// Gives `recipient` an EPOSTA consent in ONAY (and then RET if `ret`).
fn eposta(c: &Client, recipient: &str, ret: bool) {
    assert_eq!(c.add(&consent(recipient, "EPOSTA", "ONAY")).status, 200);
    if ret {
        assert_eq!(c.add(&consent(recipient, "EPOSTA", "RET")).status, 200);
    }
}

#[test]
fn hash_links_for_approved_addresses_and_their_use() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let links = brand("/via-hash-links");
    eposta(&c, "ali@example.com", false);
    eposta(&c, "veli@example.com", true);
    let r = c.post(
        &links,
        &json!({"recipients": [
            {"recipient": "ALI@Example.com", "recipientType": "BIREYSEL"},
            {"recipient": "veli@example.com", "recipientType": "BIREYSEL"},
            {"recipient": "nobody@example.com", "recipientType": "BIREYSEL"},
            {"recipient": "ali@example.com", "recipientType": "TACIR"},
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 4);
    let url = list[0]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/via-ret/", sim.base_url())), "{url}");
    assert_eq!(list[0], json!({"url": url, "recipient": "ali@example.com"}));
    for (i, who) in [(1, "veli@example.com"), (2, "nobody@example.com"), (3, "ali@example.com")] {
        assert_eq!(list[i], json!({"recipient": who, "code": "H568", "message": "Sadece ONAY durumunda olan izinler için link üretilmelidir."}));
    }
    let issued = c.get("/admin/via-links").body;
    assert_eq!(issued.as_array().map(Vec::len), Some(1), "{issued}");
    assert_eq!((issued[0]["url"].as_str(), issued[0]["brandCode"].as_u64(), issued[0]["used"].as_bool()), (Some(url.as_str()), Some(BRAND), Some(false)));
    let days = |s: &Value| iys_sim::clock::parse_local(s.as_str().unwrap()).unwrap() / 86_400;
    assert_eq!(days(&issued[0]["expiresAt"]) - days(&issued[0]["issuedAt"]), 90);

    // The recipient uses it: RET from IYS, like a citizen's change.
    let click = c.post("/admin/via-link/click", &json!({"url": url}));
    assert_eq!(click.status, 200, "{}", click.text);
    assert_eq!(click.body["changed"], true);
    let st = c.status_of("ali@example.com", "EPOSTA", "BIREYSEL");
    assert_eq!((st.body["status"].as_str(), st.body["source"].as_str()), (Some("RET"), Some("IYS_EPOSTA")), "{}", st.text);
    assert_eq!(st.body["transactionId"], click.body["transactionId"]);
    let pulled = c.get(&brand("/consents/changes?source=IYS"));
    assert_eq!((pulled.body["list"][0]["status"].as_str(), pulled.body["list"][0]["source"].as_str()), (Some("RET"), Some("IYS_EPOSTA")), "{}", pulled.text);
    assert_eq!(c.get("/admin/via-links").body[0]["used"], true);
    let again = c.post("/admin/via-link/click", &json!({"url": url}));
    assert_via_error(&again, 409, "H1067", "list");
    assert_eq!(message_of(&again), "Daha önceden kullanılmamış bir hash link için işlem yapılmalıdır.");
    assert_eq!(c.post("/admin/via-link/click", &json!({"url": format!("{}/via-ret/nothing", sim.base_url())})).status, 404);

    // Now RET: no new link for it.
    let after = c.post(&links, &json!({"recipients": [{"recipient": "ali@example.com", "recipientType": "BIREYSEL"}]}));
    assert_eq!(after.body[0]["code"], "H568", "{}", after.text);

    // A link is valid 90 days; a link whose consent changed meanwhile records nothing.
    eposta(&c, "ayse@example.com", false);
    let old = c.post(&links, &json!({"recipients": [{"recipient": "ayse@example.com", "recipientType": "BIREYSEL"}]}));
    let old_url = old.body[0]["url"].as_str().unwrap().to_string();
    let fresh = c.post(&links, &json!({"recipients": [{"recipient": "ayse@example.com", "recipientType": "BIREYSEL"}]}));
    let fresh_url = fresh.body[0]["url"].as_str().unwrap().to_string();
    assert_ne!(old_url, fresh_url);
    assert_eq!(c.post("/admin/via-link/click", &json!({"url": fresh_url})).body["changed"], true);
    let second = c.post("/admin/via-link/click", &json!({"url": old_url}));
    assert_eq!((second.status, &second.body["changed"]), (200, &json!(false)), "already RET: {}", second.text);
    eposta(&c, "fatma@example.com", false);
    let expiring = c.post(&links, &json!({"recipients": [{"recipient": "fatma@example.com", "recipientType": "BIREYSEL"}]}));
    sim.advance_clock(90 * 86_400);
    let expired = c.post("/admin/via-link/click", &json!({"url": expiring.body[0]["url"]}));
    assert_via_error(&expired, 400, "H1074", "list");
    let c = Client::logged_in(&sim); // the access token lasts two hours
    assert_eq!(c.status_of("fatma@example.com", "EPOSTA", "BIREYSEL").body["status"], "ONAY");
}

#[test]
fn hash_link_requests_are_checked() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let links = brand("/via-hash-links");
    let missing = c.post(&links, &json!({}));
    assert_error(&missing, 422, "H168");
    assert_eq!(missing.body["errors"][0]["location"], json!(["recipients"]));
    let many: Vec<Value> = (0..101).map(|i| json!({"recipient": format!("a{i}@example.com"), "recipientType": "BIREYSEL"})).collect();
    let over = c.post(&links, &json!({ "recipients": many }));
    assert_error(&over, 422, "H127");
    assert_eq!(over.body["errors"][0]["location"], json!(["recipients"]));
    assert!(over.body["errors"][0]["message"].as_str().unwrap().contains("en fazla 100 "), "{}", over.text);
    assert_eq!(c.post(&links, &json!({ "recipients": many[..100] })).status, 200, "100 are taken");
    let items = c.post(
        &links,
        &json!({"recipients": [
            {"recipientType": "BIREYSEL"},
            {"recipient": "a@example.com"},
            {"recipient": "a@example.com", "recipientType": "asd"},
            {"recipient": "+905320000001", "recipientType": "BIREYSEL"},
        ]}),
    );
    assert_eq!(items.status, 422, "{}", items.text);
    let errs: Vec<(String, Value, Value, Value)> = items.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["code"].as_str().unwrap().into(), e["location"].clone(), e["index"].clone(), e.get("value").cloned().unwrap_or(Value::Null)))
        .collect();
    assert_eq!(
        errs,
        vec![
            ("H114".into(), json!(["recipient"]), json!(0), Value::Null),
            ("H170".into(), json!(["recipientType"]), json!(1), Value::Null),
            ("H116".into(), json!(["recipientType"]), json!(2), json!("asd")),
            ("H120".into(), json!(["recipient"]), json!(3), json!("+905320000001")),
        ]
    );
    assert_error(&c.post_raw(&links, "application/json", "{broken"), 400, "H014");
    assert_error(&c.post(&links, &json!([])), 400, "H097");
    assert_error(&c.post("/sps/x/brands/1/via-hash-links", &json!({"recipients": []})), 422, "H190");
    assert_eq!(c.get("/admin/via-links").body, json!([]), "nothing issued: nobody is in ONAY");
}

#[test]
fn approvals_and_opt_outs_are_pushed() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    let rx = Receiver::start(Auth::Enforced);
    assert_eq!(register(&c, &rx.url("/push"), "EPOSTA").status, 200);
    let id = start_ok(&c, &body("EPOSTA_SHORTURL", "ali@example.com", json!([etk(&["EPOSTA"])])));
    assert_eq!(approve(&c, &id, json!({})).status, 200);
    wait_until("the approval", 10, || rx.authenticated().len() == 2);
    let pushed = rx.authenticated()[1].body["list"][0].clone();
    assert_eq!((pushed["source"].as_str(), pushed["status"].as_str(), pushed["recipient"].as_str()), (Some("IYS_EPOSTA"), Some("ONAY"), Some("ali@example.com")), "{pushed}");
    assert_eq!(pushed["transactionId"], status_of_request(&c, &id)["requestDetails"][0]["transactionId"]);
    let link = c.post(&brand("/via-hash-links"), &json!({"recipients": [{"recipient": "ali@example.com", "recipientType": "BIREYSEL"}]}));
    assert_eq!(c.post("/admin/via-link/click", &json!({"url": link.body[0]["url"]})).status, 200);
    wait_until("the opt-out", 10, || rx.authenticated().len() == 3);
    assert_eq!(rx.authenticated()[2].body["list"][0]["status"], "RET");
}

#[test]
fn stats_faults_and_reset_cover_via() {
    let sim = start(test_config());
    let c = Client::logged_in(&sim);
    let good = body("SMS_SHORTURL", &phone(1), json!([etk(&["MESAJ"])]));
    let id = start_ok(&c, &good);
    status_of_request(&c, &id);
    c.post(&via("/confirmation"), &json!({}));
    c.post(&brand("/via-hash-links"), &json!({"recipients": []}));

    // The consent quota: ViA answers it as H1031; the status query and links are not concerned.
    c.post("/admin/faults", &json!({"account_refusal": {"status": 422, "code": "H525"}}));
    assert_via_error(&c.post(&via("/consent"), &good), 400, "H1031", "object");
    assert_via_error(&c.post(&via("/confirmation"), &json!({})), 400, "H1031", "object");
    assert_eq!(c.get(&via(&format!("/consent/request/{id}"))).status, 200);
    c.post("/admin/faults", &json!({"account_refusal": {"status": 403, "code": "H353"}}));
    assert_error(&c.post(&via("/consent"), &good), 403, "H353");
    c.post("/admin/faults", &json!({"account_refusal": {"status": 403, "code": "H353", "brandCode": BRAND}}));
    assert_eq!(c.post(&via("/consent"), &good).status, 200, "a brand's refusal does not cover calls naming no brand");
    assert_error(&c.post(&brand("/via-hash-links"), &json!({"recipients": []})), 403, "H353");
    c.delete("/admin/faults");
    c.post("/admin/faults", &json!({"burst_429": 1}));
    assert_error(&c.post(&via("/consent"), &good), 429, "H124");

    let stats = c.get("/admin/stats").body;
    let count = |route: &str, status: &str| stats["endpoints"][route][status].as_u64().unwrap_or(0);
    assert_eq!(count("POST /via/sps/{iysCode}/consent", "200"), 2, "{stats}");
    assert_eq!(count("POST /via/sps/{iysCode}/consent", "400"), 1);
    assert_eq!(count("POST /via/sps/{iysCode}/consent", "429"), 1);
    assert_eq!(count("GET /via/sps/{iysCode}/consent/request/{requestId}", "200"), 2);
    assert_eq!(count("POST /via/sps/{iysCode}/confirmation", "400"), 2);
    assert_eq!(count("POST /sps/{iysCode}/brands/{brandCode}/via-hash-links", "422"), 1);
    assert_eq!(count("POST /sps/{iysCode}/brands/{brandCode}/via-hash-links", "403"), 1);

    assert_eq!(c.post("/admin/reset", &json!({})).status, 200);
    assert_eq!(c.get("/admin/via").body, json!([]));
    assert_eq!(c.get(&format!("/admin/via/{id}")).status, 404);
    assert_eq!(c.get("/admin/via-links").body, json!([]));
}
