//! Push benchmark, one run, figures side by side: how long a citizen's RET made in IYS takes to
//! reach the attached table and `iys.can_send` (the row reads RET and can_send is false):
//!   1. by push: IYS (the simulator, IYS's timing) pushes it to iys-push-receiver, which records
//!      it through iys.receive_push; the worker, woken at that commit, applies it. N opt-outs one
//!      after another, then a burst of B at once;
//!   2. by the pull alone (no push connection): IYS shows a change only an hour after it was
//!      made, here on the simulator's clock SIM_CLOCK_SPEED times faster (36 s).
//! Run through scripts/bench_push.sh (release builds of the extension and the receiver).

use pg_iys_e2e::{free_port, insert_contacts, setup_sync, test_tls_file, wait_settled, Cluster, Receiver, Sim, SIM_CLOCK_SPEED};
use serde_json::json;
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn phone(n: u64) -> String {
    format!("+90532{n:07}")
}

fn citizen_ret(sim: &Sim, n: u64) {
    sim.admin_post(
        "/admin/citizen-change",
        json!({"iysCode": 700001, "brandCode": 600001, "recipient": phone(n), "type": "MESAJ", "status": "RET", "source": "IYS_MOBIL"}),
    );
}

fn reached(c: &mut postgres::Client, n: u64) -> bool {
    c.query_one("SELECT gsm_permission = 'RET' AND NOT iys.can_send($1, 'MESAJ') FROM master_contact WHERE gsm = $1", &[&phone(n)])
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false)
}

/// Waits (polling every millisecond) until contact n reads RET; the time it took since `from`.
fn wait_reached(c: &mut postgres::Client, n: u64, from: Instant, limit: Duration) -> Duration {
    while !reached(c, n) {
        assert!(from.elapsed() < limit, "contact {n} did not reach RET within {limit:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
    from.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n = arg("--n", 200);
    let burst = arg("--burst", 100);
    let pull_n = arg("--pull-n", 3);
    let sim = Sim::start_with(iys_sim::Config {
        clock_speed: SIM_CLOCK_SPEED,
        push_ca_file: Some(test_tls_file("test-ca.pem").to_string_lossy().into_owned()),
        ..iys_sim::Config::default()
    });
    // The worker as configured in production but for a 1 s pull (the pull-only figure).
    let cluster = Cluster::start("bench_push", &["iys.pull_interval = 1000"]);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    let contacts = n + burst + pull_n;
    insert_contacts(&mut c, 1, contacts as i64);
    wait_settled(&cluster, Duration::from_secs(120));

    // 2 first (no connection yet): the pull alone.
    let mut pulled = Vec::new();
    for k in 0..pull_n {
        let i = n + burst + 1 + k;
        let from = Instant::now();
        citizen_ret(&sim, i);
        pulled.push(wait_reached(&mut c, i, from, Duration::from_secs(120)));
    }

    // 1. Push.
    c.batch_execute("CREATE ROLE iys_push LOGIN; SELECT iys.grant_push_receiver_rights('iys_push')").unwrap();
    let receiver = Receiver::start(&cluster, "iys_push", free_port());
    c.execute(
        "SELECT iys.push_register('600001', 'MESAJ', $1, $2, $3)",
        &[&receiver.url(), &pg_iys_e2e::RECEIVER_USER, &pg_iys_e2e::RECEIVER_PASSWORD],
    )
    .unwrap();
    cluster
        .wait_for(Duration::from_secs(30), || {
            (c.query_one("SELECT state FROM iys.push_connections", &[]).ok()?.get::<_, String>(0) == "registered").then_some(())
        })
        .expect("push connection registered");
    let mut one_by_one = Vec::new();
    for i in 1..=n {
        let from = Instant::now();
        citizen_ret(&sim, i);
        one_by_one.push(wait_reached(&mut c, i, from, Duration::from_secs(30)));
    }
    one_by_one.sort();
    let from = Instant::now();
    for i in n + 1..=n + burst {
        citizen_ret(&sim, i);
    }
    let mut burst_times: Vec<Duration> = (n + 1..=n + burst).map(|i| wait_reached(&mut c, i, from, Duration::from_secs(60))).collect();
    burst_times.sort();
    pulled.sort();

    println!("citizen's RET in IYS -> master_contact row RET and iys.can_send false ({} CPUs)", std::thread::available_parallelism().map_or(0, |p| p.get()));
    println!("  push, one at a time (n={n}):     p50 {:>8}  p99 {:>8}  max {:>8}", ms(percentile(&one_by_one, 0.5)), ms(percentile(&one_by_one, 0.99)), ms(*one_by_one.last().unwrap()));
    println!("  push, {burst} at once (from the first):  p50 {:>8}  p99 {:>8}  all {:>8}", ms(percentile(&burst_times, 0.5)), ms(percentile(&burst_times, 0.99)), ms(*burst_times.last().unwrap()));
    println!(
        "  pull only (n={pull_n}):             p50 {:>8}  (IYS shows a change an hour after it was made: {:.0} s on this {SIM_CLOCK_SPEED}x clock, 1 h in production)",
        ms(percentile(&pulled, 0.5)),
        3600.0 / SIM_CLOCK_SPEED
    );
    println!("  push / pull-only (p50): 1 : {:.0}", percentile(&pulled, 0.5).as_secs_f64() / percentile(&one_by_one, 0.5).as_secs_f64());
}
