//! Day one: a table that had rows before pg_iys (iys.adopt, IYS's status queries, iys.drift,
//! iys.resolve_drift), opt-outs for keys pg_iys never saw, an import that survives a crash,
//! can_send for applications, the daily movement file and the bridging of a pull gap, each
//! against a real cluster and the IYS simulator.

use pg_iys_e2e::postgres::{Client, NoTls};
use pg_iys_e2e::{contact_table_sql, insert_contacts, log_tail, one, s, setup_sync, texts, wait_settled, wait_true, Cluster, Sim};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Harness defaults of the other worker tests. The daily movement files are off
/// (`iys.reconcile_hour = -1`) except in the test about them: from 06:00 Turkey time the worker
/// would fetch them too, and their findings would add to the iys.drift these tests count.
const CONF: &[&str] = &[
    "iys.flush_interval = 100",
    "iys.pull_interval = 200",
    "iys.http_timeout = 2000",
    "iys.backoff_cap = 500",
    "iys.reconcile_hour = -1",
];

const MULTI_STATUS: &str = "POST /sps/{iysCode}/brands/{brandCode}/consents/{recipientType}/status/{type}";
const SINGLE_STATUS: &str = "POST /sps/{iysCode}/brands/{brandCode}/consents/status";

/// A session whose NOTICEs are collected (iys.attach and iys.adopt talk to the DBA through them).
fn connect_noting(cluster: &Cluster) -> (Client, Arc<Mutex<Vec<String>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    let mut config: pg_iys_e2e::postgres::Config = cluster.conn_string("postgres").parse().unwrap();
    config.notice_callback(move |n| sink.lock().unwrap().push(n.message().to_owned()));
    (config.connect(NoTls).expect("connect"), notices)
}

fn connect_as(cluster: &Cluster, role: &str) -> Client {
    let conn = format!("host=127.0.0.1 port={} user={role} dbname=postgres connect_timeout=10", cluster.port);
    Client::connect(&conn, NoTls).unwrap_or_else(|e| panic!("connect as {role}: {e}"))
}

/// As setup_sync (account 700001, brand 600001, master_contact attached), but the table gets
/// `rows` (an INSERT) before iys.attach: rows that predate pg_iys. One transaction, so the
/// worker sees the brand and the attached table together.
fn setup_with_rows(c: &mut Client, sim_url: &str, rows: &str) {
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_iys").unwrap();
    c.execute(
        "INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700001', $1, 'iys-demo', 'demo-password')",
        &[&sim_url],
    )
    .unwrap();
    c.batch_execute(&format!(
        "INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600001', '700001');
         {};
         {rows};
         SELECT iys.attach('master_contact', brand_code => '600001');",
        contact_table_sql("master_contact", "")
    ))
    .unwrap();
}

/// One movement IYS held before the test (brand 600001 of account 700001), recorded at its
/// consent date.
fn movement(recipient: &str, consent_type: &str, status: &str, source: &str, date: &str) -> Value {
    json!({"iysCode": 700001, "brandCode": 600001, "recipient": recipient, "type": consent_type, "recipientType": "BIREYSEL",
           "status": status, "source": source, "consentDate": date, "creationDate": date})
}

/// Plants `movements` in the simulator; returns IYS's transactionId of each.
fn seed(sim: &Sim, movements: Vec<Value>) -> Vec<String> {
    let n = movements.len();
    let answer = sim.admin_post("/admin/seed", Value::Array(movements));
    let ids: Vec<String> = answer.as_array().map(|a| a.iter().filter_map(|m| m["transactionId"].as_str().map(str::to_owned)).collect()).unwrap_or_default();
    assert_eq!(ids.len(), n, "the simulator refused the seed: {answer}");
    ids
}

/// The status IYS holds now for a recipient's consent of `consent_type` (brand 600001).
fn iys_holds(sim: &Sim, recipient: &str, consent_type: &str) -> Option<String> {
    let consents = sim.admin_get(&format!("/admin/consents?brandCode=600001&recipient={}", recipient.replace('+', "%2B")));
    consents.as_array()?.iter().find(|c| c["type"] == consent_type).and_then(|c| c["status"].as_str()).map(str::to_owned)
}

fn can_send(c: &mut Client, recipient: &str, consent_type: &str) -> bool {
    c.query_one("SELECT iys.can_send($1, $2::text::iys.consent_type)", &[&recipient, &consent_type]).unwrap().get(0)
}


