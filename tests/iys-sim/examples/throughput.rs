//! Batch-add throughput of the simulator on loopback.
//!
//!     cargo run --release -p iys-sim --example throughput -- [--batches N] [--clients C]
//!
//! Measures (1) submitting 1000-record batches (`POST .../consents/request`, 202) and
//! (2) the full cycle a sync worker runs: submit, then `GET .../consents/request/{id}` until
//! every item is settled. Request bodies are built before the clock starts, so the figures are
//! the simulator's (plus loopback HTTP), not the client's JSON encoding.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use iys_sim::{Config, Simulator};
use serde_json::{json, Value};

const BATCH: usize = 1000;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn consent_date() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    iys_sim::clock::format_local(now + 3 * 3600 - 60)
}

/// `count` batch bodies of unique recipients, phones and e-mails mixed.
fn bodies(first_batch: usize, count: usize) -> Vec<String> {
    let date = consent_date();
    (first_batch..first_batch + count)
        .map(|b| {
            let items: Vec<Value> = (0..BATCH)
                .map(|i| {
                    let n = b * BATCH + i;
                    let (recipient, ty) = if i % 4 == 0 { (format!("user{n}@example.com"), "EPOSTA") } else { (format!("+9053{:08}", n), "MESAJ") };
                    json!({"recipient": recipient, "recipientType": "BIREYSEL", "type": ty, "source": "HS_WEB", "status": "ONAY", "consentDate": date})
                })
                .collect();
            Value::from(items).to_string()
        })
        .collect()
}

struct Run {
    records: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn report(&mut self, label: &str) {
        self.latencies.sort();
        let pct = |p: f64| self.latencies[((self.latencies.len() - 1) as f64 * p) as usize];
        println!(
            "{label:<34} {:>7} records in {:>6.2} s = {:>8.0} records/s   per batch: p50 {:>5.1} ms, p99 {:>5.1} ms, max {:>5.1} ms",
            self.records,
            self.elapsed.as_secs_f64(),
            self.records as f64 / self.elapsed.as_secs_f64(),
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.latencies.last().unwrap().as_secs_f64() * 1e3,
        );
    }
}

/// Reads the whole body first: ureq's `into_json` parses byte by byte from the socket and
/// would make the client, not the simulator, the slow side of this measurement.
fn json_of(resp: ureq::Response) -> Value {
    serde_json::from_str(&resp.into_string().unwrap()).unwrap()
}

fn token(base: &str) -> String {
    let r: Value = ureq::post(&format!("{base}/oauth2/token"))
        .send_json(json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}))
        .expect("login")
        .into_json()
        .unwrap();
    r["access_token"].as_str().unwrap().to_string()
}

/// Each of `clients` threads sends its share of `batches`; with `wait`, it also polls each
/// batch's result until settled.
fn run(base: &str, tok: &str, batches: Vec<String>, clients: usize, wait: bool) -> Run {
    let url = format!("{base}/sps/1/brands/1/consents/request");
    let per_client: Vec<Vec<String>> = {
        let mut v = vec![Vec::new(); clients];
        for (i, b) in batches.into_iter().enumerate() {
            v[i % clients].push(b);
        }
        v
    };
    let records: usize = per_client.iter().map(|v| v.len() * BATCH).sum();
    let started = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = per_client
            .into_iter()
            .map(|mine| {
                let (url, tok) = (url.clone(), tok.to_string());
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new().build();
                    let auth = format!("Bearer {tok}");
                    let mut lat = Vec::new();
                    for body in mine {
                        let t = Instant::now();
                        let resp = agent.post(&url).set("Authorization", &auth).set("Content-Type", "application/json").send_string(&body).expect("batch accepted");
                        assert_eq!(resp.status(), 202);
                        let v = json_of(resp);
                        if wait {
                            let result_url = format!("{url}/{}", v["requestId"].as_str().unwrap());
                            loop {
                                let items = json_of(agent.get(&result_url).set("Authorization", &auth).call().unwrap());
                                let items = items.as_array().unwrap();
                                if items.len() == BATCH && items.iter().all(|i| i["status"] == "success") {
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    Run { records, elapsed: started.elapsed(), latencies }
}

fn main() {
    let batches = arg("--batches", 50);
    let clients = arg("--clients", 4);
    let sim = Simulator::start(Config { rate_limit_per_sec: None, batch_delay_ms: 0, ..Config::default() }).expect("start");
    let base = sim.base_url();
    let tok = token(&base);
    println!("iys-sim throughput: {batches} batches of {BATCH} per run, loopback, {} build", if cfg!(debug_assertions) { "DEBUG" } else { "release" });
    let mut next = 0;
    let mut take = |n: usize| {
        let b = bodies(next, n);
        next += n;
        b
    };
    run(&base, &tok, take(5), 1, true); // warm-up
    run(&base, &tok, take(batches), 1, false).report("submit, 1 client");
    run(&base, &tok, take(batches), 1, true).report("submit + poll result, 1 client");
    run(&base, &tok, take(batches), clients, false).report(&format!("submit, {clients} clients"));
    run(&base, &tok, take(batches), clients, true).report(&format!("submit + poll result, {clients} clients"));
    sim.shutdown();
}
