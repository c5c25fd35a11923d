//! The background worker exists only with shared_preload_libraries, survives being killed, and
//! tolerates a database where the extension is not created yet.

use pg_iys_e2e::{insert_contacts, setup_sync, Cluster, Sim};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn worker_starts_without_the_extension_and_restarts_after_kill() {
    let cluster = Cluster::start("lifecycle", &[]);
    let mut client = cluster.connect();

    // The extension is not created yet: the worker must still come up and stay up.
    let pid = cluster
        .wait_for(Duration::from_secs(20), || cluster.worker_pid(&mut client))
        .unwrap_or_else(|| panic!("worker never started; log:\n{}", cluster.server_log()));

    client.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    let row = client.query_one("SELECT pid, application_name FROM iys.worker_status()", &[]).unwrap();
    assert_eq!(row.get::<_, Option<i32>>(0), Some(pid));
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("pg_iys worker"));

    // SIGKILL of a background worker makes the postmaster reset the cluster; the worker must
    // come back on its own with a new pid.
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let new_pid = cluster
        .wait_for(Duration::from_secs(60), || {
            let mut c = postgres::Client::connect(&cluster.conn_string("postgres"), postgres::NoTls).ok()?;
            cluster.worker_pid(&mut c).filter(|p| *p != pid)
        })
        .unwrap_or_else(|| panic!("worker did not come back; log:\n{}", cluster.server_log()));
    assert_ne!(new_pid, pid);
}

#[test]
fn worker_honours_sigterm_from_pg_terminate_backend_and_comes_back() {
    let cluster = Cluster::start("sigterm", &["iys.flush_interval = 100"]);
    let mut client = cluster.connect();
    let pid = cluster.wait_for(Duration::from_secs(20), || cluster.worker_pid(&mut client)).expect("worker up");
    let terminated: bool = client.query_one("SELECT pg_terminate_backend($1)", &[&pid]).unwrap().get(0);
    assert!(terminated);
    let log_has_stop = cluster.wait_for(Duration::from_secs(10), || cluster.server_log().contains("pg_iys worker stopping").then_some(()));
    assert!(log_has_stop.is_some(), "worker did not log a clean stop; log:\n{}", cluster.server_log());
    // restart_time is 5 s: the worker returns by itself.
    let back = cluster.wait_for(Duration::from_secs(30), || cluster.worker_pid(&mut client).filter(|p| *p != pid));
    assert!(back.is_some(), "worker did not restart after SIGTERM; log:\n{}", cluster.server_log());
}

#[test]
fn without_preload_worker_functions_fail_with_a_hint() {
    let cluster = Cluster::start("nopreload", &["shared_preload_libraries = ''"]);
    let mut client = cluster.connect();
    client.batch_execute("CREATE EXTENSION pg_iys").unwrap();
    let err = client.query("SELECT * FROM iys.worker_status()", &[]).unwrap_err();
    let db = err.as_db_error().expect("a database error");
    assert_eq!(db.code().code(), "55000");
    assert!(db.message().contains("shared_preload_libraries"), "{}", db.message());
    assert!(db.hint().unwrap_or_default().contains("restart"), "{:?}", db.hint());
    assert!(cluster.worker_pid(&mut client).is_none());
}

/// pg_upgrade starts the servers in binary-upgrade mode: the worker must not start (it would
/// send to IYS from a database in the middle of an upgrade).
#[test]
fn no_worker_in_binary_upgrade_mode() {
    let mut cluster = Cluster::start("binary_upgrade", &[]);
    let mut c = cluster.connect();
    assert!(cluster.wait_for(Duration::from_secs(10), || cluster.worker_pid(&mut c)).is_some(), "no worker normally");
    drop(c);
    cluster.pg_ctl_stop("fast");
    cluster.pg_ctl_start_with("-b");
    let mut c = cluster.connect();
    std::thread::sleep(Duration::from_secs(2));
    let workers: i64 = c.query_one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_iys worker'", &[]).unwrap().get(0);
    assert_eq!(workers, 0);
}

/// Waits until the worker is inside a call to IYS (not waiting on its latch), so that a signal
/// sent next arrives in the middle of a round.
fn worker_in_a_call(cluster: &Cluster, c: &mut postgres::Client) -> i32 {
    cluster
        .wait_for(Duration::from_secs(30), || {
            let row = c
                .query_opt("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_iys worker' AND wait_event IS NULL", &[])
                .ok()??;
            Some(row.get::<_, i32>(0))
        })
        .unwrap_or_else(|| panic!("the worker never called IYS; log:\n{}", cluster.server_log()))
}