/// iys.adopt on a table whose rows predate pg_iys: addresses are rewritten in IYS's form
/// without queueing anything; IYS's status queries (multi-status, then the single status query
/// where the row says ONAY and IYS does not list it) learn what IYS holds; can_send follows IYS,
/// not the rows; the legacy opt-out (row RET, IYS ONAY) is sent at once and IYS ends with RET;
/// iys.drift lists exactly the planted differences; resolve_drift('iys') writes IYS's records
/// into the rows and empties the drift, keeping the local opt-out.
#[test]
fn adopt_learns_what_iys_holds_and_never_drops_an_opt_out() {
    let sim = Sim::start();
    // IYS's truth, recorded years before pg_iys came: outside the pull's 7-day window, so only
    // the status queries can learn it.
    seed(
        &sim,
        vec![
            // A: ONAY in IYS and in the row.
            movement("+905326384838", "MESAJ", "ONAY", "HS_WEB", "2021-04-01 10:00:00"),
            // B: the citizen withdrew it in IYS (SMS to 3338) after the row's ONAY.
            movement("+905326384841", "MESAJ", "ONAY", "HS_WEB", "2021-04-01 10:00:00"),
            movement("+905326384841", "MESAJ", "RET", "IYS_KISAMESAJ", "2023-05-01 09:30:00"),
            // C: the row says RET, IYS still holds ONAY (an opt-out never reported).
            movement("+905326384842", "MESAJ", "ONAY", "HS_WEB", "2021-04-01 10:00:00"),
            // D (+905326384843): the row says ONAY, IYS has nothing.
            // E: IYS holds an ONAY the row (no permission) does not show.
            movement("+905326384844", "MESAJ", "ONAY", "HS_MOBIL", "2022-01-15 12:00:00"),
            // F: an e-mail ONAY (IYS keeps e-mails lower-case).
            movement("ali.veli@example.com", "EPOSTA", "ONAY", "HS_WEB", "2021-04-01 10:00:00"),
        ],
    );
    let cluster = Cluster::start("adopt", CONF);
    let (mut c, notices) = connect_noting(&cluster);
    setup_with_rows(
        &mut c,
        &sim.url(),
        "INSERT INTO master_contact (contact_id, email, email_permission, email_consent_date, email_source,
                                    gsm, gsm_permission, gsm_consent_date, gsm_source) VALUES
           (1, NULL, NULL, NULL, NULL, '0532 638 48 38', 'ONAY', '2022-03-01 10:00:00', 'HS_WEB'),
           (2, NULL, NULL, NULL, NULL, '5326384841', 'ONAY', '2022-03-01 10:00:00', 'HS_WEB'),
           (3, NULL, NULL, NULL, NULL, '+905326384842', 'RET', '2022-06-01 10:00:00', 'HS_CAGRI_MERKEZI'),
           (4, NULL, NULL, NULL, NULL, '05326384843', 'ONAY', '2022-03-01 10:00:00', 'HS_WEB'),
           (5, NULL, NULL, NULL, NULL, '+90 532 638 48 44', NULL, NULL, NULL),
           (6, NULL, NULL, NULL, NULL, 'not a phone', 'ONAY', '2022-03-01 10:00:00', 'HS_WEB'),
           (7, 'Ali.Veli@Example.COM', 'ONAY', '2022-03-01 10:00:00', 'HS_WEB', NULL, NULL, NULL, NULL)",
    );
    assert!(
        notices.lock().unwrap().iter().any(|n| n.contains("master_contact already has rows") && n.contains("iys.adopt(")),
        "attach did not point at iys.adopt: {:?}",
        notices.lock().unwrap()
    );
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.status_check"), 0, "attach alone queues nothing");
    notices.lock().unwrap().clear();

    let adopted: Vec<(String, String, i64, i64, i64)> = c
        .query("SELECT channel, address_column, addresses_normalized, addresses_unusable, keys_queued FROM iys.adopt('master_contact') ORDER BY channel", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        adopted,
        [("EPOSTA".to_owned(), "email".to_owned(), 1, 0, 1), ("MESAJ".to_owned(), "gsm".to_owned(), 4, 1, 5)],
        "one row per channel: addresses rewritten, unusable, keys queued"
    );
    let said = notices.lock().unwrap().clone();
    assert!(said.iter().any(|n| n.contains("1 row(s)") && n.contains("\"gsm\"")), "no NOTICE about the unusable phone: {said:?}");
    assert!(said.iter().any(|n| n.contains("6 key(s)") && n.contains("follow_status_checks")), "no NOTICE about the queued keys: {said:?}");
    // Rewritten in IYS's form; the unusable one is left as it was.
    assert_eq!(
        texts(&mut c, "SELECT coalesce(gsm, email) FROM master_contact ORDER BY contact_id"),
        [s("+905326384838"), s("+905326384841"), s("+905326384842"), s("+905326384843"), s("+905326384844"), s("not a phone"), s("ali.veli@example.com")]
            .map(|v| vec![v])
    );
    // The triggers stood aside: a spelling is not a consent change, nothing goes to IYS for it.
    // (The worker may already have answered the status queries and queued C's legacy opt-out.)
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE recipient <> '+905326384842'"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE recipient <> '+905326384842'"), 0);

    // The worker answers every key: A, C, F with the multi-status query; B and D (row ONAY,
    // not listed) and E (no permission in the row, listed: the row must be able to take IYS's
    // date and source) with the single status query too.
    let done = wait_true(
        &cluster,
        &mut c,
        Duration::from_secs(40),
        "SELECT keys = done FROM iys.status_check_progress WHERE brand_code = '600001' AND reason = 'adopt'",
    );
    assert!(done, "status checks not done: {:?}\nlog:\n{}", texts(&mut c, "SELECT row_to_json(p)::text FROM iys.status_check_progress p"), log_tail(&cluster));
    assert_eq!(
        texts(&mut c, "SELECT keys::text, to_query::text, to_detail::text, done::text, iys_onay::text, opt_outs_queued::text, percent_done::text FROM iys.status_check_progress"),
        [["6", "0", "0", "6", "4", "1", "100.0"].map(s).to_vec()]
    );
    notices.lock().unwrap().clear();
    c.batch_execute("CALL iys.follow_status_checks('600001', '10 seconds')").unwrap();
    let followed = notices.lock().unwrap().clone();
    assert!(followed.iter().any(|n| n.contains("6 of 6 key(s) answered (4 IYS ONAY)")), "{followed:?}");
    assert_eq!(
        texts(
            &mut c,
            "SELECT recipient, local_status::text, iys_onay::text, iys_known::text, iys_status::text, iys_source,
                    to_char(iys_consent_date, 'YYYY-MM-DD HH24:MI:SS')
               FROM iys.status_check ORDER BY recipient"
        ),
        [
            [s("+905326384838"), s("ONAY"), s("true"), s("true"), s("ONAY"), None, None],
            [s("+905326384841"), s("ONAY"), s("false"), s("true"), s("RET"), s("IYS_KISAMESAJ"), s("2023-05-01 09:30:00")],
            [s("+905326384842"), s("RET"), s("true"), s("true"), s("ONAY"), None, None],
            [s("+905326384843"), s("ONAY"), s("false"), s("false"), None, None, None],
            [s("+905326384844"), None, s("true"), s("true"), s("ONAY"), s("HS_MOBIL"), s("2022-01-15 12:00:00")],
            [s("ali.veli@example.com"), s("ONAY"), s("true"), s("true"), s("ONAY"), None, None],
        ]
        .map(|r| r.to_vec())
    );
    // Single status queries only where the multi-status answer is not enough (B, D and E).
    assert_eq!(sim.answers(|e| e == SINGLE_STATUS, &["200"]), 3);

    // The legacy opt-out went to IYS at once, dated now (IYS refuses old dates), with the row's
    // source, and IYS accepted it.
    let settled = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(settled.get("accepted"), Some(&1), "{settled:?}");
    let ret = c
        .query_one(
            "SELECT o.recipient, o.status::text, o.source::text, o.state, o.consent_date > (now() AT TIME ZONE 'Europe/Istanbul') - interval '5 minutes',
                    s.outbox_id = o.id
               FROM iys.outbox o JOIN iys.status_check s USING (brand_code, recipient, consent_type, recipient_type)",
            &[],
        )
        .unwrap();
    assert_eq!(
        (ret.get::<_, String>(0), ret.get::<_, String>(1), ret.get::<_, String>(2), ret.get::<_, String>(3), ret.get::<_, bool>(4), ret.get::<_, bool>(5)),
        ("+905326384842".to_owned(), "RET".to_owned(), "HS_CAGRI_MERKEZI".to_owned(), "accepted".to_owned(), true, true)
    );
    assert_eq!(iys_holds(&sim, "+905326384842", "MESAJ").as_deref(), Some("RET"), "IYS still holds the ONAY the row withdrew");

    // can_send follows what IYS holds, in any spelling: A, E (no permission in the row, but IYS
    // holds an ONAY) and F.
    for yes in ["+905326384838", "0532 638 48 38", "5326384838", "+90 532 638 48 44"] {
        assert!(can_send(&mut c, yes, "MESAJ"), "{yes}");
    }
    assert!(can_send(&mut c, " ALI.VELI@Example.com", "EPOSTA"));
    // B (IYS: RET), C (opt-out), D (IYS: nothing), the unusable row, a stranger, another channel.
    for no in ["+905326384841", "0532 638 48 41", "05326384842", "+905326384842", "5326384843", "not a phone", "+905329999999"] {
        assert!(!can_send(&mut c, no, "MESAJ"), "{no}");
    }
    assert!(!can_send(&mut c, "0532 638 48 38", "ARAMA"), "no ARAMA consent anywhere");
    assert!(!can_send(&mut c, "ali.veli@example.com", "MESAJ"));

    // The drift is exactly what was planted, IYS's side as its record says.
    let drift = "SELECT found_by, recipient, consent_type::text, local_status, iys_status, source_table::text, source_key
                   FROM iys.drift ORDER BY recipient";
    assert_eq!(
        texts(&mut c, drift),
        [
            ["status query", "+905326384841", "MESAJ", "ONAY", "RET", "master_contact", "2"].map(s).to_vec(),
            ["status query", "+905326384842", "MESAJ", "RET", "ONAY", "master_contact", "3"].map(s).to_vec(),
            ["status query", "+905326384843", "MESAJ", "ONAY", "none", "master_contact", "4"].map(s).to_vec(),
            vec![s("status query"), s("+905326384844"), s("MESAJ"), None, s("ONAY"), s("master_contact"), s("5")],
        ]
    );
    assert_eq!(one::<i64>(&mut c, "SELECT drift FROM iys.sync_status"), 4);
    assert_eq!(one::<i64>(&mut c, "SELECT status_checks_left FROM iys.sync_status"), 0);

    // IYS wins: B and E take IYS's record, D has none to take (kept, can_send stays false), C's
    // opt-out stays.
    let actions: Vec<(String, i64)> =
        c.query("SELECT action, keys FROM iys.resolve_drift('600001', 'iys')", &[]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        actions,
        [
            ("local opt-outs kept (sent to IYS)".to_owned(), 1),
            ("rows updated from IYS's record".to_owned(), 2),
            ("rows kept: IYS has no record".to_owned(), 1),
            ("daily-file findings acknowledged".to_owned(), 0),
        ]
    );
    assert_eq!(texts(&mut c, drift), Vec::<Vec<Option<String>>>::new(), "every difference is resolved");
    let row = "SELECT gsm_permission, gsm_source, to_char(gsm_consent_date, 'YYYY-MM-DD HH24:MI:SS') FROM master_contact WHERE contact_id = ";
    let took = cluster.wait_for(Duration::from_secs(20), || {
        let b = texts(&mut c, &format!("{row}2")).remove(0);
        let e = texts(&mut c, &format!("{row}5")).remove(0);
        (b[0].as_deref() == Some("RET") && e[0].as_deref() == Some("ONAY")).then_some((b, e))
    });
    let (b, e) = took.unwrap_or_else(|| {
        panic!(
            "the rows did not take IYS's record: {:?}; inbox {:?}\nlog:\n{}",
            texts(&mut c, "SELECT contact_id::text, gsm_permission, gsm_source, gsm_consent_date::text FROM master_contact ORDER BY 1"),
            texts(&mut c, "SELECT recipient, status::text, state, error FROM iys.inbox"),
            log_tail(&cluster)
        )
    });
    assert_eq!(b, [s("RET"), s("IYS_KISAMESAJ"), s("2023-05-01 09:30:00")], "B takes IYS's RET with its source and date");
    assert_eq!(e, [s("ONAY"), s("HS_MOBIL"), s("2022-01-15 12:00:00")], "E takes IYS's ONAY with its source and date");
    assert_eq!(texts(&mut c, &format!("{row}4")).remove(0)[0].as_deref(), Some("ONAY"), "D: no record in IYS to take");
    assert_eq!(texts(&mut c, &format!("{row}3")).remove(0)[0].as_deref(), Some("RET"), "an opt-out is never undone");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.pull_quarantine"), 0);
    // Writing IYS's record into the rows is not echoed back to IYS.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 1);
}

