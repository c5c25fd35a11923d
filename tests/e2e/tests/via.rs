//! İLETİ ViA (issue #17): a consent request IYS carries to the recipient (short link or one-time
//! code), followed until the recipient answers, its approvals recorded like pulled changes (ETK)
//! or as KVK records; requests IYS's ViA rules refuse are refused locally; e-mail opt-out links
//! fetched in batches and cached. The simulator keeps IYS's pace (its one-hour hold-back of
//! citizens' changes included, on a fast clock).

use pg_iys_e2e::{contact_table_sql, expect_error, insert_contacts, log_tail, one, setup_sync, texts, wait_settled, wait_true, Cluster, Sim};
use serde_json::json;
use std::time::Duration;

/// The worker asks about a request 200 ms after sending it (then 400, 800, ... ms).
const CONF: &[&str] = &["iys.flush_interval = 100", "iys.http_timeout = 2000", "iys.pull_interval = 200", "iys.via_check_interval = 200"];

fn request_id(c: &mut postgres::Client, cluster: &Cluster, id: i64) -> String {
    let sql = format!("SELECT request_id FROM iys.via_requests WHERE id = {id} AND state = 'waiting'");
    cluster
        .wait_for(Duration::from_secs(30), || c.query_opt(&sql, &[]).ok().flatten().and_then(|r| r.get::<_, Option<String>>(0)))
        .unwrap_or_else(|| panic!("request {id} was not sent: {:?}; log:\n{}", texts(c, "SELECT * FROM iys.via_requests"), log_tail(cluster)))
}

fn wait_state(c: &mut postgres::Client, cluster: &Cluster, id: i64, state: &str) {
    let sql = format!("SELECT state = '{state}' FROM iys.via_requests WHERE id = {id}");
    assert!(wait_true(cluster, c, Duration::from_secs(30), &sql), "request {id} not {state}: {:?}; log:\n{}", texts(c, "SELECT * FROM iys.via_requests"), log_tail(cluster));
}

#[test]
fn an_approved_short_link_becomes_a_consent_in_the_tables_once() {
    let sim = Sim::start();
    let cluster = Cluster::start("via_short_link", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // A customer the shop has a number for, without any consent yet; the same customer in a
    // table whose row was there before it was attached.
    c.batch_execute("INSERT INTO master_contact (gsm) VALUES ('+905320000077')").unwrap();
    c.batch_execute(&format!(
        "{}; INSERT INTO legacy_contact (gsm) VALUES ('+905320000077'); SELECT iys.attach('legacy_contact', brand_code => '600001');",
        contact_table_sql("legacy_contact", "")
    ))
    .unwrap();

    let id: i64 = one(&mut c, "SELECT iys.request_via_consent('0532 000 00 77', 'SMS_SHORTURL', 1, etk_types => ARRAY['MESAJ', 'ARAMA'], brand_codes => ARRAY['600001'], reference_id => 'cust-77')");
    let rid = request_id(&mut c, &cluster, id);
    let asked = sim.admin_get(&format!("/admin/via/{rid}"));
    assert_eq!(asked["recipient"], "+905320000077");
    assert_eq!(asked["verificationType"], "SMS_SHORTURL");
    assert_eq!(asked["etk"]["types"], json!(["MESAJ", "ARAMA"]));
    // Nothing answered yet: it stays waiting, asked about now and then.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(one::<String>(&mut c, &format!("SELECT state FROM iys.via_requests WHERE id = {id}")), "waiting");

    // The recipient opens the link and approves messages only.
    sim.admin_post(&format!("/admin/via/{rid}/approve"), json!({"types": ["MESAJ"]}));
    wait_state(&mut c, &cluster, id, "completed");
    let row = texts(&mut c, &format!("SELECT iys_status, array_to_string(approved, ','), reference_id FROM iys.via_requests WHERE id = {id}"));
    assert_eq!(row[0], vec![Some("SUCCESS".into()), Some("600001:MESAJ".into()), Some("cust-77".into())]);

    // Recorded as IYS's movement, applied to the table like a pulled change.
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), "SELECT gsm_permission = 'ONAY' FROM master_contact WHERE gsm = '+905320000077'"), "log:\n{}", log_tail(&cluster));
    assert_eq!(one::<String>(&mut c, "SELECT gsm_source FROM master_contact WHERE gsm = '+905320000077'"), "IYS_KISAMESAJ");
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), "SELECT gsm_permission = 'ONAY' FROM legacy_contact WHERE gsm = '+905320000077'"), "the row from before attach; log:\n{}", log_tail(&cluster));
    assert!(one::<bool>(&mut c, "SELECT iys.can_send('+905320000077', 'MESAJ', '600001')"));
    assert!(!one::<bool>(&mut c, "SELECT iys.can_send('+905320000077', 'ARAMA', '600001')"));
    let txid: String = one(&mut c, "SELECT transaction_id FROM iys.consent_ledger WHERE recipient = '+905320000077'");
    // Nothing is sent back to IYS for it.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE recipient = '+905320000077'"), 0);

    // Past the hold-back the pull brings the same movement: it is known, not recorded twice.
    let before: String = one(&mut c, "SELECT coalesce(max(last_success_at)::text, '') FROM iys.pull_cursor WHERE source = 'IYS'");
    sim.sim.advance_clock(2 * 3600);
    let pulled = format!("SELECT coalesce(max(last_success_at)::text, '') > '{before}' FROM iys.pull_cursor WHERE source = 'IYS'");
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), &pulled));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(one::<i64>(&mut c, &format!("SELECT count(*) FROM iys.consent_ledger WHERE transaction_id = '{txid}'")), 1);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.pull_quarantine"), 0);
}

