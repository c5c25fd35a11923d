//! Pulling citizens' changes from IYS, sync mode, conflicts, can_send and the status views, with
//! a real cluster and the simulator.

use pg_iys_e2e::{citizen_change, insert_contacts, one, setup_sync, wait_settled, Cluster, Sim};
use serde_json::json;
use std::time::Duration;

const CONF: &[&str] = &[
    "iys.flush_interval = 100",
    "iys.pull_interval = 200",
    "iys.http_timeout = 2000",
    "iys.backoff_cap = 500",
];

#[test]
fn a_citizen_ret_in_iys_reaches_the_table_and_stops_sending() {
    let sim = Sim::start();
    let cluster = Cluster::start("pull", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 1);
    wait_settled(&cluster, Duration::from_secs(30));
    assert!(one::<bool>(&mut c, "SELECT iys.can_send('+905320000001', 'MESAJ')"));
    assert!(one::<bool>(&mut c, "SELECT iys.can_send('user1@example.com', 'EPOSTA', '600001')"));
    assert!(!one::<bool>(&mut c, "SELECT iys.can_send('+905329999999', 'MESAJ')"), "unknown recipient");

    // The citizen sends RET to 3338: IYS has a newer RET.
    citizen_change(&sim, "+905320000001", "RET", None);
    let reached = cluster.wait_for(Duration::from_secs(20), || {
        let row = c.query_one("SELECT gsm_permission, gsm_source FROM master_contact WHERE contact_id = 1", &[]).ok()?;
        (row.get::<_, String>(0) == "RET").then(|| row.get::<_, String>(1))
    });
    assert_eq!(reached.as_deref(), Some("IYS_KISAMESAJ"), "log:\n{}", cluster.server_log());
    assert!(!one::<bool>(&mut c, "SELECT iys.can_send('+905320000001', 'MESAJ')"));
    assert!(one::<bool>(&mut c, "SELECT iys.can_send('user1@example.com', 'EPOSTA')"), "the other channel is untouched");
    // Not echoed back to IYS, recorded in the ledger with IYS's transaction id.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"), 2);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE origin = 'iys' AND transaction_id IS NOT NULL"), 1);
    // Our own movements come back in the HS pull and are recognised by transaction id.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE origin = 'iys'"), 1);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.pull_cursor WHERE last_success_at IS NOT NULL"), 2);
    let status: Option<String> = one(&mut c, "SELECT warning FROM iys.sync_status");
    assert_eq!(status, None, "a fresh pull raises no warning");
}

/// A table that refuses IYS's changes holds up nothing: the page is recorded and the cursor
/// moves; the changes wait in the quarantine with the table's reason and are applied once, when
/// the operator retries them after the cause is gone.
#[test]
fn a_table_refusing_pulled_changes_quarantines_them_and_a_retry_applies_them_once() {
    let sim = Sim::start();
    let cluster = Cluster::start("pullcrash", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 3);
    wait_settled(&cluster, Duration::from_secs(30));
    c.batch_execute(
        "CREATE TABLE refuse (on_ boolean); INSERT INTO refuse VALUES (true);
         CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF EXISTS (SELECT 1 FROM refuse) THEN RAISE EXCEPTION 'simulated failure while applying'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER a_refuse BEFORE UPDATE ON master_contact FOR EACH ROW EXECUTE FUNCTION refuse_writes();",
    )
    .unwrap();
    for n in 1..=3 {
        citizen_change(&sim, &format!("+90532000000{n}"), "RET", None);
    }
    let quarantined = cluster.wait_for(Duration::from_secs(20), || {
        (one::<i64>(&mut c, "SELECT count(*) FROM iys.pull_quarantine WHERE error LIKE '%simulated failure while applying%'") == 3).then_some(())
    });
    assert!(quarantined.is_some(), "log:\n{}", cluster.server_log());
    // Recorded once, cursor moved, no pull error: the next changes are not held up.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE origin = 'iys'"), 3);
    assert_eq!(one::<i64>(&mut c, "SELECT applied_changes FROM iys.pull_cursor WHERE source = 'IYS'"), 3);
    assert_eq!(one::<Option<String>>(&mut c, "SELECT last_error FROM iys.pull_cursor WHERE source = 'IYS'"), None);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM master_contact WHERE gsm_permission = 'RET'"), 0);
    // The cause goes away; the operator retries: each change applied exactly once.
    c.batch_execute("DELETE FROM refuse").unwrap();
    assert_eq!(one::<i64>(&mut c, "SELECT iys.retry_quarantined()"), 3);
    let applied = cluster.wait_for(Duration::from_secs(20), || {
        (one::<i64>(&mut cluster.connect(), "SELECT count(*) FROM master_contact WHERE gsm_permission = 'RET'") == 3).then_some(())
    });
    assert!(applied.is_some(), "log:\n{}", cluster.server_log());
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.pull_quarantine"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.inbox"), 0);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.consent_ledger WHERE origin = 'iys'"), 3);
    assert_eq!(one::<i64>(&mut c, "SELECT count(DISTINCT transaction_id) FROM iys.consent_ledger WHERE origin = 'iys'"), 3);
    // Applying wrote the table without queueing anything back to IYS.
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox WHERE status = 'RET'"), 0);
}

