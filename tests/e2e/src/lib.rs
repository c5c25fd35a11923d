//! Black-box test harness: real PostgreSQL clusters with pg_iys preloaded, driven as a client.
//!
//! Clusters run as the `postgres` OS user (initdb refuses root) with their data under /tmp and
//! listen on 127.0.0.1 only. A `Cluster` stops its server and removes its data when dropped, so a
//! failing test leaves nothing behind.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub use postgres;

/// The simulator runs IYS's clock this many times faster than real time, so that IYS's own
/// timing costs tests little: 300 s before a batch result = 3 s, the one-hour hold-back of
/// changes = 36 s. Its 10 requests/s limit stays on the real clock.
pub const SIM_CLOCK_SPEED: f64 = 100.0;
/// `iys.result_delay` of the harness clusters: IYS's 300 s on that clock.
pub const RESULT_DELAY_MS: u64 = 3_000;

/// Settings read from the repository's pgrx.toml, the one place the scripts and tests share.
pub struct PgInstall {
    pub bindir: PathBuf,
    pub pg_regress: PathBuf,
}

impl PgInstall {
    pub fn from_pgrx_toml() -> PgInstall {
        let root = repo_root();
        let toml = std::fs::read_to_string(root.join("pgrx.toml")).expect("read pgrx.toml");
        let pg_config = toml_value(&toml, "pg_config").expect("pg_config in pgrx.toml");
        let ask = |flag: &str| {
            let out = Command::new(&pg_config).arg(flag).output().expect("run pg_config");
            assert!(out.status.success(), "pg_config {flag} failed");
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        };
        let bindir = ask("--bindir");
        // pg_regress ships with the server's dev package, beside the PGXS makefiles.
        let pgxs = ask("--pgxs");
        let pg_regress = pgxs.parent().and_then(Path::parent).expect("pgxs dir").join("test/regress/pg_regress");
        PgInstall { bindir, pg_regress }
    }
}

/// The value of a flat `key = "value"` line of pgrx.toml.
pub fn toml_value(toml: &str, key: &str) -> Option<String> {
    toml.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// A port nobody listens on right now (the OS picks it; tiny race, fine for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run_as_postgres(program: &Path, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn check(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub struct Cluster {
    pub install: PgInstall,
    pub datadir: PathBuf,
    pub port: u16,
    running: bool,
}

impl Cluster {
    /// initdb + start a cluster preloading pg_iys; `extra_conf` lines go into postgresql.conf.
    pub fn start(name: &str, extra_conf: &[&str]) -> Cluster {
        Cluster::start_from(PgInstall::from_pgrx_toml(), name, extra_conf)
    }

