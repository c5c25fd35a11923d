//! IYS's push service ("İzin Hareketi İletimi (Push)"): the addresses a brand connected per
//! consent type, the checks IYS makes before it connects one, and the delivery of every `IYS_`
//! movement to the brand's active addresses of that type.
//!
//! Every active connection has its own queue and delivery thread (a lane), so a slow or failing
//! address never holds up another one, and one connection's movements go out strictly in order:
//! a failing head is retried, with exponential backoff, before anything behind it is sent.
//! Network I/O never happens under a lock: a lane copies its head and its target out, posts,
//! and only then takes its own lock again to record the outcome. Locks are taken in one order:
//! the store, then the registry, then a lane.

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::clock::format_turkey_ms;
use crate::config::Config;
use crate::rules::ConsentType;
use crate::state::lock;
use crate::store::Movement;

/// The document: an address that does not answer within 5 seconds is a timeout (H191). The
/// same bound holds for every delivery, so a hanging receiver never stalls its lane for long.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait between two attempts at one movement.
pub const MAX_BACKOFF_MS: u64 = 5_000;
/// The document: "Her bir tip (type) için yalnızca iki adet aktif bağlantı oluşturulabilir."
pub const MAX_ACTIVE_PER_TYPE: usize = 2;
/// `status` values of `GET .../push/registration`, as the document's example spells them.
pub const STATUS_CONNECTED: &str = "Bağlantı Oluşturuldu";
pub const STATUS_FAILED: &str = "Bağlantı Oluşturulamadı";

/// The datum IYS posts to an address after its checks: the same for every connection.
pub fn test_datum() -> Value {
    json!({
        "iysCode": 121212,
        "brandCode": 121212,
        "consentDate": "2015-05-01 15:00:00",
        "creationDate": "2015-05-01 15:00:00",
        "source": "IYS_MOBIL",
        "recipient": "pushtest@iys.org.tr",
        "recipientType": "BIREYSEL",
        "status": "ONAY",
        "type": "EPOSTA",
        "transactionId": "e52ee30512adfcd2a41fb3b4682f5bd61eee5b1c92bda665fc0b7e56644d429d"
    })
}

/// The body of every push request: one movement in a `list`, as in the test datum.
fn push_body(item: &Value) -> String {
    json!({ "list": [item] }).to_string()
}

/// An address as a registration (or unregistration) names it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub url: String,
    pub consent_type: ConsentType,
    pub username: String,
    pub password: String,
}

// ---- the HTTPS client ----------------------------------------------------------------------

/// The delivery settings and the agent built from them; lanes take a copy per attempt, so a
/// change through `/admin/config` applies from the next attempt on.
#[derive(Clone)]
pub struct PushClient {
    agent: ureq::Agent,
    pub ca_file: Option<String>,
    pub retry_ms: u64,
    pub max_attempts: u32,
}

