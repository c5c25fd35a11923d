//! The worker sends committed changes to IYS (the simulator) and settles each one, through
//! faults, token trouble and crashes, losing and duplicating nothing.

use pg_iys_e2e::{insert_contacts, setup_sync, wait_settled, wait_true, Cluster, Sim};
use serde_json::json;
use std::time::Duration;

const FAST: &[&str] = &["iys.flush_interval = 200", "iys.http_timeout = 2000", "iys.backoff_cap = 1000"];

#[test]
fn committed_changes_reach_iys_and_are_settled_with_transaction_ids() {
    let sim = Sim::start();
    let cluster = Cluster::start("flush", FAST);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 10);
    let states = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(states.get("accepted"), Some(&20), "{states:?}");
    // The worker reports its table statistics (autovacuum must see the queue's dead rows) and
    // its activity.
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(10), "SELECT n_tup_upd > 0 FROM pg_stat_user_tables WHERE schemaname = 'iys' AND relname = 'outbox'"),
        "the worker's updates of iys.outbox never reached pg_stat_user_tables"
    );
    let state: Option<String> = c.query_one("SELECT state FROM pg_stat_activity WHERE backend_type = 'pg_iys worker'", &[]).unwrap().get(0);
    assert!(matches!(state.as_deref(), Some("idle" | "active")), "{state:?}");
    // IYS has them, each once.
    let by = sim.movements_by_recipient();
    assert_eq!(by.len(), 20);
    assert!(by.values().all(|n| *n == 1), "{by:?}");
    assert_eq!(by.get("+905320000003"), Some(&1));
    // Transaction ids reach the outbox, and the history shows them with each local movement.
    let missing: i64 = c.query_one("SELECT count(*) FROM iys.outbox WHERE transaction_id IS NULL", &[]).unwrap().get(0);
    assert_eq!(missing, 0);
    let history: i64 = c
        .query_one("SELECT count(*) FROM iys.consent_history WHERE origin = 'local' AND outcome = 'accepted' AND transaction_id IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(history, 20);
    // A later change of one consent follows.
    c.batch_execute("UPDATE master_contact SET gsm_permission = 'RET', gsm_consent_date = now() AT TIME ZONE 'Europe/Istanbul' WHERE contact_id = 1").unwrap();
    wait_settled(&cluster, Duration::from_secs(30));
    let consents = sim.admin_get("/admin/consents?recipient=%2B905320000001");
    assert_eq!(consents[0]["status"], "RET", "{consents}");
    // The status row shows the worker.
    let row = c.query_one("SELECT pid IS NOT NULL, last_flush_at IS NOT NULL FROM iys.worker_state", &[]).unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
    // Secrets stay out of the server log.
    assert!(!cluster.server_log().contains("demo-password"));
}

