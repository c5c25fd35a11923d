//! pg_dump / pg_restore keep pg_iys's state: a database dumped with changes accepted, in flight
//! (sent, IYS's result not fetched yet) and pending is restored into another cluster, whose
//! worker carries on: nothing lost, nothing sent twice, and the restored table keeps queueing.

use pg_iys_e2e::{insert_contacts, log_tail, one, setup_sync, wait_settled, wait_true, Cluster, Sim};
use std::process::Command;
use std::time::Duration;

const CONF: &[&str] = &["iys.flush_interval = 200", "iys.http_timeout = 2000", "iys.pull_interval = 500"];

fn run(cluster: &Cluster, program: &str, args: &[&str]) {
    let out = Command::new(cluster.install.bindir.join(program))
        .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", "postgres"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn dump_and_restore_keep_the_queue_and_the_attachments() {
    let sim = Sim::start();
    let mut first = Cluster::start("dump_from", CONF);
    let mut c = first.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 3);
    wait_settled(&first, Duration::from_secs(40));
    // In flight: sent, its result not fetched yet (IYS answers only after its delay).
    insert_contacts(&mut c, 4, 2);
    assert!(wait_true(&first, &mut c, Duration::from_secs(20), "SELECT EXISTS (SELECT 1 FROM iys.batch WHERE state = 'sent')"));
    c.batch_execute("ALTER SYSTEM SET iys.enabled = off").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Pending: queued while the worker is off.
    insert_contacts(&mut c, 6, 2);
    let before: Vec<(String, i64)> =
        c.query("SELECT state, count(*) FROM iys.outbox GROUP BY state ORDER BY 1", &[]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(before.iter().any(|(s, _)| s == "in_flight") && before.iter().any(|(s, _)| s == "pending"), "{before:?}");

    let dump = first.datadir.with_extension("dump");
    run(&first, "pg_dump", &["-Fc", "-f", dump.to_str().unwrap(), "postgres"]);
    drop(c);
    first.pg_ctl_stop("fast");

    // Restored into a running server with the worker on: the worker waits while pg_restore is
    // connected (its own writes would collide with the rows being copied in, and pg_restore
    // would fail on them), then carries on.
    let second = Cluster::start("dump_to", CONF);
    let mut c = second.connect();
    assert!(second.wait_for(Duration::from_secs(20), || second.worker_pid(&mut c)).is_some(), "worker up before the restore");
    run(&second, "pg_restore", &["-d", "postgres", dump.to_str().unwrap()]);
    let restored: Vec<(String, i64)> =
        c.query("SELECT state, count(*) FROM iys.outbox GROUP BY state ORDER BY 1", &[]).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(restored.iter().any(|(s, _)| s == "pending" || s == "in_flight"), "nothing left to send after the restore: {restored:?}");
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.account"), 1);
    assert_eq!(one::<i64>(&mut c, "SELECT count(*) FROM iys.batch WHERE request_id IS NOT NULL") > 0, true);

    // The worker of the restored database finishes the work: 7 contacts, two channels each.
    let states = wait_settled(&second, Duration::from_secs(60));
    assert_eq!(states.get("accepted"), Some(&14), "{states:?}; log:\n{}", log_tail(&second));
    // The restored table keeps queueing, under its new OID.
    insert_contacts(&mut c, 8, 1);
    let states = wait_settled(&second, Duration::from_secs(40));
    assert_eq!(states.get("accepted"), Some(&16), "{states:?}; log:\n{}", log_tail(&second));
    assert!(one::<bool>(&mut c, "SELECT relid = 'master_contact'::regclass::oid FROM iys.attached_table"));
    // New ids continue after the restored ones.
    assert_eq!(one::<i64>(&mut c, "SELECT count(DISTINCT id) FROM iys.outbox"), one::<i64>(&mut c, "SELECT count(*) FROM iys.outbox"));

    // IYS has every movement once: nothing lost, nothing resent as a new movement.
    let seen = sim.movements_by_recipient();
    assert_eq!(seen.len(), 16, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    let _ = std::fs::remove_file(dump);
}