/// Public roots plus the CA certificates of a PEM file, with the provider and protocol versions
/// ureq itself uses.
fn tls_config_trusting(path: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let certificates = CertificateDer::pem_file_iter(path).map_err(|e| format!("push_ca_file {path:?} cannot be read ({e})"))?;
    let mut added = 0;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| format!("push_ca_file {path:?} is not a PEM certificate file ({e})"))?;
        roots.add(certificate).map_err(|e| format!("push_ca_file {path:?} holds a certificate that cannot be a trust anchor ({e})"))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("push_ca_file {path:?} holds no PEM certificate"));
    }
    let config = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| format!("TLS setup failed ({e})"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn build_agent(ca_file: Option<&str>) -> Result<ureq::Agent, String> {
    let mut builder = ureq::AgentBuilder::new()
        .timeout_connect(TIMEOUT)
        // One deadline for the whole call: a receiver trickling its answer is still a timeout.
        .timeout(TIMEOUT)
        // A redirect is not an answer of the registered address: it counts as a failure.
        .redirects(0)
        .user_agent(concat!("iys-sim/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        builder = builder.tls_config(tls_config_trusting(path)?);
    }
    Ok(builder.build())
}

/// An empty or blank path means "no extra CA".
fn ca_path(p: Option<&str>) -> Option<String> {
    p.map(str::trim).filter(|p| !p.is_empty()).map(str::to_string)
}

impl PushClient {
    fn new(ca_file: Option<&str>, retry_ms: u64, max_attempts: u32) -> Result<PushClient, String> {
        let ca_file = ca_path(ca_file);
        let agent = build_agent(ca_file.as_deref())?;
        Ok(PushClient { agent, ca_file, retry_ms, max_attempts })
    }

    /// Wait after the `failures`-th failed attempt at one movement: `retry_ms`, doubling, at
    /// most [`MAX_BACKOFF_MS`].
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u64 << failures.saturating_sub(1).min(20);
        Duration::from_millis(self.retry_ms.saturating_mul(factor).min(MAX_BACKOFF_MS))
    }
}

/// `Authorization: Basic ...` (RFC 7617): base64 of `username:password`, UTF-8.
pub fn basic_auth(username: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{username}:{password}").into_bytes();
    let mut out = String::with_capacity(6 + raw.len().div_ceil(3) * 4);
    out.push_str("Basic ");
    for chunk in raw.chunks(3) {
        let n = (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A request that got no HTTP answer.
#[derive(Debug)]
pub struct SendError {
    pub timed_out: bool,
    pub message: String,
}

fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<io::Error>().is_some_and(|io| matches!(io.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// POSTs `body` as JSON, with basic authentication when `credentials` are given; the HTTP
/// status of any answer, or why there was none.
fn post(agent: &ureq::Agent, url: &str, credentials: Option<(&str, &str)>, body: &str) -> Result<u16, SendError> {
    let started = Instant::now();
    let mut req = agent.post(url).set("Content-Type", "application/json");
    if let Some((user, password)) = credentials {
        req = req.set("Authorization", &basic_auth(user, password));
    }
    match req.send_string(body) {
        Ok(resp) => Ok(resp.status()),
        Err(ureq::Error::Status(code, _)) => Ok(code),
        Err(ureq::Error::Transport(t)) => {
            // The deadline shows up as an I/O timeout somewhere in the cause chain (connect,
            // TLS handshake or read); the elapsed time catches any other wrapping of it.
            let timed_out = timed_out(&t) || started.elapsed() >= TIMEOUT;
            Err(SendError { timed_out, message: t.to_string() })
        }
    }
}

/// Why IYS would not connect an address.
#[derive(Debug)]
pub enum CheckFailure {
    /// No answer within [`TIMEOUT`]: H191.
    Timeout,
    /// Anything else (unreachable, TLS refused, no basic authentication, test datum refused):
    /// H530. The reason is shown by `/admin/push`, not in IYS's answer.
    Failed(String),
}

impl CheckFailure {
    pub fn reason(&self) -> String {
        match self {
            CheckFailure::Timeout => format!("no answer within {} s", TIMEOUT.as_secs()),
            CheckFailure::Failed(reason) => reason.clone(),
        }
    }
}

fn check_failure(e: SendError) -> CheckFailure {
    if e.timed_out {
        CheckFailure::Timeout
    } else {
        CheckFailure::Failed(e.message)
    }
}

/// IYS's checks of an address before it connects it: it must enforce basic authentication (a
/// POST without credentials is answered 401), then accept the test datum posted with the
/// registered credentials (any 2xx). Both within [`TIMEOUT`].
pub fn check_address(client: &PushClient, target: &Target) -> Result<(), CheckFailure> {
    let body = push_body(&test_datum());
    let anonymous = post(&client.agent, &target.url, None, &body).map_err(check_failure)?;
    if anonymous != 401 {
        return Err(CheckFailure::Failed(format!("answered {anonymous} to a request without credentials instead of 401")));
    }
    let status = post(&client.agent, &target.url, Some((&target.username, &target.password)), &body).map_err(check_failure)?;
    if !(200..300).contains(&status) {
        return Err(CheckFailure::Failed(format!("answered {status} to the test datum")));
    }
    Ok(())
}

// ---- lanes: one queue and delivery thread per active connection ------------------------------

#[derive(Default)]
struct LaneCounts {
    delivered: u64,
    failed_attempts: u64,
    dropped: u64,
    last_error: Option<String>,
}

struct LaneState {
    /// Where and as whom to deliver; a re-registration of the address updates it in place.
    target: Target,
    /// Movements not delivered or dropped yet; the head is the one being attempted.
    queue: VecDeque<Value>,
    /// Failed attempts at the head.
    head_failures: u32,
    counts: LaneCounts,
    /// Unregistered, reset or shut down: the thread ends after its current attempt.
    closed: bool,
}

struct Lane {
    state: Mutex<LaneState>,
    wake: Condvar,
}

impl Lane {
    fn enqueue(&self, item: Value) {
        let mut s = lock(&self.state);
        if !s.closed {
            s.queue.push_back(item);
            self.wake.notify_all();
        }
    }

    fn close(&self) {
        lock(&self.state).closed = true;
        self.wake.notify_all();
    }

    /// Waits for a movement; `None` once the lane is closed.
    fn next(&self) -> Option<(Target, Value)> {
        let mut s = lock(&self.state);
        loop {
            if s.closed {
                return None;
            }
            if let Some(head) = s.queue.front() {
                return Some((s.target.clone(), head.clone()));
            }
            s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Records the outcome of an attempt at the head; on a failure that leaves the head queued,
    /// how long to wait before the next attempt. Only the lane's thread removes the head, so the
    /// head is still the item just attempted.
    fn settle(&self, outcome: Result<(), String>, client: &PushClient) -> Option<Duration> {
        let mut s = lock(&self.state);
        match outcome {
            Ok(()) => {
                s.queue.pop_front();
                s.head_failures = 0;
                s.counts.delivered += 1;
                None
            }
            Err(message) => {
                s.counts.failed_attempts += 1;
                s.counts.last_error = Some(message);
                s.head_failures += 1;
                if s.head_failures >= client.max_attempts.max(1) {
                    s.queue.pop_front();
                    s.head_failures = 0;
                    s.counts.dropped += 1;
                    return None;
                }
                Some(client.backoff(s.head_failures))
            }
        }
    }

    /// Sleeps `wait` unless the lane is closed first; false when closed.
    fn pause(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut s = lock(&self.state);
        loop {
            if s.closed {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            s = self.wake.wait_timeout(s, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn to_json(&self) -> Value {
        let s = lock(&self.state);
        json!({
            "delivered": s.counts.delivered,
            "failedAttempts": s.counts.failed_attempts,
            "dropped": s.counts.dropped,
            "queued": s.queue.len(),
            "lastError": s.counts.last_error,
        })
    }
}

/// The delivery thread of one lane: posts the head until it is delivered or dropped, then the
/// next, until the lane is closed.
fn run_lane(lane: Arc<Lane>, client: Arc<Mutex<PushClient>>) {
    while let Some((target, item)) = lane.next() {
        let c = lock(&client).clone();
        let outcome = match post(&c.agent, &target.url, Some((&target.username, &target.password)), &push_body(&item)) {
            Ok(status) if (200..300).contains(&status) => Ok(()),
            Ok(status) => Err(format!("answered {status}")),
            Err(e) => Err(e.message),
        };
        if let Some(wait) = lane.settle(outcome, &c) {
            if !lane.pause(wait) {
                return;
            }
        }
    }
}

// ---- the registry --------------------------------------------------------------------------

/// One address of a brand, as `GET .../push/registration` lists it.
struct Connection {
    iys: u64,
    brand: u64,
    target: Target,
    /// When its status was last set (simulated time).
    register_ms: i64,
    /// Active connections have a lane; an address that failed IYS's checks is listed as
    /// [`STATUS_FAILED`] and receives nothing.
    lane: Option<Arc<Lane>>,
    /// Why the checks failed, for `/admin/push`.
    check_error: Option<String>,
}

impl Connection {
    fn is(&self, iys: u64, brand: u64, url: &str, ct: ConsentType) -> bool {
        self.iys == iys && self.brand == brand && self.target.url == url && self.target.consent_type == ct
    }

    fn status(&self) -> &'static str {
        if self.lane.is_some() {
            STATUS_CONNECTED
        } else {
            STATUS_FAILED
        }
    }
}

/// Refusal of a registration that would exceed [`MAX_ACTIVE_PER_TYPE`] for this type.
#[derive(Debug)]
pub struct OverLimit(pub ConsentType);

pub struct Push {
    connections: Mutex<Vec<Connection>>,
    client: Arc<Mutex<PushClient>>,
}

impl Push {
    pub fn new(cfg: &Config) -> Result<Push, String> {
        let client = PushClient::new(cfg.push_ca_file.as_deref(), cfg.push_retry_ms, cfg.push_max_attempts)?;
        Ok(Push { connections: Mutex::new(Vec::new()), client: Arc::new(Mutex::new(client)) })
    }

    pub fn client(&self) -> PushClient {
        lock(&self.client).clone()
    }

    /// Changes the delivery settings; `ca_file: Some(None)` drops the extra CA. Nothing changes
    /// if the CA file cannot be used.
    pub fn configure(&self, ca_file: Option<Option<&str>>, retry_ms: Option<u64>, max_attempts: Option<u32>) -> Result<(), String> {
        let current = self.client();
        let ca_file = match ca_file {
            Some(p) => ca_path(p),
            None => current.ca_file.clone(),
        };
        let agent = if ca_file == current.ca_file { current.agent.clone() } else { build_agent(ca_file.as_deref())? };
        let next = PushClient {
            agent,
            ca_file,
            retry_ms: retry_ms.unwrap_or(current.retry_ms),
            max_attempts: max_attempts.unwrap_or(current.max_attempts),
        };
        *lock(&self.client) = next;
        Ok(())
    }

    /// Whether connecting `targets` would leave more than two active addresses of one type
    /// (re-registering an active address does not add one).
    fn over_limit_in(connections: &[Connection], iys: u64, brand: u64, targets: &[Target]) -> Option<OverLimit> {
        let types: BTreeSet<ConsentType> = targets.iter().map(|t| t.consent_type).collect();
        for ct in types {
            let mut urls: BTreeSet<&str> = connections
                .iter()
                .filter(|c| c.iys == iys && c.brand == brand && c.target.consent_type == ct && c.lane.is_some())
                .map(|c| c.target.url.as_str())
                .collect();
            urls.extend(targets.iter().filter(|t| t.consent_type == ct).map(|t| t.url.as_str()));
            if urls.len() > MAX_ACTIVE_PER_TYPE {
                return Some(OverLimit(ct));
            }
        }
        None
    }

    /// Checked before any address is contacted, so a refused registration sends nothing.
    pub fn over_limit(&self, iys: u64, brand: u64, targets: &[Target]) -> Option<OverLimit> {
        Self::over_limit_in(&lock(&self.connections), iys, brand, targets)
    }

    /// Connects addresses that passed IYS's checks. The limit is checked again under the lock:
    /// two registrations may have passed their checks at the same time.
    pub fn connect(&self, iys: u64, brand: u64, targets: &[Target], now_ms: i64) -> Result<(), OverLimit> {
        let mut connections = lock(&self.connections);
        if let Some(over) = Self::over_limit_in(&connections, iys, brand, targets) {
            return Err(over);
        }
        for t in targets {
            let existing = connections.iter_mut().find(|c| c.is(iys, brand, &t.url, t.consent_type));
            match existing {
                Some(c) => {
                    c.target = t.clone();
                    c.register_ms = now_ms;
                    c.check_error = None;
                    match &c.lane {
                        // Movements already queued go out with the new credentials.
                        Some(lane) => lock(&lane.state).target = t.clone(),
                        None => c.lane = Some(self.start_lane(t)),
                    }
                }
                None => connections.push(Connection { iys, brand, target: t.clone(), register_ms: now_ms, lane: Some(self.start_lane(t)), check_error: None }),
            }
        }
        Ok(())
    }

    fn start_lane(&self, target: &Target) -> Arc<Lane> {
        let lane = Arc::new(Lane {
            state: Mutex::new(LaneState { target: target.clone(), queue: VecDeque::new(), head_failures: 0, counts: LaneCounts::default(), closed: false }),
            wake: Condvar::new(),
        });
        let (l, client) = (lane.clone(), self.client.clone());
        let spawned = thread::Builder::new().name("iys-sim-push".into()).spawn(move || run_lane(l, client));
        if let Err(e) = spawned {
            // Kept active and counted: its movements stay queued and visible in /admin/push.
            lock(&lane.state).counts.last_error = Some(format!("no delivery thread: {e}"));
        }
        lane
    }

    /// Lists an address that failed IYS's checks as [`STATUS_FAILED`], as the document's
    /// example shows; an address that is connected already stays connected as it was.
    pub fn record_failure(&self, iys: u64, brand: u64, target: &Target, failure: &CheckFailure, now_ms: i64) {
        let mut connections = lock(&self.connections);
        let check_error = Some(failure.reason());
        match connections.iter_mut().find(|c| c.is(iys, brand, &target.url, target.consent_type)) {
            Some(c) if c.lane.is_some() => {}
            Some(c) => {
                c.target = target.clone();
                c.register_ms = now_ms;
                c.check_error = check_error;
            }
            None => connections.push(Connection { iys, brand, target: target.clone(), register_ms: now_ms, lane: None, check_error }),
        }
    }

    /// Removes the brand's connection of this address and type if the credentials are the
    /// registered ones; its undelivered movements are discarded.
    pub fn disconnect(&self, iys: u64, brand: u64, target: &Target) -> bool {
        let mut connections = lock(&self.connections);
        let Some(pos) = connections.iter().position(|c| c.is(iys, brand, &target.url, target.consent_type) && c.target == *target) else {
            return false;
        };
        if let Some(lane) = connections.remove(pos).lane {
            lane.close();
        }
        true
    }

    /// `GET .../push/registration`: the brand's connections in registration order.
    pub fn list(&self, iys: u64, brand: u64) -> Vec<Value> {
        lock(&self.connections)
            .iter()
            .filter(|c| c.iys == iys && c.brand == brand)
            .map(|c| {
                json!({
                    "url": c.target.url,
                    "type": c.target.consent_type.as_str(),
                    "status": c.status(),
                    "registerTime": format_turkey_ms(c.register_ms),
                })
            })
            .collect()
    }

    /// Queues a just-recorded movement for every active connection of its brand and type, if
    /// IYS pushes it: an `IYS_` source and not one the pull (and so the push) missed. Called
    /// under the store's lock, so queues keep the order movements were recorded in; nothing
    /// here touches the network.
    pub fn movement_recorded(&self, m: &Movement) {
        if !m.source.as_deref().is_some_and(|s| s.starts_with("IYS_")) || m.origin.missed_by_pull {
            return;
        }
        let connections = lock(&self.connections);
        let mut item = None;
        for c in connections.iter().filter(|c| c.iys == m.key.iys_code && c.brand == m.key.brand_code && c.target.consent_type == m.key.consent_type) {
            if let Some(lane) = &c.lane {
                lane.enqueue(item.get_or_insert_with(|| m.push_json()).clone());
            }
        }
    }

    /// `GET /admin/push`: every connection without its password, with its delivery counts.
    pub fn admin_json(&self) -> Value {
        let c = self.client();
        let connections: Vec<Value> = lock(&self.connections)
            .iter()
            .map(|c| {
                let mut v = json!({
                    "iysCode": c.iys,
                    "brandCode": c.brand,
                    "url": c.target.url,
                    "type": c.target.consent_type.as_str(),
                    "username": c.target.username,
                    "status": c.status(),
                    "active": c.lane.is_some(),
                    "registerTime": format_turkey_ms(c.register_ms),
                });
                let counts = match &c.lane {
                    Some(lane) => lane.to_json(),
                    None => json!({"delivered": 0, "failedAttempts": 0, "dropped": 0, "queued": 0, "lastError": c.check_error}),
                };
                if let (Value::Object(m), Value::Object(extra)) = (&mut v, counts) {
                    m.extend(extra);
                }
                v
            })
            .collect();
        json!({
            "connections": connections,
            "push_ca_file": c.ca_file,
            "push_retry_ms": c.retry_ms,
            "push_max_attempts": c.max_attempts,
        })
    }

    /// Forgets every connection and queue (`/admin/reset`, shutdown); settings stay.
    pub fn reset(&self) {
        for c in lock(&self.connections).drain(..) {
            if let Some(lane) = c.lane {
                lane.close();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_rfc_7617_base64() {
        assert_eq!(basic_auth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(basic_auth("Api123", "3Kn.ls76412"), "Basic QXBpMTIzOjNLbi5sczc2NDEy");
        assert_eq!(basic_auth("a", ""), "Basic YTo=");
        assert_eq!(basic_auth("ab", "c"), "Basic YWI6Yw==");
        assert_eq!(basic_auth("ü", "ş"), "Basic w7w6xZ8=");
    }

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        let c = PushClient::new(None, 500, 40).unwrap();
        let waits: Vec<u128> = (1..=6).map(|n| c.backoff(n).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(c.backoff(40).as_millis(), 5000);
        let zero = PushClient { retry_ms: 0, ..c };
        assert_eq!(zero.backoff(3).as_millis(), 0);
    }

    #[test]
    fn an_unusable_ca_file_is_refused() {
        let e = PushClient::new(Some("/nonexistent/ca.pem"), 500, 40).err().unwrap();
        assert!(e.contains("push_ca_file"), "{e}");
        assert!(PushClient::new(Some("  "), 500, 40).unwrap().ca_file.is_none());
    }
}