#[test]
fn rejections_surface_with_iys_codes_and_do_not_block_other_rows() {
    let sim = Sim::start();
    let cluster = Cluster::start("rejects", FAST);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // Rows the triggers would never queue, written straight into the outbox as poison:
    // a first record that is RET (per item: H175, settled not_in_iys) and a date too old (H467).
    c.batch_execute(
        "INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date) VALUES
           ('600001', '+905551110001', 'BIREYSEL', 'MESAJ', 'RET',  'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '1 hour'),
           ('600001', '+905551110002', 'BIREYSEL', 'MESAJ', 'ONAY', 'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '30 days'),
           ('600001', '+905551110003', 'BIREYSEL', 'MESAJ', 'ONAY', 'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '1 hour')",
    )
    .unwrap();
    wait_settled(&cluster, Duration::from_secs(30));
    let rows = c.query("SELECT recipient, state, coalesce(error_code, '') FROM iys.outbox ORDER BY recipient", &[]).unwrap();
    let got: Vec<(String, String, String)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(
        got,
        [
            ("+905551110001".into(), "not_in_iys".into(), "H175".into()),
            ("+905551110002".into(), "rejected".into(), "H467".into()),
            ("+905551110003".into(), "accepted".into(), "".into()),
        ]
    );
}

#[test]
fn faults_end_with_every_change_delivered_once() {
    let sim = Sim::start();
    let cluster = Cluster::start("faults", &["iys.flush_interval = 100", "iys.http_timeout = 300", "iys.backoff_cap = 500", "iys.batch_size = 50"]);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // First a mix of everything at random rates, then each fault alone at 100 % while a fresh
    // wave of changes is committed (the commit wakes the worker, so the fault is met for sure),
    // then cleared.
    sim.admin_post("/admin/faults", json!({"error_rate": 0.3, "burst_429": 5, "drop_rate": 0.15, "lost_reply_rate": 0.15}));
    insert_contacts(&mut c, 1, 100);
    std::thread::sleep(Duration::from_secs(1));
    sim.clear_faults();
    // Each fault stays on until the simulator has served it at least once (IYS's pace: the
    // worker's next call may be seconds away), then is cleared.
    let phases: [(serde_json::Value, &[&str]); 6] = [
        (json!({"error_rate": 1.0}), &["500", "503"]), // 500 H101 / 503 H192
        (json!({"drop_rate": 1.0}), &["dropped"]),     // connection closed, no answer
        (json!({"lost_reply_rate": 1.0}), &["lost_reply"]), // processed by IYS, answer lost
        (json!({"burst_429": 5}), &["429"]),           // 429 H124
        (json!({"revoke_tokens": true}), &["401"]),    // 401 H351
        (json!({"latency_ms": 400}), &[]),             // slower than iys.http_timeout
    ];
    let served = |outcomes: &[&str]| sim.answers(|_| true, outcomes);
    let mut next = 101;
    for (phase, outcomes) in phases {
        let before = served(outcomes);
        sim.admin_post("/admin/faults", phase);
        insert_contacts(&mut c, next, 20);
        next += 20;
        let met = cluster.wait_for(Duration::from_secs(20), || (outcomes.is_empty() || served(outcomes) > before).then_some(()));
        if outcomes.is_empty() {
            std::thread::sleep(Duration::from_millis(1500));
        }
        assert!(met.is_some(), "the worker never met {outcomes:?}");
        sim.clear_faults();
    }
    let total = 2 * (next - 1);
    let states = wait_settled(&cluster, Duration::from_secs(120));
    assert_eq!(states.get("accepted"), Some(&total), "{states:?}");
    // The faults really happened.
    let stats = sim.admin_get("/admin/stats")["endpoints"].to_string();
    // The simulator answers an injected server error with 500 H101 or 503 H192, at random.
    assert!(stats.contains("\"500\"") || stats.contains("\"503\""), "no 5xx answer was served: {stats}");
    for outcome in ["\"429\"", "\"dropped\"", "\"lost_reply\"", "\"401\""] {
        assert!(stats.contains(outcome), "no {outcome} answer was served: {stats}");
    }
    let by = sim.movements_by_recipient();
    assert_eq!(by.len() as i64, total, "every change reached IYS");
    let dup: Vec<_> = by.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "duplicated movements in IYS: {dup:?}");
}

#[test]
fn h084_halts_token_calls_for_the_hour_and_keeps_rows_pending() {
    let sim = Sim::start();
    let cluster = Cluster::start("h084", FAST);
    let mut c = cluster.connect();
    sim.admin_post("/admin/faults", json!({"token_limit_hit": true}));
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 2);
    let halted = cluster.wait_for(Duration::from_secs(20), || {
        let row = c.query_opt("SELECT halted_until > now() + interval '50 minutes' FROM iys.token WHERE iys_code = '700001'", &[]).ok()??;
        row.get::<_, Option<bool>>(0).filter(|h| *h)
    });
    assert!(halted.is_some(), "no persisted halt; log:\n{}", cluster.server_log());
    let before = sim.admin_get("/admin/stats");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sim.admin_get("/admin/stats")["endpoints"]["POST /oauth2/token"], before["endpoints"]["POST /oauth2/token"], "token calls during the halt");
    let pending: i64 = c.query_one("SELECT count(*) FROM iys.outbox WHERE state = 'pending'", &[]).unwrap().get(0);
    assert_eq!(pending, 4);
    // The halt survives a server restart (it is in a table, not in memory).
    drop(c);
    let mut cluster = cluster;
    cluster.pg_ctl_stop("fast");
    cluster.pg_ctl_start();
    let mut c = cluster.connect();
    let still: bool = c.query_one("SELECT halted_until > now() FROM iys.token", &[]).unwrap().get(0);
    assert!(still);
    // The operator lifts it (IYS confirmed the block is gone): the rows go out.
    sim.clear_faults();
    let lifted: bool = c.query_one("SELECT iys.lift_token_halt('700001')", &[]).unwrap().get(0);
    assert!(lifted);
    let states = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(states.get("accepted"), Some(&4), "{states:?}");
    let again: bool = c.query_one("SELECT iys.lift_token_halt('700001')", &[]).unwrap().get(0);
    assert!(!again, "nothing left to lift");
}