/// The old bug: a row that predates iys.attach changing ONAY → RET was stored but never queued
/// (pg_iys had never seen its key), so IYS kept the ONAY. Every RET is queued now; and a RET IYS
/// never had a consent for (H175) ends not_in_iys, which is not a rejection.
#[test]
fn a_ret_on_a_row_that_predates_attach_reaches_iys() {
    let sim = Sim::start();
    seed(&sim, vec![movement("+905321230001", "MESAJ", "ONAY", "HS_WEB", "2022-01-10 10:00:00")]);
    let cluster = Cluster::start("oldret", CONF);
    let mut c = cluster.connect();
    setup_with_rows(
        &mut c,
        &sim.url(),
        "INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('+905321230001', 'ONAY', '2022-01-10 10:00:00', 'HS_WEB')",
    );
    c.batch_execute(
        "UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = date_trunc('second', now() AT TIME ZONE 'Europe/Istanbul') - interval '1 minute'
          WHERE gsm = '+905321230001';
         INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('+905321230002', 'RET', date_trunc('second', now() AT TIME ZONE 'Europe/Istanbul') - interval '1 minute', 'HS_WEB')",
    )
    .unwrap();
    let settled = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(
        texts(&mut c, "SELECT recipient, status::text, state, error_code FROM iys.outbox ORDER BY recipient"),
        [
            vec![s("+905321230001"), s("RET"), s("accepted"), None],
            vec![s("+905321230002"), s("RET"), s("not_in_iys"), s("H175")],
        ],
        "{settled:?}"
    );
    assert_eq!(iys_holds(&sim, "+905321230001", "MESAJ").as_deref(), Some("RET"), "IYS still holds the withdrawn ONAY");
    assert_eq!(iys_holds(&sim, "+905321230002", "MESAJ"), None, "IYS never had the second one");
    // Nothing to withdraw is not an error for the DBA to chase.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.rejections"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.rejections_by_code"), 0);
    let status = c.query_one("SELECT not_in_iys, rejected, accepted FROM iys.sync_status", &[]).unwrap();
    assert_eq!((status.get::<_, i64>(0), status.get::<_, i64>(1), status.get::<_, i64>(2)), (1, 0, 1));
    assert!(!can_send(&mut c, "+905321230001", "MESAJ"));
}

