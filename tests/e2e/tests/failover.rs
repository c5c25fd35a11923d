//! Streaming replication: the worker runs only on the primary; a promoted standby's worker
//! carries on from the replicated queue — the batch that was in flight when the primary died is
//! settled from IYS's answer, pending changes are sent — and IYS ends with every movement once.

use pg_iys_e2e::{insert_contacts, log_tail, one, setup_sync, wait_settled, wait_true, Cluster, Sim};
use std::time::Duration;

#[test]
fn a_promoted_standby_carries_on_where_the_primary_stopped() {
    let sim = Sim::start();
    // Synchronous replication: a commit the application saw is on the standby too.
    let mut primary = Cluster::start(
        "ha_primary",
        &["iys.flush_interval = 200", "iys.http_timeout = 2000", "synchronous_standby_names = '*'", "wal_level = replica"],
    );
    let mut standby = Cluster::start_standby(&primary, "ha_standby");
    let mut c = primary.connect();
    setup_sync(&mut c, &sim.url());
    insert_contacts(&mut c, 1, 3);
    wait_settled(&primary, Duration::from_secs(40));
    // A batch in flight (sent, IYS's result not fetched yet) when the primary dies.
    insert_contacts(&mut c, 4, 2);
    assert!(wait_true(&primary, &mut c, Duration::from_secs(20), "SELECT EXISTS (SELECT 1 FROM iys.batch WHERE state = 'sent')"));
    drop(c);
    primary.pg_ctl_stop("immediate");

    // A hot standby runs no worker and sends nothing.
    let mut s = standby.connect();
    assert!(one::<bool>(&mut s, "SELECT pg_is_in_recovery()"));
    assert_eq!(one::<i64>(&mut s, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_iys worker'"), 0);
    assert!(one::<i64>(&mut s, "SELECT count(*) FROM iys.outbox WHERE state = 'in_flight'") > 0);
    drop(s);

    standby.promote();
    let mut s = standby.connect();
    assert!(
        standby.wait_for(Duration::from_secs(20), || standby.worker_pid(&mut s)).is_some(),
        "no worker after the promotion; log:\n{}",
        log_tail(&standby)
    );
    let states = wait_settled(&standby, Duration::from_secs(60));
    assert_eq!(states.get("accepted"), Some(&10), "{states:?}; log:\n{}", log_tail(&standby));
    // The new primary keeps queueing and sending.
    insert_contacts(&mut s, 6, 1);
    let states = wait_settled(&standby, Duration::from_secs(40));
    assert_eq!(states.get("accepted"), Some(&12), "{states:?}");

    let seen = sim.movements_by_recipient();
    assert_eq!(seen.len(), 12, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "a movement reached IYS twice: {seen:?}");
}