    /// Like `start`, with the server binaries (and so the library and extension files) of
    /// another installation tree.
    pub fn start_from(install: PgInstall, name: &str, extra_conf: &[&str]) -> Cluster {
        let datadir = PathBuf::from(format!("/tmp/pg_iys_e2e_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&datadir);
        std::fs::create_dir_all(&datadir).unwrap();
        check(Command::new("chown").args(["postgres:postgres"]).arg(&datadir).output().unwrap(), "chown");
        let data = datadir.to_str().unwrap();
        check(
            run_as_postgres(&install.bindir.join("initdb"), &["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]),
            "initdb",
        );
        let port = free_port();
        let mut conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{data}'\n\
             shared_preload_libraries = 'pg_iys'\niys.database = 'postgres'\nfsync = off\n\
             iys.result_delay = {RESULT_DELAY_MS}\n\
             log_min_messages = warning\nlogging_collector = off\n"
        );
        for line in extra_conf {
            conf.push_str(line);
            conf.push('\n');
        }
        let conf_path = datadir.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path).unwrap();
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing).unwrap();
        let mut cluster = Cluster { install, datadir, port, running: false };
        cluster.pg_ctl_start();
        cluster
    }

    /// A hot standby of `primary`, cloned with pg_basebackup (-R: it streams from the primary)
    /// and started. Settings of the primary that would make a promoted standby wait for a
    /// synchronous standby of its own are switched off.
    pub fn start_standby(primary: &Cluster, name: &str) -> Cluster {
        let install = PgInstall::from_pgrx_toml();
        let datadir = PathBuf::from(format!("/tmp/pg_iys_e2e_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&datadir);
        let data = datadir.to_str().unwrap().to_owned();
        check(
            run_as_postgres(
                &install.bindir.join("pg_basebackup"),
                &["-h", "127.0.0.1", "-p", &primary.port.to_string(), "-U", "postgres", "-D", &data, "-R", "-X", "stream", "--no-sync"],
            ),
            "pg_basebackup",
        );
        let port = free_port();
        let conf_path = datadir.join("postgresql.conf");
        let mut conf = std::fs::read_to_string(&conf_path).unwrap();
        conf.push_str(&format!("\nport = {port}\nunix_socket_directories = '{data}'\nsynchronous_standby_names = ''\n"));
        std::fs::write(&conf_path, conf).unwrap();
        let _ = std::fs::remove_file(datadir.join("server.log"));
        let mut cluster = Cluster { install, datadir, port, running: false };
        cluster.pg_ctl_start();
        cluster
    }

    /// Promotes a standby to primary (pg_ctl promote, waiting until it accepts writes).
    pub fn promote(&mut self) {
        let data = self.datadir.to_str().unwrap();
        check(run_as_postgres(&self.install.bindir.join("pg_ctl"), &["-D", data, "-w", "promote"]), "pg_ctl promote");
    }

    fn log_path(&self) -> PathBuf {
        self.datadir.join("server.log")
    }

    pub fn pg_ctl_start(&mut self) {
        self.pg_ctl_start_with("");
    }

    /// Starts the server with extra `postgres` command-line options (pg_ctl -o).
    pub fn pg_ctl_start_with(&mut self, options: &str) {
        let data = self.datadir.to_str().unwrap();
        let log = self.log_path();
        check(
            run_as_postgres(
                &self.install.bindir.join("pg_ctl"),
                &["-D", data, "-l", log.to_str().unwrap(), "-w", "-t", "60", "-o", options, "start"],
            ),
            "pg_ctl start",
        );
        self.running = true;
    }

    /// Stops the server; `mode` is pg_ctl's: "fast", "immediate" (a crash) or "smart".
    pub fn pg_ctl_stop(&mut self, mode: &str) {
        let data = self.datadir.to_str().unwrap();
        check(run_as_postgres(&self.install.bindir.join("pg_ctl"), &["-D", data, "-m", mode, "-w", "stop"]), "pg_ctl stop");
        self.running = false;
    }

    pub fn conn_string(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname={db} connect_timeout=10", self.port)
    }

    pub fn connect(&self) -> postgres::Client {
        self.connect_db("postgres")
    }

    pub fn connect_db(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.conn_string(db), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {db} on port {}: {e}\nserver log:\n{}", self.port, self.server_log()))
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Polls `probe` until it returns Some or `timeout` passes.
    pub fn wait_for<T>(&self, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = probe() {
                return Some(v);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pid of the pg_iys background worker, once it runs.
    pub fn worker_pid(&self, client: &mut postgres::Client) -> Option<i32> {
        client
            .query_opt("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_iys worker'", &[])
            .ok()
            .flatten()
            .map(|row| row.get(0))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let data = self.datadir.to_str().unwrap().to_owned();
            let _ = run_as_postgres(&self.install.bindir.join("pg_ctl"), &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
        if std::env::var_os("PG_IYS_KEEP_CLUSTERS").is_none() {
            let _ = std::fs::remove_dir_all(&self.datadir);
        }
    }
}

/// The IYS simulator for a test: IYS as its document describes it (results 300 s after a
/// batch, 10 requests/s, the one-hour hold-back of changes, H467 in business days), on a clock
/// [`SIM_CLOCK_SPEED`] times faster than real time.
pub struct Sim {
    pub sim: iys_sim::Simulator,
}

impl Sim {
    pub fn start() -> Sim {
        Sim::start_with(iys_sim::Config { clock_speed: SIM_CLOCK_SPEED, ..iys_sim::Config::default() })
    }

    /// A simulator configured otherwise (the caller says why).
    pub fn start_with(config: iys_sim::Config) -> Sim {
        Sim { sim: iys_sim::Simulator::start(config).expect("start the IYS simulator") }
    }

    /// The simulator's clock (Turkey time, `YYYY-MM-DD HH:mm:ss`), ahead of real time.
    pub fn now_turkey(&self) -> String {
        self.admin_get("/admin/clock")["now"].as_str().unwrap_or_default().to_owned()
    }

    pub fn url(&self) -> String {
        self.sim.base_url()
    }

    pub fn admin_get(&self, path: &str) -> serde_json::Value {
        ureq::get(&format!("{}{path}", self.url())).call().expect("admin GET").into_json().expect("admin JSON")
    }

    pub fn admin_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        ureq::post(&format!("{}{path}", self.url())).send_json(body).expect("admin POST").into_json().unwrap_or(serde_json::Value::Null)
    }

    pub fn clear_faults(&self) {
        ureq::delete(&format!("{}/admin/faults", self.url())).call().expect("clear faults");
    }

    /// How many movements IYS holds per recipient.
    pub fn movements_by_recipient(&self) -> std::collections::HashMap<String, usize> {
        let mut by = std::collections::HashMap::new();
        for movement in self.history() {
            *by.entry(movement["recipient"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
        }
        by
    }

    /// Answers the simulator gave (admin calls not counted) on endpoints whose name (method and
    /// OpenAPI path) `endpoint` accepts, with one of `statuses` (empty: any).
    pub fn answers(&self, endpoint: impl Fn(&str) -> bool, statuses: &[&str]) -> u64 {
        let stats = self.admin_get("/admin/stats");
        let Some(endpoints) = stats["endpoints"].as_object() else { return 0 };
        endpoints
            .iter()
            .filter(|(name, _)| endpoint(name))
            .filter_map(|(_, answers)| answers.as_object())
            .flat_map(|answers| answers.iter())
            .filter(|(status, _)| statuses.is_empty() || statuses.contains(&status.as_str()))
            .filter_map(|(_, n)| n.as_u64())
            .sum()
    }

    /// Every movement IYS accepted, in order.
    pub fn history(&self) -> Vec<serde_json::Value> {
        let v = self.admin_get("/admin/history?limit=1000000");
        match v {
            serde_json::Value::Array(items) => items,
            serde_json::Value::Object(ref o) => o.values().find_map(|x| x.as_array().cloned()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// Creates the extension, an IYS account pointing at `sim_url`, brand 600001 and an attached
/// D-engage master_contact table.
pub fn setup_sync(client: &mut postgres::Client, sim_url: &str) {
    client.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_iys").unwrap();
    client
        .execute(
            "INSERT INTO iys.account (iys_code, api_base_url, username, password) VALUES ('700001', $1, 'iys-demo', 'demo-password')",
            &[&sim_url],
        )
        .unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO iys.brand (brand_code, iys_code) VALUES ('600001', '700001');
             {};
             SELECT iys.attach('master_contact', brand_code => '600001');",
            contact_table_sql("master_contact", "")
        ))
        .unwrap();
}

/// CREATE TABLE of a D-engage master_contact named `name`, with `extra` column definitions
/// (", col type …") at the end.
pub fn contact_table_sql(name: &str, extra: &str) -> String {
    format!(
        "CREATE TABLE {name} (
             contact_id bigserial PRIMARY KEY, contact_type text DEFAULT 'BIREYSEL',
             email text, email_permission text, email_consent_date timestamp, email_source text,
             gsm text, gsm_permission text, gsm_consent_date timestamp, gsm_source text{extra})"
    )
}

/// Inserts `n` contacts with valid e-mail and GSM consents (2n changes), numbered from `from`.
pub fn insert_contacts(client: &mut postgres::Client, from: i64, n: i64) {
    client
        .execute(
            "INSERT INTO master_contact (email, email_permission, email_consent_date, email_source,
                                         gsm, gsm_permission, gsm_consent_date, gsm_source)
             SELECT 'user' || g || '@example.com', 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_WEB',
                    '0532' || lpad(g::text, 7, '0'), 'ONAY', now() AT TIME ZONE 'Europe/Istanbul' - interval '1 hour', 'HS_MOBIL'
               FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) g",
            &[&from, &n],
        )
        .unwrap();
}

/// Waits until no outbox row is pending or in flight; returns the counts by state.
pub fn wait_settled(cluster: &Cluster, timeout: Duration) -> std::collections::BTreeMap<String, i64> {
    let counts = |c: &mut postgres::Client| -> std::collections::BTreeMap<String, i64> {
        c.query("SELECT state, count(*) FROM iys.outbox GROUP BY state", &[])
            .map(|rows| rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect())
            .unwrap_or_default()
    };
    let settled = cluster.wait_for(timeout, || {
        let mut c = postgres::Client::connect(&cluster.conn_string("postgres"), postgres::NoTls).ok()?;
        let by_state = counts(&mut c);
        (!by_state.contains_key("pending") && !by_state.contains_key("in_flight")).then_some(by_state)
    });
    settled.unwrap_or_else(|| {
        let mut c = cluster.connect();
        let state = counts(&mut c);
        let errors: Vec<String> = c
            .query("SELECT DISTINCT coalesce(error_code, '') || ' ' || coalesce(error_message, '') FROM iys.outbox WHERE error_message IS NOT NULL LIMIT 5", &[])
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default();
        panic!("outbox not settled in {timeout:?}: {state:?}; errors {errors:?}\nlog tail:\n{}", tail(&cluster.server_log(), 40))
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `sql`, which must fail; returns its SQLSTATE and message.
pub fn expect_error(c: &mut postgres::Client, sql: &str) -> (String, String) {
    match c.batch_execute(sql) {
        Ok(()) => panic!("expected an error, but this succeeded: {sql}"),
        Err(e) => match e.as_db_error() {
            Some(db) => (db.code().code().to_owned(), db.message().to_owned()),
            None => panic!("{sql}: not an error from the server: {e}"),
        },
    }
}

/// The one value of a one-row, one-column query.
/// Rows of a query whose columns are all text (cast in the query), NULL as None.
pub fn texts(c: &mut postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| (0..r.len()).map(|i| r.get::<_, Option<String>>(i)).collect())
        .collect()
}

/// `Some(v)` as an owned text, for comparing with `texts`.
pub fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

pub fn one<T: for<'a> postgres::types::FromSql<'a>>(c: &mut postgres::Client, sql: &str) -> T {
    c.query_one(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

/// Polls `sql` (one boolean column) until it is true or `timeout` passes.
pub fn wait_true(cluster: &Cluster, c: &mut postgres::Client, timeout: Duration, sql: &str) -> bool {
    cluster.wait_for(timeout, || c.query_one(sql, &[]).ok().and_then(|r| r.get::<_, Option<bool>>(0)).filter(|b| *b)).is_some()
}

/// Waits until the worker has seen the extension and put back what an earlier run claimed (it
/// does that once, even with iys.enabled off). A test that claims batches itself waits for this
/// first, or the worker's recovery can hand its claimed rows back to pending under it.
pub fn wait_worker_recovered(cluster: &Cluster, c: &mut postgres::Client) {
    let recovered = wait_true(cluster, c, Duration::from_secs(30), "SELECT started_at IS NOT NULL FROM iys.worker_state");
    assert!(recovered, "the worker did not start on the extension; log:\n{}", log_tail(cluster));
}

/// The last 40 lines of the server log, for failure messages.
pub fn log_tail(cluster: &Cluster) -> String {
    tail(&cluster.server_log(), 40)
}

/// A citizen's change of a MESAJ consent in IYS (brand 600001 of setup_sync), as the SMS to 3338
/// would make it. Its consent date is `consent_date`, or a second ago by the real clock (the
/// database's; the simulator's runs ahead), and IYS recorded it two simulated hours ago, so the
/// pull sees it past IYS's one-hour hold-back.
pub fn citizen_change(sim: &Sim, recipient: &str, status: &str, consent_date: Option<&str>) {
    let now = iys_sim::clock::format_turkey_ms(iys_sim::clock::wall_ms() - 1000);
    let sim_now = iys_sim::clock::parse_local(&sim.now_turkey()).expect("the simulator's clock");
    let recorded = iys_sim::clock::format_local(sim_now - 2 * 3600);
    let body = serde_json::json!({"iysCode": 700001, "brandCode": 600001, "recipient": recipient, "type": "MESAJ",
                                  "recipientType": "BIREYSEL", "status": status, "source": "IYS_KISAMESAJ",
                                  "consentDate": consent_date.unwrap_or(&now), "creationDate": recorded});
    sim.admin_post("/admin/citizen-change", body);
}

/// A loopback HTTP forward proxy for tests, as a database host's way out: it takes requests in
/// absolute form (`GET http://host:port/path`), forwards each to its origin in origin form and
/// relays the answer, and counts them. Plain HTTP only (the simulator's).
pub struct TestProxy {
    pub port: u16,
    forwarded: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TestProxy {
    pub fn start() -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test proxy");
        let port = listener.local_addr().unwrap().port();
        let forwarded = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = std::sync::Arc::clone(&forwarded);
        // The acceptor lives as long as the test process (tests are short).
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let count = std::sync::Arc::clone(&count);
                std::thread::spawn(move || {
                    let _ = relay(client, &count);
                });
            }
        });
        TestProxy { port, forwarded }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Serves one client connection of the test proxy, request after request.
fn relay(client: std::net::TcpStream, count: &std::sync::atomic::AtomicUsize) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.trim_end().splitn(3, ' ');
        let (method, target, version) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or("HTTP/1.1"));
        let Some((authority, path)) = target.strip_prefix("http://").map(|rest| rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")))) else {
            client.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")?;
            return Ok(());
        };
        let mut head = format!("{method} {path} {version}\r\n");
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if !lower.starts_with("connection:") && !lower.starts_with("proxy-") {
                head.push_str(&line);
            }
        }
        head.push_str("connection: close\r\n\r\n");
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let mut origin = std::net::TcpStream::connect(authority)?;
        origin.write_all(head.as_bytes())?;
        origin.write_all(&body)?;
        let mut answer = Vec::new();
        origin.read_to_end(&mut answer)?;
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        client.write_all(&answer)?;
        // The origin closed after its answer ("connection: close"); so does the proxy when the
        // answer says so, else it reads the client's next request.
        if String::from_utf8_lossy(&answer).to_ascii_lowercase().contains("\r\nconnection: close") {
            return Ok(());
        }
    }
}

/// A seeded generator for reproducible random corpora (xorshift64*: small, fast, no dependency).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// `min..=max` characters drawn from `alphabet`.
    pub fn text(&mut self, alphabet: &str, min: usize, max: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        let n = min + self.below(max - min + 1);
        (0..n).map(|_| chars[self.below(chars.len())]).collect()
    }
}

/// The test TLS material: a throw-away CA and a certificate for localhost/127.0.0.1 it signed.
pub fn test_tls_file(name: &str) -> PathBuf {
    repo_root().join("src/iys/testdata").join(name)
}

/// iys-push-receiver as a process (scripts/test.sh builds it), listening with the test
/// certificate on `port`, recording as `role` into `cluster`'s database `postgres`, with basic
/// authentication `user:password`. Killed when dropped.
pub struct Receiver {
    child: std::process::Child,
    pub port: u16,
    credentials: PathBuf,
}

pub const RECEIVER_USER: &str = "iys";
pub const RECEIVER_PASSWORD: &str = "push-s3cret";

impl Receiver {
    pub fn binary() -> PathBuf {
        // scripts/bench_push.sh runs a release build.
        if let Some(binary) = std::env::var_os("PG_IYS_RECEIVER") {
            return PathBuf::from(binary);
        }
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"));
        let binary = target.join("debug/iys-push-receiver");
        assert!(binary.exists(), "{} is missing: cargo build -p iys-push-receiver (scripts/test.sh does)", binary.display());
        binary
    }

    pub fn start(cluster: &Cluster, role: &str, port: u16) -> Receiver {
        use std::os::unix::fs::PermissionsExt;
        let credentials = std::env::temp_dir().join(format!("pg_iys_push_credentials_{}_{port}", std::process::id()));
        std::fs::write(&credentials, format!("{RECEIVER_USER}:{RECEIVER_PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut child = Command::new(Receiver::binary())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--tls-cert")
            .arg(test_tls_file("test-server.pem"))
            .arg("--tls-key")
            .arg(test_tls_file("test-server.key"))
            .arg("--credentials-file")
            .arg(&credentials)
            .args(["--database", &format!("host=127.0.0.1 port={} user={role} dbname=postgres", cluster.port)])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start iys-push-receiver");
        // It says where it listens once the socket is bound.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let listening = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        assert!(listening.contains("listening on https://"), "iys-push-receiver did not start: {listening}");
        std::thread::spawn(move || for _ in rx {});
        Receiver { child, port, credentials }
    }

    /// The address IYS is given (the certificate names localhost).
    pub fn url(&self) -> String {
        format!("https://localhost:{}/iys/push", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.credentials);
    }
}
