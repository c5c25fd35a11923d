//! The worker under IYS's real timing, limits and account states (the simulator's defaults, on
//! a clock SIM_CLOCK_SPEED times faster): results fetched once, after IYS's delay; batches that
//! never answer are sent again and settled from IYS's answer; account-level refusals pause and
//! resume with nothing rejected; every shape of H084 halts the token calls; rejected rows can be
//! requeued; the claim keeps IYS's list rules; requests are counted against IYS's quality rule.

use pg_iys_e2e::{citizen_change, insert_contacts, one, setup_sync, wait_settled, wait_true, wait_worker_recovered, log_tail, Cluster, Sim, RESULT_DELAY_MS};
use serde_json::json;
use std::time::Duration;

const CONF: &[&str] = &["iys.flush_interval = 200", "iys.http_timeout = 2000", "iys.backoff_cap = 1000", "iys.pull_interval = 500"];

/// IYS answers a batch's result only 300 s after the submit (empty before): the worker asks
/// once, after that delay, and never exceeds IYS's 10 requests/s.
#[test]
fn batch_results_are_fetched_once_after_iys_delay() {
    let sim = Sim::start();
    let cluster = Cluster::start("timing_once", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 5);
    let states = wait_settled(&cluster, Duration::from_secs(40));
    assert_eq!(states.get("accepted"), Some(&10), "{states:?}");
    let submits = sim.answers(|e| e.starts_with("POST") && e.contains("/consents/request"), &[]);
    let fetches = sim.answers(|e| e.starts_with("GET") && e.contains("/consents/request/"), &[]);
    assert!(submits >= 1);
    assert_eq!(fetches, submits, "one result fetch per batch");
    // Settled no earlier than IYS's delay after the submit.
    let early: i64 = one(
        &mut c,
        &format!(
            "SELECT count(*) FROM iys.outbox o JOIN iys.batch b ON b.id = o.batch_id
              WHERE o.state = 'accepted' AND o.settled_at < b.sent_at + interval '{RESULT_DELAY_MS} milliseconds'"
        ),
    );
    assert_eq!(early, 0, "a result was fetched before IYS's delay");
    assert_eq!(sim.answers(|_| true, &["429"]), 0, "the worker exceeded IYS's request rate");
}

/// A batch whose result stays empty past iys.result_timeout is sent again; IYS's V2 endpoint
/// answers the resend of what it already has with the original outcome: every change ends
/// accepted, and IYS keeps each movement once.
#[test]
fn a_batch_without_result_is_sent_again_and_settled_once() {
    let sim = Sim::start();
    let mut conf = CONF.to_vec();
    conf.push("iys.result_timeout = 8000");
    let cluster = Cluster::start("timing_expiry", &conf);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // IYS does not answer this batch for a simulated day (far past the worker's timeout, yet
    // short enough that the consents stay within IYS's 3-business-day window).
    sim.admin_post("/admin/config", json!({"batch_delay_ms": 86_400_000u64}));
    insert_contacts(&mut c, 1, 3);
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(40), "SELECT EXISTS (SELECT 1 FROM iys.batch WHERE note LIKE 'no result within%')"),
        "the unanswered batch was never sent again; log:\n{}",
        log_tail(&cluster)
    );
    let resent_rows: i64 = one(&mut c, "SELECT count(*) FROM iys.outbox WHERE error_message LIKE 'no result within%' OR state IN ('pending', 'in_flight')");
    assert!(resent_rows > 0);
    // IYS works through its queue (in submission order) again: the first batch, then the resend.
    sim.admin_post("/admin/config", json!({"batch_delay_ms": 300_000u64}));
    sim.admin_post("/admin/clock", json!({"advance_secs": 86_400}));
    let states = wait_settled(&cluster, Duration::from_secs(60));
    let errors: Vec<String> = c.query("SELECT DISTINCT coalesce(error_code, '') || ' ' || coalesce(error_message, '') FROM iys.outbox", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(states.get("accepted"), Some(&6), "{states:?} {errors:?}");
    let seen = sim.movements_by_recipient();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "a movement was recorded twice: {seen:?}");
}