/// Rows backed off during an outage go as soon as IYS answers again, not when their (long)
/// backoff ends; the worker's last error clears once it works again.
#[test]
fn backoff_ends_and_the_last_error_clears_when_iys_answers_again() {
    let sim = Sim::start();
    let cluster = Cluster::start(
        "recovery",
        &["iys.flush_interval = 100", "iys.http_timeout = 2000", "iys.backoff_cap = 600000"],
    );
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    sim.admin_post("/admin/faults", json!({"error_rate": 1.0}));
    insert_contacts(&mut c, 1, 1);
    let failed = cluster.wait_for(Duration::from_secs(20), || {
        let n: i64 = c
            .query_one("SELECT count(*) FROM iys.outbox WHERE state = 'pending' AND error_code IS NOT NULL AND next_attempt_at > now()", &[])
            .ok()?
            .get(0);
        (n == 2).then_some(())
    });
    assert!(failed.is_some(), "the outage did not back the rows off; log:\n{}", cluster.server_log());
    // As after many failed attempts: the next one would be minutes away.
    c.batch_execute("UPDATE iys.outbox SET attempts = 10, next_attempt_at = now() + interval '10 minutes' WHERE state = 'pending'").unwrap();
    let error: Option<String> = c.query_one("SELECT last_error FROM iys.worker_state", &[]).unwrap().get(0);
    assert!(error.is_some(), "the outage left no last_error");

    sim.clear_faults();
    insert_contacts(&mut c, 2, 1);
    let states = wait_settled(&cluster, Duration::from_secs(15));
    assert_eq!(states.get("accepted"), Some(&4), "{states:?}");
    let cleared = cluster.wait_for(Duration::from_secs(5), || {
        let error: Option<String> = c.query_one("SELECT last_error FROM iys.worker_state", &[]).ok()?.get(0);
        error.is_none().then_some(())
    });
    assert!(cleared.is_some(), "last_error stayed after the recovery");
}

#[test]
fn kill_9_of_worker_and_postmaster_mid_flush_loses_nothing() {
    let sim = Sim::start();
    let mut cluster = Cluster::start("crash", &["iys.flush_interval = 100", "iys.http_timeout = 2000", "iys.batch_size = 100"]);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // Slow answers keep batches in flight while the processes die.
    sim.admin_post("/admin/faults", json!({"latency_ms": 150}));
    insert_contacts(&mut c, 1, 300);
    // Kill as soon as the first batches are out and others still wait (polled, not a fixed
    // sleep: a busy machine starts the flush later).
    let mut counts = (0, 0);
    let mid_flush = cluster.wait_for(Duration::from_secs(30), || {
        let row = c
            .query_one("SELECT count(*) FILTER (WHERE state IN ('pending', 'in_flight')), count(*) FILTER (WHERE state <> 'pending') FROM iys.outbox", &[])
            .ok()?;
        counts = (row.get::<_, i64>(0), row.get::<_, i64>(1));
        (counts.0 > 0 && counts.1 > 0).then_some(())
    });
    assert!(mid_flush.is_some(), "the kill must land mid-flush ({} unsettled, {} sent)", counts.0, counts.1);
    let pid = cluster.worker_pid(&mut c).expect("worker running");
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    drop(c);
    std::thread::sleep(Duration::from_millis(1500));
    // Now the whole server, without a clean shutdown.
    cluster.wait_for(Duration::from_secs(30), || postgres::Client::connect(&cluster.conn_string("postgres"), postgres::NoTls).ok());
    insert_contacts(&mut cluster.connect(), 301, 100);
    std::thread::sleep(Duration::from_millis(500));
    cluster.pg_ctl_stop("immediate");
    cluster.pg_ctl_start();
    sim.admin_post("/admin/faults", json!({"latency_ms": 0}));
    let states = wait_settled(&cluster, Duration::from_secs(120));
    assert_eq!(states.get("accepted"), Some(&800), "{states:?}");
    let by = sim.movements_by_recipient();
    assert_eq!(by.len(), 800, "every committed change reached IYS");
    let dup: Vec<_> = by.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "duplicated movements in IYS: {dup:?}");
}