/// An import of 3000 keys (three multi-status calls) survives an immediate shutdown between
/// two answers: each answer was recorded in its own transaction, so the worker resumes with the
/// keys still pending, asks nothing answered again, and ends with the same results as one
/// uninterrupted pass. The worker is slowed to one request a second (instead of IYS's 10) so
/// that the shutdown can land between two answers.
#[test]
fn import_resumes_after_a_restart() {
    let sim = Sim::start();
    // Key i: i % 3 = 1 → row RET, IYS nothing; otherwise row ONAY, IYS ONAY. Both are settled
    // by the multi-status answer alone (no single status query, whose 1000-an-hour allowance
    // this test is not about).
    let seeds: Vec<Value> = (0..3000)
        .filter(|i| i % 3 != 1)
        .map(|i| movement(&format!("+90532{i:07}"), "MESAJ", "ONAY", "HS_WEB", "2021-04-01 10:00:00"))
        .collect();
    seed(&sim, seeds);
    let mut conf = CONF.to_vec();
    conf.push("iys.max_requests_per_second = 1");
    let mut cluster = Cluster::start("resume", &conf);
    let mut c = cluster.connect();
    setup_with_rows(
        &mut c,
        &sim.url(),
        "INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         SELECT '0532' || lpad(g::text, 7, '0'),
                CASE g % 3 WHEN 1 THEN 'RET' ELSE 'ONAY' END, timestamp '2022-03-01 10:00:00', 'HS_WEB'
           FROM generate_series(0, 2999) g",
    );
    let queued: i64 = one(&mut c, "SELECT keys_queued FROM iys.adopt('master_contact') WHERE channel = 'MESAJ'");
    assert_eq!(queued, 3000);

    // Stop the server the moment the first answer is recorded (the next call is at least a
    // second away, or in flight).
    let done = "SELECT count(*) FROM iys.status_check WHERE state = 'done'";
    let first = cluster.wait_for(Duration::from_secs(30), || Some(one::<i64>(&mut c, done)).filter(|n| *n > 0));
    assert!(first.is_some(), "no status answer recorded; log:\n{}", log_tail(&cluster));
    drop(c);
    cluster.pg_ctl_stop("immediate");
    let answered_before = sim.answers(|e| e == MULTI_STATUS, &["200"]);
    cluster.pg_ctl_start_with("-c iys.enabled=off");
    let mut c = cluster.connect();
    let before: i64 = one(&mut c, done);
    assert!((1000..3000).contains(&before) && before % 1000 == 0, "the shutdown must land between two answers ({before} keys done)");
    // What was answered before the crash, to compare afterwards: answered once, never again.
    c.batch_execute("CREATE TABLE answered_before AS SELECT recipient, checked_at, iys_onay FROM iys.status_check WHERE state = 'done'").unwrap();
    drop(c);
    cluster.pg_ctl_stop("fast");
    cluster.pg_ctl_start();
    let mut c = cluster.connect();

    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(60), "SELECT bool_and(state = 'done') FROM iys.status_check"),
        "import not finished after the restart: {:?}\nlog:\n{}",
        texts(&mut c, "SELECT row_to_json(p)::text FROM iys.status_check_progress p"),
        log_tail(&cluster)
    );
    assert_eq!(
        one::<i64>(
            &mut c,
            "SELECT count(*) FROM answered_before a JOIN iys.status_check s USING (recipient)
              WHERE s.checked_at = a.checked_at AND s.iys_onay = a.iys_onay"
        ),
        before,
        "keys answered before the crash were asked again"
    );
    // The same results as one pass: IYS's ONAYs known, nothing else, nothing sent, no detail asked.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.status_check WHERE iys_onay"), 2000);
    assert_eq!(
        one::<i64>(
            &mut c,
            "SELECT count(*) FROM iys.status_check
              WHERE iys_onay = (right(recipient, 7)::int % 3 <> 1) AND state = 'done'"
        ),
        3000
    );
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.current_consent WHERE status = 'ONAY' AND origin = 'import'"), 2000);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.current_consent"), 2000);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 0);
    assert_eq!(sim.answers(|e| e == SINGLE_STATUS, &[]), 0);
    // Three calls make one pass; the one in flight at the shutdown may have been answered by
    // IYS and not recorded: then it is asked again, once.
    let calls = sim.answers(|e| e == MULTI_STATUS, &[]);
    assert!((3..=4).contains(&calls), "{calls} multi-status calls ({answered_before} answered before the restart)");
    assert_eq!(calls, answered_before + (3000 - before as u64) / 1000, "after the restart only the keys left are asked");
}