/// IYS refusing the account or brand (subscription, quota, authorisation, an unknown brand) is
/// no defect of the records: the brand pauses with IYS's code in iys.sync_status, nothing is
/// rejected, and sending resumes after the operator's iys.resume() or a successful probe.
#[test]
fn account_refusals_pause_and_resume_with_nothing_rejected() {
    let sim = Sim::start();
    let cluster = Cluster::start("timing_refusals", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    let mut from = 1;
    for (refusal, code) in [
        (json!({"status": 403, "code": "H520"}), "H520"),
        (json!({"status": 403, "code": "H353"}), "H353"),
        (json!({"status": 422, "code": "H525"}), "H525"),
        (json!({"status": 404}), "HTTP404"),
    ] {
        sim.admin_post("/admin/faults", json!({ "account_refusal": refusal }));
        insert_contacts(&mut c, from, 2);
        from += 2;
        assert!(
            wait_true(
                &cluster,
                &mut c,
                Duration::from_secs(30),
                &format!("SELECT state = 'paused' AND paused_code = '{code}' FROM iys.sync_status")
            ),
            "{code}: not paused: {:?}; log:\n{}",
            c.query_one("SELECT state, paused_code, paused_reason FROM iys.sync_status", &[]).map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1), r.get::<_, Option<String>>(2))),
            log_tail(&cluster)
        );
        assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE state = 'rejected'"), 0, "{code}: rows were rejected");
        assert!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE state = 'pending'") > 0);
        sim.clear_faults();
        if code == "H525" {
            // No operator: the probe time comes (here: now) and the next call is the probe.
            c.batch_execute("UPDATE iys.account SET probe_at = now(); UPDATE iys.brand SET probe_at = now()").unwrap();
        } else {
            assert_eq!(one::<i32>(&mut c, "SELECT iys.resume('700001')"), 1, "{code}");
        }
        let states = wait_settled(&cluster, Duration::from_secs(40));
        assert_eq!(states.get("accepted").copied(), Some((from as i64 - 1) * 2), "{code}: {states:?}");
        assert!(wait_true(&cluster, &mut c, Duration::from_secs(10), "SELECT state = 'active' FROM iys.sync_status"), "{code}: still paused");
    }
}