/// A SIGTERM that arrives while the worker waits for IYS stops it once that call returns. (pgrx
/// clears its SIGTERM flag when read: a check in the middle of a round used to swallow the
/// signal, and a fast shutdown then waited for ever.)
#[test]
fn sigterm_during_a_slow_iys_call_stops_the_worker_and_a_fast_shutdown_ends() {
    let sim = Sim::start();
    let mut cluster = Cluster::start(
        "slow_stop",
        &["iys.flush_interval = 100", "iys.pull_interval = 100", "iys.http_timeout = 10000", "iys.backoff_cap = 1000"],
    );
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // Every answer of IYS takes 1.5 s: the worker's rounds are mostly waiting for it.
    sim.admin_post("/admin/faults", json!({"latency_ms": 1500}));
    insert_contacts(&mut c, 1, 5);

    let pid = worker_in_a_call(&cluster, &mut c);
    let stops_before = cluster.server_log().matches("pg_iys worker stopping").count();
    let terminated: bool = c.query_one("SELECT pg_terminate_backend($1)", &[&pid]).unwrap().get(0);
    assert!(terminated);
    let stopped = cluster.wait_for(Duration::from_secs(15), || {
        (cluster.server_log().matches("pg_iys worker stopping").count() > stops_before).then_some(())
    });
    assert!(stopped.is_some(), "a SIGTERM during a call to IYS did not stop the worker; log:\n{}", cluster.server_log());

    // The worker comes back (restart_time 5 s); a fast shutdown in the middle of its call ends
    // within a few of IYS's slow answers, not pg_ctl's 60 s timeout.
    let back = cluster.wait_for(Duration::from_secs(30), || cluster.worker_pid(&mut c).filter(|p| *p != pid));
    assert!(back.is_some(), "worker did not restart; log:\n{}", cluster.server_log());
    worker_in_a_call(&cluster, &mut c);
    drop(c);
    let started = Instant::now();
    cluster.pg_ctl_stop("fast");
    assert!(started.elapsed() < Duration::from_secs(20), "fast shutdown took {:?}", started.elapsed());
}

#[test]
fn the_worker_waits_while_pg_restore_is_connected() {
    let sim = Sim::start();
    let cluster = Cluster::start("restore_wait", &["iys.flush_interval = 100", "iys.pull_interval = 500"]);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    // A session named like pg_restore (which is how pg_restore names its own): the worker holds
    // back, whatever is queued.
    let restore_like = format!("{} application_name=pg_restore", cluster.conn_string("postgres"));
    let restore = postgres::Client::connect(&restore_like, postgres::NoTls).unwrap();
    let waiting = cluster.wait_for(Duration::from_secs(20), || cluster.server_log().contains("pg_restore is connected to this database").then_some(()));
    assert!(waiting.is_some(), "the worker did not notice pg_restore; log:\n{}", cluster.server_log());
    insert_contacts(&mut c, 1, 2);
    std::thread::sleep(Duration::from_secs(2));
    let pending: i64 = c.query_one("SELECT count(*) FROM iys.outbox WHERE state = 'pending'", &[]).unwrap().get(0);
    assert_eq!(pending, 4, "the worker sent while pg_restore was connected");
    assert!(sim.history().is_empty(), "IYS was called during the restore");
    // pg_restore done: the worker carries on by itself.
    drop(restore);
    let states = pg_iys_e2e::wait_settled(&cluster, Duration::from_secs(40));
    assert_eq!(states.get("accepted"), Some(&4), "{states:?}; log:\n{}", cluster.server_log());
}

#[test]
fn a_duration_setting_under_its_old_name_still_applies_and_the_log_says_to_rename_it() {
    // Written for 0.5.0: a pull every 100 ms under the old name (the default is a minute).
    let cluster = Cluster::start("old_guc_names", &["iys.pull_interval_ms = 100", "iys.result_delay = '2s'"]);
    let mut c = cluster.connect();
    let shown: String = c.query_one("SHOW iys.result_delay", &[]).unwrap().get(0);
    assert_eq!(shown, "2s");
    let old: String = c.query_one("SHOW iys.pull_interval_ms", &[]).unwrap().get(0);
    assert_eq!(old, "100ms");
    let warned = cluster.wait_for(Duration::from_secs(20), || {
        cluster.server_log().contains("iys.pull_interval_ms was renamed iys.pull_interval").then_some(())
    });
    assert!(warned.is_some(), "no rename warning; log:\n{}", cluster.server_log());
    // The old value is in force: the worker pulls at once and again, not once a minute.
    let sim = Sim::start();
    setup_sync(&mut c, &sim.url());
    // Two calls a pull (sources IYS and HS).
    let pulls = |sim: &Sim| sim.answers(|e| e.ends_with("/consents/changes"), &[]);
    let many = cluster.wait_for(Duration::from_secs(20), || (pulls(&sim) >= 6).then_some(()));
    assert!(many.is_some(), "the old pull interval was not applied: {} pull(s); log:\n{}", pulls(&sim), cluster.server_log());
    // A typo under the prefix is still refused.
    let (code, message) = pg_iys_e2e::expect_error(&mut c, "SET iys.pull_intervall = 5");
    assert_eq!(code, "42602", "{message}");
    assert!(message.contains("iys.pull_intervall"), "{message}");
}