#[test]
fn a_batch_whose_request_id_could_not_be_recorded_is_sent_again_without_a_duplicate() {
    let sim = Sim::start();
    let cluster = Cluster::start("unrecorded", FAST);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // The first attempt to record a request id fails, as any ERROR in that transaction would,
    // after IYS has taken the batch. (A sequence: its step survives the rollback. Qualified: the
    // worker's search_path is pg_catalog, pg_temp.)
    c.batch_execute(
        "CREATE SEQUENCE fail_seq;
         CREATE FUNCTION fail_first_mark_sent() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.state = 'sent' AND nextval('public.fail_seq') = 1 THEN
                 RAISE EXCEPTION 'simulated failure while recording the request id';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER a_fail BEFORE UPDATE ON iys.batch FOR EACH ROW EXECUTE FUNCTION fail_first_mark_sent();",
    )
    .unwrap();
    insert_contacts(&mut c, 1, 5);
    let states = wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(states.get("accepted"), Some(&10), "{states:?}; log:\n{}", cluster.server_log());
    // The failure happened, the batch was put back and sent again...
    let failed: i64 = c.query_one("SELECT last_value FROM fail_seq", &[]).unwrap().get(0);
    assert!(failed >= 2, "the failing trigger never ran");
    assert!(cluster.server_log().contains("never recorded as sent are pending again"), "log:\n{}", cluster.server_log());
    let released: i64 = c
        .query_one("SELECT count(*) FROM iys.batch WHERE state = 'done' AND request_id IS NULL AND note LIKE 'claimed but never recorded%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(released, 1);
    // ...and IYS's V2 idempotency absorbed the resend: each consent once in its history.
    let by = sim.movements_by_recipient();
    assert_eq!(by.len(), 10, "{by:?}");
    assert!(by.values().all(|n| *n == 1), "{by:?}");
}

/// Database hosts often reach the internet only through a proxy: with iys.http_proxy every call
/// (token, submit, result, pull) goes through it.
#[test]
fn every_call_goes_through_the_configured_proxy() {
    let sim = Sim::start();
    let proxy = pg_iys_e2e::TestProxy::start();
    let setting = format!("iys.http_proxy = '{}'", proxy.url());
    let cluster = Cluster::start("proxy", &["iys.flush_interval = 200", "iys.http_timeout = 2000", "iys.pull_interval = 500", &setting]);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 2);
    let states = wait_settled(&cluster, Duration::from_secs(40));
    assert_eq!(states.get("accepted"), Some(&4), "{states:?}");
    let served = sim.answers(|_| true, &[]);
    assert!(served >= 3, "{served}");
    assert!(proxy.forwarded() as u64 >= served, "the simulator served {served} requests, the proxy forwarded {}", proxy.forwarded());
    // Only superusers see the setting (it may hold a password).
    c.batch_execute("CREATE ROLE plain LOGIN").unwrap();
    let mut plain = pg_iys_e2e::postgres::Client::connect(
        &format!("host=127.0.0.1 port={} user=plain dbname=postgres", cluster.port),
        pg_iys_e2e::postgres::NoTls,
    )
    .unwrap();
    assert!(plain.query_one("SHOW iys.http_proxy", &[]).is_err());
}

/// A commit that queued changes wakes the worker through its latch at once: with a one-minute
/// fallback poll the batch still leaves within a second or two.
#[test]
fn a_commit_wakes_the_worker_at_once() {
    let sim = Sim::start();
    let cluster = Cluster::start("wake", &["iys.flush_interval = 60000", "iys.pull_interval = 60000", "iys.http_timeout = 2000"]);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // Let the worker finish its first rounds (token, first pull) and go to sleep.
    std::thread::sleep(Duration::from_secs(3));
    insert_contacts(&mut c, 1, 1);
    assert!(
        wait_true(&cluster, &mut c, Duration::from_secs(3), "SELECT EXISTS (SELECT 1 FROM iys.batch WHERE state IN ('sent', 'done'))"),
        "the commit did not wake the worker"
    );
}
