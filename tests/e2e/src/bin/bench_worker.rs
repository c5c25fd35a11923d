//! Worker benchmark under IYS's real limits, one run, figures side by side:
//!   1. the worker draining N queued changes (queued while iys.enabled = off, then switched on)
//!      against the simulator with IYS's limits on: 10 requests/s (real clock), batch results
//!      only 300 s after the submit (on a clock SIM_CLOCK_SPEED times faster, so 3 real seconds);
//!      records/s against the ceiling of one IP (1000 records x 10 requests/s / 2 requests per
//!      batch = 5,000 records/s), and IYS requests per batch;
//!   2. commit-to-accepted latency at a steady rate of single-row commits (dominated by IYS's
//!      300 s, here 3 s).
//! Run through scripts/bench_worker.sh (release build of the extension installed first).

use pg_iys_e2e::{insert_contacts, setup_sync, Cluster, Sim, RESULT_DELAY_MS, SIM_CLOCK_SPEED};
use std::time::{Duration, Instant};

/// One IP's ceiling: IYS allows 10 requests/s; a batch of 1000 takes a submit and a result fetch.
const ONE_IP_CEILING: f64 = 1000.0 * 10.0 / 2.0;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Requests the simulator answered, by endpoint (admin calls are not counted).
fn requests(sim: &Sim) -> (u64, u64) {
    let submits = sim.answers(|e| e.starts_with("POST") && e.ends_with("/consents/request"), &["202"]);
    (sim.answers(|_| true, &[]), submits)
}