/// Applications ask iys.can_send / iys.can_send_many with a role that has no grant at all, in
/// whatever spelling their data has; the tables and the iys.sendable list stay closed to them.
#[test]
fn can_send_for_an_application_role() {
    let sim = Sim::start();
    let cluster = Cluster::start("cansend", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 2);
    let settled = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(settled.get("accepted"), Some(&4), "{settled:?}");
    // Contact 2's SMS permission is withdrawn, and IYS has taken that too.
    c.batch_execute(
        "UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = date_trunc('second', now() AT TIME ZONE 'Europe/Istanbul')
          WHERE contact_id = 2",
    )
    .unwrap();
    wait_settled(&cluster, Duration::from_secs(30));
    c.batch_execute("CREATE ROLE app LOGIN").unwrap();
    let mut app = connect_as(&cluster, "app");

    let ask = |app: &mut Client, recipient: &str, consent_type: &str| -> bool {
        app.query_one("SELECT iys.can_send($1, $2::text::iys.consent_type)", &[&recipient, &consent_type])
            .unwrap_or_else(|e| panic!("can_send({recipient}) as app: {e}"))
            .get(0)
    };
    for yes in ["+905320000001", "05320000001", "0532 000 00 01", " 532 000 0001 ", "+90 (532) 000-00-01"] {
        assert!(ask(&mut app, yes, "MESAJ"), "{yes}");
    }
    for yes in ["user1@example.com", "USER1@Example.COM", " user2@example.com "] {
        assert!(ask(&mut app, yes, "EPOSTA"), "{yes}");
    }
    for no in ["+905320000002", "0532 000 00 02", "+905320000009", "not a phone", "", "user1@example.com"] {
        assert!(!ask(&mut app, no, "MESAJ"), "{no}");
    }
    assert!(!ask(&mut app, "user9@example.com", "EPOSTA"));
    let brand: bool = app.query_one("SELECT iys.can_send('05320000001', 'MESAJ', '600001')", &[]).unwrap().get(0);
    assert!(brand);
    let other_brand: bool = app.query_one("SELECT iys.can_send('05320000001', 'MESAJ', '600002')", &[]).unwrap().get(0);
    assert!(!other_brand, "another brand's consent is not this brand's");

    // One row per element, in order, with the recipient as given.
    let list = vec![
        Some("0532 000 00 01".to_owned()),
        Some("junk".to_owned()),
        Some("+905320000002".to_owned()),
        None,
        Some("5320000001".to_owned()),
        Some("+905329999999".to_owned()),
    ];
    let many: Vec<(Option<String>, bool)> = app
        .query("SELECT recipient, can_send FROM iys.can_send_many($1, 'MESAJ')", &[&list])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(many, list.iter().cloned().zip([true, false, false, false, true, false]).collect::<Vec<_>>());
    let emails: Vec<bool> = app
        .query("SELECT can_send FROM iys.can_send_many(ARRAY['User2@Example.com', 'user3@example.com'], 'EPOSTA', '600001')", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(emails, [true, false]);

    // The list of people a campaign may reach, and the known state behind it, are not public.
    for table in ["iys.sendable", "iys.current_consent"] {
        let err = app.query(&format!("SELECT * FROM {table} LIMIT 1"), &[]).unwrap_err();
        assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42501"), "{table}: {err}");
    }
}

/// The daily movement file catches what the pull missed: a citizen's RET IYS recorded yesterday
/// but never served through /consents/changes is found in yesterday's file (missing_here),
/// recorded like a pulled change (ledger, known state) and applied to the attached row; every
/// day of the last week is reconciled once.
///
/// The simulator runs on the real clock here: the worker asks for files by the real Turkey
/// date, and a simulator 100x ahead could already be in tomorrow (then IYS would refuse the
/// oldest day with H502). Nothing else in this test waits on IYS's clock.
#[test]
fn daily_file_finds_a_movement_the_pull_missed() {
    let sim = Sim::start_with(iys_sim::Config { clock_speed: 1.0, ..iys_sim::Config::default() });
    let cluster = Cluster::start("dailyfile", CONF);
    let mut c = cluster.connect();
    let yesterday: String = one(&mut c, "SELECT ((now() AT TIME ZONE 'Europe/Istanbul')::date - 1)::text");
    let day_before: String = one(&mut c, "SELECT ((now() AT TIME ZONE 'Europe/Istanbul')::date - 2)::text");
    // The row's ONAY of two days ago is in IYS and in the pull; the citizen's RET of yesterday
    // is in IYS, but the pull never served it.
    let mut ret = movement("+905321110001", "MESAJ", "RET", "IYS_KISAMESAJ", &format!("{yesterday} 10:00:00"));
    ret["inPull"] = json!(false);
    let ids = seed(&sim, vec![movement("+905321110001", "MESAJ", "ONAY", "HS_WEB", &format!("{day_before} 12:00:00")), ret]);
    let ret_id = &ids[1];
    setup_with_rows(
        &mut c,
        &sim.url(),
        &format!(
            "INSERT INTO master_contact (contact_id, gsm, gsm_permission, gsm_consent_date, gsm_source)
             VALUES (1, '+905321110001', 'ONAY', '{day_before} 12:00:00', 'HS_WEB')"
        ),
    );

    // The pull runs all day; the files are fetched once it has had its turn (in a round, the
    // learning step may come before the first pull's interval is up).
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(20), "SELECT EXISTS (SELECT 1 FROM iys.consent_ledger WHERE origin = 'iys')"),
        "the pull did not record the ONAY; log:\n{}",
        log_tail(&cluster)
    );
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.reconcile_day"), 0);
    // From midnight on, so the test runs at any hour (the default waits for 06:00).
    c.batch_execute("ALTER SYSTEM SET iys.reconcile_hour = 0").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    let reconciled = format!("SELECT EXISTS (SELECT 1 FROM iys.reconcile_day WHERE report_date = '{yesterday}')");
    assert!(wait_true(&cluster, &mut c, Duration::from_secs(30), &reconciled), "yesterday was not reconciled; log:\n{}", log_tail(&cluster));
    // The pull saw the ONAY (no finding for it); the RET was only in the file.
    assert_eq!(
        texts(&mut c, "SELECT report_date::text, kind, recipient, iys_status::text, source, transaction_id, resolution FROM iys.reconcile_finding"),
        [vec![s(&yesterday), s("missing_here"), s("+905321110001"), s("RET"), s("IYS_KISAMESAJ"), Some(ret_id.clone()), s("recorded from the daily file")]]
    );
    assert_eq!(
        texts(&mut c, &format!("SELECT movements::text, missing_here::text FROM iys.reconcile_day WHERE report_date IN ('{yesterday}', '{day_before}') ORDER BY report_date")),
        [["1", "0"].map(s).to_vec(), ["1", "1"].map(s).to_vec()]
    );
    // Recorded as a pulled change would be: ledger, IYS's known state, and the row.
    assert_eq!(
        texts(&mut c, &format!("SELECT origin, status::text, source::text FROM iys.consent_ledger WHERE transaction_id = '{ret_id}'")),
        [["iys", "RET", "IYS_KISAMESAJ"].map(s).to_vec()]
    );
    assert_eq!(
        texts(&mut c, "SELECT status::text, origin, transaction_id FROM iys.current_consent WHERE recipient = '+905321110001'"),
        [vec![s("RET"), s("iys"), Some(ret_id.clone())]]
    );
    let applied = cluster.wait_for(Duration::from_secs(20), || {
        let row = texts(&mut c, "SELECT gsm_permission, gsm_source, to_char(gsm_consent_date, 'YYYY-MM-DD HH24:MI:SS') FROM master_contact WHERE contact_id = 1").remove(0);
        (row[0].as_deref() == Some("RET")).then_some(row)
    });
    assert_eq!(applied, Some(vec![s("RET"), s("IYS_KISAMESAJ"), Some(format!("{yesterday} 10:00:00"))]), "log:\n{}", log_tail(&cluster));
    assert!(!can_send(&mut c, "+905321110001", "MESAJ"));
    // Applying IYS's movement is not sent back to it.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 0);
    // The whole last week, each day once; the finding was settled when recorded.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.reconcile_day"), 7);
    let status = c.query_one("SELECT reconciled_through::text, drift FROM iys.sync_status", &[]).unwrap();
    assert_eq!((status.get::<_, String>(0), status.get::<_, i64>(1)), (yesterday.clone(), 0));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sim.answers(|e| e.ends_with("/file"), &[]), 7, "a day reconciled is not fetched again");
}