#[test]
fn an_otp_request_confirms_the_recipients_codes_and_keeps_kvk_approvals() {
    // IYS's codes live 3 minutes: at the usual hundredfold clock that is under 2 real seconds,
    // too short for a test that types a wrong code first. Real time here.
    let sim = Sim::start_with(iys_sim::Config { clock_speed: 1.0, ..iys_sim::Config::default() });
    let cluster = Cluster::start("via_otp", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    let id: i64 = one(
        &mut c,
        "SELECT iys.request_via_consent('Ayse@Example.com', 'EPOSTA_OTP', 2, etk_types => ARRAY['EPOSTA'], brand_codes => ARRAY['600001'],
                                        kvk_types => ARRAY['AYDINLATMA_METNI'], person_name => 'Ayşe Kaya', person_id_number => '10000000146')",
    );
    let rid = request_id(&mut c, &cluster, id);
    let asked = sim.admin_get(&format!("/admin/via/{rid}"));
    assert_eq!(asked["recipient"], "ayse@example.com");
    assert_eq!(asked["kvk"]["personData"]["name"], "Ayşe Kaya");
    // Sent: the person's data is IYS's now, not kept here.
    let kept = texts(&mut c, &format!("SELECT person_name, person_id_number FROM iys.via_request WHERE id = {id}"));
    assert_eq!(kept, vec![vec![None, None]]);
    let (etk, kvk) = (asked["otpCodes"]["ETK"].as_str().unwrap().to_owned(), asked["otpCodes"]["KVK"].as_str().unwrap().to_owned());

    // A mistyped code: IYS refuses it (H1052), the request waits for the right one.
    let wrong = if etk == "000000" { "111111" } else { "000000" };
    assert!(one::<bool>(&mut c, &format!("SELECT iys.confirm_via_otp({id}, etk_code => '{wrong}', kvk_code => '{kvk}')")));
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), &format!("SELECT error_code = 'H1052' AND state = 'waiting' FROM iys.via_requests WHERE id = {id}")), "{:?}", texts(&mut c, "SELECT * FROM iys.via_requests"));
    assert_eq!(one::<Option<String>>(&mut c, &format!("SELECT otp_etk FROM iys.via_request WHERE id = {id}")), None, "codes are not kept once sent");

    assert!(one::<bool>(&mut c, &format!("SELECT iys.confirm_via_otp({id}, etk_code => '{etk}', kvk_code => '{kvk}')")));
    wait_state(&mut c, &cluster, id, "completed");
    assert_eq!(one::<String>(&mut c, &format!("SELECT array_to_string(approved, ',') FROM iys.via_requests WHERE id = {id}")), "600001:EPOSTA,AYDINLATMA_METNI");
    assert!(one::<bool>(&mut c, "SELECT iys.can_send('ayse@example.com', 'EPOSTA', '600001')"));
    let kvk_rows = texts(&mut c, "SELECT recipient, kvk_type, (transaction_id IS NOT NULL)::text, (consent_date IS NOT NULL)::text FROM iys.kvk_consent");
    assert_eq!(kvk_rows, vec![vec![Some("ayse@example.com".into()), Some("AYDINLATMA_METNI".into()), Some("true".into()), Some("true".into())]]);
    // A completed request takes no code.
    assert!(!one::<bool>(&mut c, &format!("SELECT iys.confirm_via_otp({id}, etk_code => '{etk}')")));
}