fn main() {
    // --profile: also load pg_stat_statements and print where the drain's database time went.
    let profile = flag("--profile");
    let drain_n = arg("--changes", 100_000);
    let rate = arg("--rate", 100);
    let latency_secs = arg("--seconds", 10);
    let sim = Sim::start();

    // 1. Drain, at IYS's own rate (iys.max_requests_per_second stays at its default, 10).
    let mut conf = vec!["iys.flush_interval = 1000", "iys.enabled = off", "shared_buffers = 512MB", "iys.pull_interval = 60000"];
    if profile {
        conf.extend(["shared_preload_libraries = 'pg_iys,pg_stat_statements'", "pg_stat_statements.track = all"]);
    }
    let cluster = Cluster::start("bench", &conf);
    let mut c = cluster.connect();
    setup_sync(&mut c, &sim.url());
    if profile {
        c.batch_execute("CREATE EXTENSION pg_stat_statements").unwrap();
    }
    // Each contact carries two channels.
    insert_contacts(&mut c, 1, (drain_n / 2) as i64);
    let queued: i64 = c.query_one("SELECT count(*) FROM iys.outbox", &[]).unwrap().get(0);
    if profile {
        c.batch_execute("SELECT pg_stat_statements_reset()").unwrap();
    }
    let (requests_before, submits_before) = requests(&sim);
    c.batch_execute("ALTER SYSTEM SET iys.enabled = on").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(arg("--drain-timeout", 900));
    // The check must stay cheap: a count(*) over the outbox every 50 ms took a core of its own.
    // The steady state is sampled between 5 s and 15 s into the drain: past the first results'
    // 300 s wait, before the last fetches trail their submits.
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    loop {
        if !any_open(&mut c) || Instant::now() > deadline {
            break;
        }
        let elapsed = start.elapsed();
        if (elapsed >= Duration::from_secs(5) && samples.is_empty()) || (elapsed >= Duration::from_secs(15) && samples.len() == 1) {
            samples.push((Instant::now(), requests(&sim).0));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let drain_secs = start.elapsed().as_secs_f64();
    if any_open(&mut c) {
        let log = cluster.server_log();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        eprintln!("the drain did not finish; server log tail:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    let (requests_after, submits_after) = requests(&sim);
    let accepted: i64 = c.query_one("SELECT count(*) FROM iys.outbox WHERE state = 'accepted'", &[]).unwrap().get(0);
    let too_many = sim.answers(|_| true, &["429"]);
    let drain_rate = accepted as f64 / drain_secs;
    let requests_per_second = (requests_after - requests_before) as f64 / drain_secs;
    let batches = (submits_after - submits_before).max(1);
    let per_batch = (requests_after - requests_before) as f64 / batches as f64;
    let steady_requests_per_second = match samples.as_slice() {
        [(t0, r0), (t1, r1)] => (r1 - r0) as f64 / (*t1 - *t0).as_secs_f64(),
        _ => f64::NAN,
    };
    let sustained = steady_requests_per_second / per_batch * 1000.0;
    if profile {
        print_profile(&mut c, drain_secs);
    }

    // 2. Latency at a steady commit rate (single-row transactions, two channels each).
    // The outbox keeps history: emptied as retention would.
    c.batch_execute("SET iys.pruning_ledger = on; TRUNCATE iys.outbox; RESET iys.pruning_ledger").unwrap();
    let total = rate * latency_secs;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let t0 = Instant::now();
    for i in 0..total {
        let due = t0 + interval * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        // Contacts numbered after the drain's (phone numbers have 7 digits).
        insert_contacts(&mut c, 1_000_000 + i as i64, 1);
    }
    let settle_deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < settle_deadline {
        let open: i64 = c.query_one("SELECT count(*) FROM iys.outbox WHERE state IN ('pending', 'in_flight')", &[]).unwrap().get(0);
        if open == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // enqueued_at is the transaction's start, settled_at the moment the worker recorded IYS's
    // per-record answer: an upper bound of commit-to-accepted.
    let row = c
        .query_one(
            "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), max(ms)
               FROM (SELECT extract(epoch FROM settled_at - enqueued_at)::float8 * 1000 AS ms FROM iys.outbox WHERE state = 'accepted') s",
            &[],
        )
        .unwrap();
    let (n, p50, p99, max): (i64, Option<f64>, Option<f64>, Option<f64>) = (row.get(0), row.get(1), row.get(2), row.get(3));
    let states: Vec<String> = c
        .query("SELECT state || ' ' || count(*) || coalesce(' ' || min(error_code), '') FROM iys.outbox GROUP BY state ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    if n < (total * 2) as i64 {
        eprintln!("latency phase: {} changes queued, by state: {states:?}", total * 2);
    }

    println!(
        "pg_iys worker benchmark under IYS's limits (release build, 2-core machine, simulator on 127.0.0.1: 10 requests/s, results {} ms after the submit = IYS's 300 s at {SIM_CLOCK_SPEED}x)",
        RESULT_DELAY_MS
    );
    println!("{:<62} {:>14}", "measure", "value");
    println!("{:<62} {:>14.0}", "ceiling of one IP (1000 records x 10 req/s / 2), records/s", ONE_IP_CEILING);
    println!("{:<62} {:>14.0}", format!("worker drain of {queued} queued changes, records/s"), drain_rate);
    println!("{:<62} {:>14.3}", "drain / ceiling of one IP", drain_rate / ONE_IP_CEILING);
    println!("{:<62} {:>14.2}", "IYS requests/s during the drain (IYS allows 10)", requests_per_second);
    println!("{:<62} {:>14.2}", "IYS requests/s in the steady state (5 s to 15 s)", steady_requests_per_second);
    println!("{:<62} {:>14.0}", "sustained drain (steady requests/s / requests per batch), records/s", sustained);
    println!("{:<62} {:>14.3}", "sustained / ceiling of one IP", sustained / ONE_IP_CEILING);
    println!("{:<62} {:>14.1}", format!("drain time, s ({accepted} accepted, {batches} batches)"), drain_secs);
    println!("{:<62} {:>14.3}", "IYS requests per batch (all calls / batches)", per_batch);
    println!("{:<62} {:>14}", "429 answers", too_many);
    println!("{:<62} {:>14.1}", format!("commit→accepted p50, ms ({n} changes at {} changes/s)", rate * 2), p50.unwrap_or(f64::NAN));
    println!("{:<62} {:>14.1}", "commit→accepted p99, ms", p99.unwrap_or(f64::NAN));
    println!("{:<62} {:>14.1}", "commit→accepted max, ms", max.unwrap_or(f64::NAN));
}

/// The statements that took most of the drain's database time (nested ones included, so a
/// function's total contains its statements').
fn print_profile(c: &mut postgres::Client, drain_secs: f64) {
    println!("database time during the drain of {drain_secs:.1} s (pg_stat_statements, track = all; nested statements counted in their caller too)");
    println!("{:>10} {:>8} {:>10}  statement", "total ms", "calls", "ms/call");
    for row in c
        .query(
            "SELECT total_exec_time, calls, total_exec_time / greatest(calls, 1), left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
               FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 25",
            &[],
        )
        .unwrap()
    {
        let (total, calls, per, query): (f64, i64, f64, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
        println!("{total:>10.0} {calls:>8} {per:>10.2}  {query}");
    }
}

/// Whether any change is still pending or in flight: two short index probes.
fn any_open(c: &mut postgres::Client) -> bool {
    c.query_one(
        "SELECT EXISTS (SELECT 1 FROM iys.outbox WHERE state = 'pending') OR EXISTS (SELECT 1 FROM iys.outbox WHERE state = 'in_flight')",
        &[],
    )
    .unwrap()
    .get(0)
}