/// IYS does not document H084's body: any 429 of the token endpoint, in any shape, halts token
/// calls for the hour.
#[test]
fn every_shape_of_h084_halts_token_calls() {
    let sim = Sim::start();
    let cluster = Cluster::start("timing_h084", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    let mut from = 1;
    for shape in ["errors", "flat", "empty"] {
        // The cached token has run out: the worker must ask the token endpoint. The fault first:
        // a token call the worker makes between the two (its first login, still under way after
        // setup) meets it too, instead of fetching a token that makes the next call unnecessary.
        sim.admin_post("/admin/faults", json!({"token_limit_hit": true, "token_limit_shape": shape}));
        c.batch_execute("UPDATE iys.token SET access_token = NULL, refresh_token = NULL").unwrap();
        insert_contacts(&mut c, from, 1);
        from += 1;
        assert!(
            wait_true(
                &cluster,
                &mut c,
                Duration::from_secs(20),
                "SELECT halted_until > now() + interval '50 minutes' FROM iys.token WHERE iys_code = '700001'"
            ),
            "{shape}: no halt; log:\n{}",
            log_tail(&cluster)
        );
        sim.clear_faults();
        assert!(one::<bool>(&mut c, "SELECT iys.lift_token_halt('700001')"));
        wait_settled(&cluster, Duration::from_secs(40));
    }
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE state = 'accepted'"), 6);
}

/// After the cause is fixed, rejected rows go out again: by IYS code, by id, by brand.
#[test]
fn rejected_rows_are_requeued_after_the_cause_is_fixed() {
    let sim = Sim::start();
    let cluster = Cluster::start("timing_requeue", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // A first record that is RET: IYS refuses it (H175) while it holds no ONAY.
    c.batch_execute(
        "INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date) VALUES
           ('600001', '+905551110001', 'BIREYSEL', 'MESAJ', 'RET', 'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '1 hour')",
    )
    .unwrap();
    wait_settled(&cluster, Duration::from_secs(40));
    assert_eq!(one::<String>(&mut c, "SELECT error_code FROM iys.outbox"), "H175");
    let (code, _) = pg_iys_e2e::expect_error(&mut c, "SELECT iys.requeue_rejected()");
    assert_eq!(code, "22023");
    // The cause goes away: IYS now holds an older ONAY of the citizen's.
    let two_hours_ago = iys_sim::clock::format_turkey_ms(iys_sim::clock::wall_ms() - 2 * 3_600_000);
    citizen_change(&sim, "+905551110001", "ONAY", Some(&two_hours_ago));
    assert_eq!(one::<i64>(&mut c, "SELECT iys.requeue_rejected(error_code => 'H175')"), 1);
    let states = wait_settled(&cluster, Duration::from_secs(40));
    assert_eq!(states.get("accepted"), Some(&1), "{states:?}");
    assert_eq!(one::<i64>(&mut c, "SELECT iys.requeue_rejected(brand_code => '600001')"), 0, "nothing left to requeue");
}

/// The claim keeps IYS's list rules: a change past the 3-business-day window is rejected here
/// with H467 instead of being sent, and one recipient never goes with two statuses in a batch.
#[test]
fn the_claim_rejects_late_changes_and_keeps_one_status_per_recipient() {
    let cluster = Cluster::start("timing_claim", &["iys.enabled = off"]);
    let mut c = cluster.connect();
    c.batch_execute(
        "CREATE EXTENSION pg_iys;
         INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700001', 'https://api.iys.org.tr', 'u', 'p');
         INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600001', '700001');
         INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date) VALUES
           ('600001', '+905321110001', 'BIREYSEL', 'MESAJ',  'ONAY', 'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '1 hour'),
           ('600001', '+905321110001', 'BIREYSEL', 'ARAMA',  'RET',  'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '1 hour'),
           ('600001', '+905321110002', 'BIREYSEL', 'MESAJ',  'ONAY', 'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '10 days'),
           ('600001', '+905321110003', 'BIREYSEL', 'MESAJ',  'ONAY', 'HS_2015', '2015-05-01 00:00:00')",
    )
    .unwrap();
    wait_worker_recovered(&cluster, &mut c);
    let claimed: Vec<(String, String)> = c
        .query("SELECT recipient, consent_type::text FROM iys_internal.claim_batch('600001', 1000) ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(claimed, [("+905321110001".to_owned(), "MESAJ".to_owned()), ("+905321110003".to_owned(), "MESAJ".to_owned())]);
    let late: (String, String, String) = {
        let r = c.query_one("SELECT state, error_code, error_message FROM iys.outbox WHERE recipient = '+905321110002'", &[]).unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((late.0.as_str(), late.1.as_str()), ("rejected", "H467"), "{late:?}");
    assert_eq!(one::<String>(&mut c, "SELECT state FROM iys.outbox WHERE consent_type = 'ARAMA'"), "pending");
    // The other status of that recipient goes in the next batch.
    let next: Vec<String> = c.query("SELECT consent_type::text FROM iys_internal.claim_batch('600001', 1000)", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(next, ["ARAMA"]);
}

/// Requests and successful answers are counted per account and Turkey day; near IYS's line
/// (>= 20,000 requests under 70 % success removes the IP) the account pauses for the day.
#[test]
fn requests_are_counted_and_the_quality_guard_pauses_the_account() {
    let sim = Sim::start();
    let cluster = Cluster::start("timing_quality", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 1);
    wait_settled(&cluster, Duration::from_secs(40));
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(10), "SELECT requests >= 3 AND successes = requests FROM iys.request_count WHERE iys_code = '700001'"),
        "{:?}",
        c.query_one("SELECT requests, successes FROM iys.request_count", &[]).map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
    );
    assert_eq!(one::<String>(&mut c, "SELECT verdict FROM iys.request_quality"), "ok");
    // As if most of today's requests had failed.
    c.batch_execute("UPDATE iys.request_count SET requests = 12000, successes = 8000").unwrap();
    insert_contacts(&mut c, 2, 1);
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(30), "SELECT state = 'paused' AND paused_code = 'PGIYS_QUALITY' FROM iys.sync_status"),
        "log:\n{}",
        log_tail(&cluster)
    );
    // Until the next Turkey day.
    assert!(one::<bool>(&mut c, "SELECT next_probe_at > now() AND next_probe_at <= now() + interval '1 day' FROM iys.sync_status"));
}