#[test]
fn requests_are_checked_locally_and_refusals_and_silence_are_recorded() {
    let sim = Sim::start();
    let cluster = Cluster::start("via_refusals", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());

    // IYS's ViA rules, every problem at once, before anything is queued.
    let problems = texts(&mut c, "SELECT code, field FROM iys.validate_via_request('ali@example.com', 'SMS_SHORTURL', 1, ARRAY['EPOSTA'], ARRAY['600001'])");
    assert_eq!(problems, vec![vec![Some("H1026".into()), Some("recipient".into())], vec![Some("H1086".into()), Some("types".into())]]);
    let (state, message) = expect_error(&mut c, "SELECT iys.request_via_consent('+905320000001', 'SMS_SHORTURL', 1, kvk_types => ARRAY['AYDINLATMA_METNI'], person_id_number => '12345678901')");
    assert_eq!(state, "23514");
    assert!(message.contains("H1090") && message.contains("H1096"), "{message}");
    let (state, message) = expect_error(&mut c, "SELECT iys.request_via_consent('+905320000001', 'SMS_OTP', 1, ARRAY['MESAJ'], ARRAY['999999'])");
    assert_eq!(state, "22023");
    assert!(message.contains("H1014") && message.contains("999999"), "{message}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.via_request"), 0);
    // An application role needs the grant.
    c.batch_execute("CREATE ROLE crm_app LOGIN; SET ROLE crm_app").unwrap();
    let (state, _) = expect_error(&mut c, "SELECT iys.request_via_consent('+905320000001', 'SMS_OTP', 1, ARRAY['MESAJ'], ARRAY['600001'])");
    assert_eq!(state, "42501");
    c.batch_execute("RESET ROLE; SELECT iys.grant_via_rights('crm_app'); SET ROLE crm_app").unwrap();
    let ignored: i64 = one(&mut c, "SELECT iys.request_via_consent('+905320000002', 'SMS_SHORTURL', 1, ARRAY['ARAMA'], ARRAY['600001'])");
    let (state, _) = expect_error(&mut c, "SELECT person_name FROM iys.via_request");
    assert_eq!(state, "42501", "personal data is the extension owner's");
    c.batch_execute("RESET ROLE").unwrap();

    // The recipient never answers: IYS ends it, nothing is recorded.
    let rid = request_id(&mut c, &cluster, ignored);
    sim.admin_post(&format!("/admin/via/{rid}/ignore"), json!({}));
    wait_state(&mut c, &cluster, ignored, "completed");
    let row = texts(&mut c, &format!("SELECT iys_status, array_to_string(approved, ',') FROM iys.via_requests WHERE id = {ignored}"));
    assert_eq!(row[0][0].as_deref(), Some("SHORT_URL_EXPIRED"));
    assert_eq!(row[0][1], None);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger"), 0);

    // A code nobody confirms: IYS ends the request after its 3 minutes; the worker follows it there.
    let unconfirmed: i64 = one(&mut c, "SELECT iys.request_via_consent('+905320000004', 'SMS_OTP', 1, ARRAY['MESAJ'], ARRAY['600001'])");
    wait_state(&mut c, &cluster, unconfirmed, "completed");
    assert_eq!(one::<String>(&mut c, &format!("SELECT iys_status FROM iys.via_requests WHERE id = {unconfirmed}")), "OTP_CODE_EXPIRED");

    // A landline cannot take an SMS: IYS refuses the request itself (H1026, a shape IYS's E.164
    // rule lets through here), which ends rejected with IYS's reason.
    let landline: i64 = one(&mut c, "SELECT iys.request_via_consent('+902121234567', 'SMS_SHORTURL', 1, ARRAY['ARAMA'], ARRAY['600001'])");
    wait_state(&mut c, &cluster, landline, "rejected");
    assert_eq!(one::<String>(&mut c, &format!("SELECT error_code FROM iys.via_requests WHERE id = {landline}")), "H1026");

    // IYS no longer knows a request (404 in the flat shape {message, code, value}, H1112): it is
    // kept waiting with IYS's reason and asked about again, never dropped in silence.
    let lost: i64 = one(&mut c, "SELECT iys.request_via_consent('+905320000005', 'SMS_SHORTURL', 1, ARRAY['ARAMA'], ARRAY['600001'])");
    request_id(&mut c, &cluster, lost);
    sim.admin_post("/admin/reset", json!({}));
    let sql = format!("SELECT error_code = 'H1112' AND state = 'waiting' FROM iys.via_requests WHERE id = {lost}");
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), &sql), "{:?}; log:\n{}", texts(&mut c, "SELECT * FROM iys.via_requests"), log_tail(&cluster));

    // IYS refuses the account's ViA (consent quota used up, H1031): kept, retried later.
    sim.admin_post("/admin/faults", json!({"account_refusal": {"status": 422, "code": "H525"}}));
    let refused: i64 = one(&mut c, "SELECT iys.request_via_consent('+905320000003', 'SMS_OTP', 1, ARRAY['MESAJ'], ARRAY['600001'])");
    let sql = format!("SELECT error_code = 'H1031' AND state = 'pending' AND next_attempt_at > now() + interval '30 minutes' FROM iys.via_request WHERE id = {refused}");
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), &sql), "{:?}; log:\n{}", texts(&mut c, "SELECT * FROM iys.via_requests"), log_tail(&cluster));
}