#[test]
fn sync_mode_refuses_creations_and_sends_updates() {
    let sim = Sim::start();
    let cluster = Cluster::start("syncmode", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    c.batch_execute("UPDATE iys.brand SET mode = 'sync'").unwrap();
    // IYS already holds an ONAY for contact 2's number (made by the citizen), none for contact 1's.
    citizen_change(&sim, "+905320000002", "ONAY", None);
    let pulled = cluster.wait_for(Duration::from_secs(20), || {
        (one::<i64>(&mut cluster.connect(), "SELECT count(*) FROM iys.current_consent") >= 1).then_some(())
    });
    assert!(pulled.is_some());
    insert_contacts(&mut c, 1, 1);
    wait_settled(&cluster, Duration::from_secs(30));
    let refused: Vec<(String, String, String)> = c
        .query("SELECT recipient, state, error_code FROM iys.outbox WHERE state = 'rejected' ORDER BY recipient", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(refused.len(), 2, "both channels of the new contact are creations: {refused:?}");
    assert!(refused.iter().all(|(_, _, code)| code == "PGIYS_SYNC_MODE"));
    let reason: String = one(&mut c, "SELECT min(error_message) FROM iys.rejections WHERE error_code = 'PGIYS_SYNC_MODE'");
    assert!(reason.contains("sync mode"), "{reason}");
    // An update of a consent IYS has is sent.
    c.batch_execute(
        "INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('+905320000002', 'RET', now() AT TIME ZONE 'Europe/Istanbul', 'HS_WEB')",
    )
    .unwrap();
    wait_settled(&cluster, Duration::from_secs(30));
    assert_eq!(one::<String>(&mut c, "SELECT state FROM iys.outbox WHERE recipient = '+905320000002'"), "accepted");
}

#[test]
fn a_tie_becomes_a_conflict_unless_ret_wins() {
    let sim = Sim::start();
    let cluster = Cluster::start("conflict", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 2);
    wait_settled(&cluster, Duration::from_secs(30));
    // IYS reports a RET with exactly our consent date: a tie.
    let date: String = one(&mut c, "SELECT to_char(gsm_consent_date, 'YYYY-MM-DD HH24:MI:SS') FROM master_contact WHERE contact_id = 1");
    citizen_change(&sim, "+905320000001", "RET", Some(&date));
    let conflict = cluster.wait_for(Duration::from_secs(20), || {
        (one::<i64>(&mut cluster.connect(), "SELECT count(*) FROM iys.conflicts") == 1).then_some(())
    });
    assert!(conflict.is_some(), "log:\n{}", cluster.server_log());
    let row = c.query_one("SELECT recipient, local_status, iys_status::text, source_key FROM iys.conflicts", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "+905320000001");
    assert_eq!(row.get::<_, String>(1), "ONAY");
    assert_eq!(row.get::<_, String>(2), "RET");
    assert_eq!(row.get::<_, String>(3), "(1)");
    assert_eq!(one::<String>(&mut c, "SELECT gsm_permission FROM master_contact WHERE contact_id = 1"), "ONAY", "nothing overwritten");

    // With tie_policy ret_wins the RET is applied.
    c.batch_execute("UPDATE iys.brand SET tie_policy = 'ret_wins'").unwrap();
    let date2: String = one(&mut c, "SELECT to_char(gsm_consent_date, 'YYYY-MM-DD HH24:MI:SS') FROM master_contact WHERE contact_id = 2");
    citizen_change(&sim, "+905320000002", "RET", Some(&date2));
    let applied = cluster.wait_for(Duration::from_secs(20), || {
        (one::<String>(&mut cluster.connect(), "SELECT gsm_permission FROM master_contact WHERE contact_id = 2") == "RET").then_some(())
    });
    assert!(applied.is_some());
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.conflicts"), 1);
}

#[test]
fn views_show_faults_to_a_monitoring_role_without_secrets_and_apps_need_no_grants() {
    let sim = Sim::start();
    let cluster = Cluster::start("views", CONF);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    c.batch_execute(
        "CREATE ROLE app LOGIN; GRANT ALL ON master_contact TO app; GRANT USAGE ON SEQUENCE master_contact_contact_id_seq TO app;
         CREATE ROLE watcher LOGIN IN ROLE pg_monitor;",
    )
    .unwrap();
    // IYS fails every consent request: the changes wait, and the view says why.
    sim.admin_post("/admin/faults", json!({"error_rate": 1.0}));
    let mut app = pg_iys_e2e::postgres::Client::connect(&cluster.conn_string("postgres").replace("user=postgres", "user=app"), pg_iys_e2e::postgres::NoTls).unwrap();
    app.batch_execute(
        "INSERT INTO master_contact (gsm, gsm_permission, gsm_consent_date, gsm_source)
         VALUES ('05321234567', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB')",
    )
    .unwrap();
    let err = app.query("SELECT * FROM iys.account", &[]).unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "42501");
    assert!(app.query("SELECT * FROM iys.token", &[]).is_err());

    let mut watcher = pg_iys_e2e::postgres::Client::connect(&cluster.conn_string("postgres").replace("user=postgres", "user=watcher"), pg_iys_e2e::postgres::NoTls).unwrap();
    let seen = cluster.wait_for(Duration::from_secs(20), || {
        let row = watcher.query_one("SELECT pending + in_flight, last_send_error FROM iys.sync_status", &[]).ok()?;
        let error: Option<String> = row.get(1);
        (row.get::<_, i64>(0) == 1 && error.is_some()).then(|| error.unwrap())
    });
    let error = seen.unwrap_or_else(|| panic!("no send error in sync_status; log:\n{}", cluster.server_log()));
    assert!(error.contains("H192") || error.contains("H101") || error.contains("HTTP 5"), "{error}");
    assert!(watcher.query("SELECT * FROM iys.account", &[]).is_err(), "the monitoring role cannot read secrets");
    let all_views = watcher
        .query("SELECT row_to_json(s)::text FROM iys.sync_status s", &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<String>();
    assert!(!all_views.contains("demo-password"));

    // Rejections by code and deadline alerts.
    sim.clear_faults();
    c.batch_execute(
        "INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date) VALUES
           ('600001', '+905551110001', 'BIREYSEL', 'MESAJ', 'RET', 'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '1 hour')",
    )
    .unwrap();
    wait_settled(&cluster, Duration::from_secs(30));
    // A RET IYS never had is not a rejection: it is counted apart.
    let not_in_iys: i64 = watcher.query_one("SELECT not_in_iys FROM iys.sync_status", &[]).unwrap().get(0);
    assert_eq!(not_in_iys, 1);
    let h175: i64 = watcher.query_one("SELECT count(*) FROM iys.rejections_by_code WHERE error_code = 'H175'", &[]).unwrap().get(0);
    assert_eq!(h175, 0);
    c.batch_execute(
        "UPDATE iys.brand SET enabled = false;
         INSERT INTO iys.outbox (brand_code, recipient, recipient_type, consent_type, status, source, consent_date) VALUES
           ('600001', '+905551110009', 'BIREYSEL', 'MESAJ', 'ONAY', 'HS_WEB', (now() AT TIME ZONE 'Europe/Istanbul')::timestamp(0) - interval '10 days')",
    )
    .unwrap();
    let late: i64 = watcher.query_one("SELECT count(*) FROM iys.deadline_alerts WHERE time_left < interval '0'", &[]).unwrap().get(0);
    assert_eq!(late, 1);
    // H084: the halt shows.
    sim.admin_post("/admin/faults", json!({"token_limit_hit": true}));
    c.batch_execute("DELETE FROM iys.token; UPDATE iys.brand SET enabled = true").unwrap();
    let halted = cluster.wait_for(Duration::from_secs(20), || {
        watcher.query_one("SELECT token_halted_until > now() FROM iys.sync_status", &[]).ok()?.get::<_, Option<bool>>(0).filter(|h| *h)
    });
    assert!(halted.is_some(), "log:\n{}", cluster.server_log());
}