/// A worker that did not run for more than IYS's 7-day window (server down, iys.enabled off)
/// cannot learn the missed changes from the pull any more: when it runs again, every key it
/// knows is asked with the status queries (reason 'pull_gap'), and IYS's state of a key that
/// changed meanwhile becomes the known state; sync_status says the gap was bridged.
///
/// The eight days pass for both sides: the simulator's clock is moved forward, and the
/// database's record of its last pull and its cached token (both expired after such a pause)
/// are set back.
///
/// Fails with the worker of 2026-12-02: the first round after the pause pulls before it looks
/// for a gap (src/worker/mod.rs: pull, then learn_known_state), the successful pull sets
/// pull_cursor.last_success_at to now, and iys_internal.recover_pull_gap never sees the old date.
#[test]
fn pull_gap_is_bridged_by_status_queries() {
    let sim = Sim::start();
    let mut cluster = Cluster::start("pullgap", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 3);
    let settled = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(settled.get("accepted"), Some(&6), "{settled:?}");
    assert!(one::<bool>(&mut c, "SELECT pull FROM iys.brand WHERE brand_code = '600001'"), "the brand pulls");
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(20), "SELECT last_success_at IS NOT NULL FROM iys.pull_cursor WHERE source = 'IYS'"),
        "no successful pull; log:\n{}",
        log_tail(&cluster)
    );
    assert!(can_send(&mut c, "+905320000002", "MESAJ"));

    // The worker stops for eight days.
    drop(c);
    cluster.pg_ctl_stop("fast");
    sim.sim.advance_clock(8 * 86_400);
    // Meanwhile, twelve hours after our ONAYs, contact 2 withdrew the SMS consent in IYS; a week
    // and a half day later IYS's pull no longer serves it.
    let sim_now = iys_sim::clock::parse_local(&sim.now_turkey()).unwrap();
    let withdrawn = iys_sim::clock::format_local(sim_now - 8 * 86_400 + 12 * 3600);
    seed(&sim, vec![movement("+905320000002", "MESAJ", "RET", "IYS_KISAMESAJ", &withdrawn)]);
    cluster.pg_ctl_start_with("-c iys.enabled=off");
    let mut c = cluster.connect();
    c.batch_execute(
        "UPDATE iys.pull_cursor SET last_success_at = last_success_at - interval '8 days', last_attempt_at = last_attempt_at - interval '8 days';
         DELETE FROM iys.token;",
    )
    .unwrap();
    assert!(one::<Option<String>>(&mut c, "SELECT warning FROM iys.sync_status").is_some_and(|w| w.contains("pull gap")));
    drop(c);
    cluster.pg_ctl_stop("fast");
    cluster.pg_ctl_start();
    let mut c = cluster.connect();

    let bridged = wait_true(
        &cluster,
        &mut c,
        Duration::from_secs(30),
        "SELECT (SELECT gap_rechecked_at IS NOT NULL FROM iys.pull_cursor WHERE source = 'IYS')
            AND EXISTS (SELECT 1 FROM iys.status_check WHERE reason = 'pull_gap')
            AND NOT EXISTS (SELECT 1 FROM iys.status_check WHERE state <> 'done')",
    );
    assert!(
        bridged,
        "the pull gap was not bridged: pull_cursor {:?}, status checks {}\nlog:\n{}",
        texts(&mut c, "SELECT source, last_success_at::text, gap_rechecked_at::text, gap_keys::text FROM iys.pull_cursor ORDER BY source"),
        one::<i64>(&mut c, "SELECT count(*) FROM iys.status_check"),
        log_tail(&cluster)
    );
    // Every key pg_iys knew was asked: three contacts, two channels.
    assert_eq!(one::<i64>(&mut c, "SELECT gap_keys FROM iys.pull_cursor WHERE source = 'IYS'"), 6);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.status_check WHERE reason = 'pull_gap' AND state = 'done'"), 6);
    // IYS's RET is the known state now: no more messages to contact 2's phone.
    assert_eq!(
        texts(&mut c, "SELECT status::text, origin, source::text FROM iys.current_consent WHERE recipient = '+905320000002' AND consent_type = 'MESAJ'"),
        [["RET", "import", "IYS_KISAMESAJ"].map(s).to_vec()]
    );
    assert!(!can_send(&mut c, "+905320000002", "MESAJ"));
    assert!(can_send(&mut c, "+905320000001", "MESAJ"));
    assert!(can_send(&mut c, "user2@example.com", "EPOSTA"));
    assert_eq!(
        texts(&mut c, "SELECT recipient, local_status, iys_status FROM iys.drift"),
        [["+905320000002", "ONAY", "RET"].map(s).to_vec()]
    );
    let gap: Option<String> = one(&mut c, "SELECT pull_gap FROM iys.sync_status");
    assert!(gap.as_deref().is_some_and(|g| g.contains("6 key(s) rechecked")), "{gap:?}");
}