#[test]
fn opt_out_links_are_fetched_in_batches_cached_and_work() {
    let sim = Sim::start();
    let cluster = Cluster::start("via_links", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 150);
    let states = wait_settled(&cluster, Duration::from_secs(60));
    assert_eq!(states.get("accepted"), Some(&300), "{states:?}");

    // A campaign query asks for every link: none at hand yet, all queued (with an address IYS
    // holds no consent for, in the same transaction).
    c.batch_execute("BEGIN").unwrap();
    let first = texts(&mut c, "SELECT iys.optout_link('600001', email) FROM master_contact ORDER BY contact_id");
    assert!(first.iter().all(|r| r[0].is_none()));
    assert_eq!(one::<Option<String>>(&mut c, "SELECT iys.optout_link('600001', 'nobody@example.com')"), None);
    // An address IYS would not take for EPOSTA gets no link and is not sent (IYS would refuse the
    // whole call for it).
    assert_eq!(one::<Option<String>>(&mut c, "SELECT iys.optout_link('600001', 'not an address')"), None);
    c.batch_execute("COMMIT").unwrap();
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.optout_links"), 151);
    let sql = "SELECT count(*) FILTER (WHERE state = 'issued') = 150 AND count(*) FILTER (WHERE state = 'refused') = 1 FROM iys.optout_links";
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), sql), "{:?}; log:\n{}", texts(&mut c, "SELECT state, count(*)::text FROM iys.optout_links GROUP BY 1"), log_tail(&cluster));
    // IYS takes 100 a call: two calls for 151 addresses.
    assert_eq!(sim.answers(|e| e.contains("via-hash-links"), &["200"]), 2);
    assert_eq!(one::<String>(&mut c, "SELECT error_code FROM iys.optout_links WHERE recipient = 'nobody@example.com'"), "H568");

    // Cached: the same query now has every link, with no further call.
    let links = texts(&mut c, "SELECT iys.optout_link('600001', email) FROM master_contact ORDER BY contact_id");
    assert!(links.iter().all(|r| r[0].as_deref().is_some_and(|u| u.starts_with(&sim.url()))), "{:?}", &links[..3]);
    assert_eq!(sim.answers(|e| e.contains("via-hash-links"), &[]), 2);

    // The recipient uses the link: the RET comes back with the pull, past IYS's hold-back.
    let url = links[0][0].clone().unwrap();
    sim.admin_post("/admin/via-link/click", json!({ "url": url }));
    sim.sim.advance_clock(2 * 3600);
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), "SELECT email_permission = 'RET' FROM master_contact WHERE email = 'user1@example.com'"), "log:\n{}", log_tail(&cluster));
    assert!(!one::<bool>(&mut c, "SELECT iys.can_send('user1@example.com', 'EPOSTA', '600001')"));
}

#[test]
fn requests_reach_iys_and_complete_through_its_failures() {
    let sim = Sim::start();
    // Retries after at most a second: the test waits for a few of them in a row.
    let conf: Vec<&str> = CONF.iter().copied().chain(["iys.backoff_cap = 1000"]).collect();
    let cluster = Cluster::start("via_failures", &conf);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    let first: i64 = one(&mut c, "SELECT iys.request_via_consent('+905320000010', 'SMS_SHORTURL', 1, ARRAY['MESAJ'], ARRAY['600001'])");
    let first_rid = request_id(&mut c, &cluster, first);
    sim.admin_post(&format!("/admin/via/{first_rid}/approve"), json!({}));
    // Half of IYS's answers are now 5xx (503 H192, 500 H101), unprocessed: sending, following
    // and recording go on through them.
    sim.admin_post("/admin/faults", json!({"error_rate": 0.5}));
    let ids: Vec<i64> = (11..=16)
        .map(|n| one(&mut c, &format!("SELECT iys.request_via_consent('+9053200000{n}', 'SMS_SHORTURL', 1, ARRAY['MESAJ'], ARRAY['600001'])")))
        .collect();
    for &id in &ids {
        let rid = request_id(&mut c, &cluster, id);
        sim.admin_post(&format!("/admin/via/{rid}/approve"), json!({}));
    }
    for id in ids.iter().chain([&first]) {
        wait_state(&mut c, &cluster, *id, "completed");
    }
    assert_eq!(sim.admin_get("/admin/via").as_array().map(Vec::len), Some(7), "each request reached IYS once");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.current_consent WHERE status = 'ONAY' AND consent_type = 'MESAJ'"), 7);
    assert!(sim.answers(|e| e.contains("/via/"), &["500", "503"]) > 0, "the failures happened");
}
