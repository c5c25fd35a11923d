//! İzin Hareketi İletimi (Push): registration with IYS's address checks, the connection list,
//! unregistration, and delivery of `IYS_` movements to a loopback HTTPS receiver (a
//! certificate of the throw-away CA in `testdata/`, trusted through `push_ca_file`).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use iys_sim::{Config, Simulator};
use serde_json::{json, Value};

use crate::common::*;

pub const PUSH_USER: &str = "push-user";
/// Non-ASCII and a colon: basic authentication must encode `user:password` as UTF-8 bytes.
pub const PUSH_PASSWORD: &str = "pässwörd:with colon";
/// `Basic ` + base64 of `push-user:pässwörd:with colon`, computed outside the simulator.
const EXPECTED_AUTHORIZATION: &str = "Basic cHVzaC11c2VyOnDDpHNzd8O2cmQ6d2l0aCBjb2xvbg==";

/// The test datum exactly as the document prints it.
pub fn documented_test_datum() -> Value {
    json!({"list": [{
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
    }]})
}

pub fn ca_file() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/test-ca.pem").to_string()
}

/// Fast retries, the test CA trusted.
pub fn push_config() -> Config {
    Config { push_ca_file: Some(ca_file()), push_retry_ms: 50, ..test_config() }
}

// ---- a loopback HTTPS receiver --------------------------------------------------------------

/// Whether the receiver insists on basic authentication (a real receiver must).
#[derive(Clone, Copy, PartialEq)]
pub enum Auth {
    Enforced,
    /// Answers everything: IYS must refuse to connect it.
    Open,
}

/// One request the receiver got, and what it answered.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
    pub answered: u16,
}

struct Shared {
    auth: Auth,
    delay: Duration,
    received: Mutex<Vec<Received>>,
    /// Statuses for the next authenticated requests (then 200).
    failures: Mutex<VecDeque<u16>>,
    stop: AtomicBool,
}

pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
}

fn server_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(format!("{dir}/test-server.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/test-server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

impl Receiver {
    pub fn start(auth: Auth) -> Receiver {
        Receiver::with_delay(auth, Duration::ZERO)
    }

    /// A receiver that waits `delay` before every answer.
    pub fn with_delay(auth: Auth, delay: Duration) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared { auth, delay, received: Mutex::new(Vec::new()), failures: Mutex::new(VecDeque::new()), stop: AtomicBool::new(false) });
        let (s, config) = (shared.clone(), server_config());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = stream else { continue };
                let (s, config) = (s.clone(), config.clone());
                thread::spawn(move || serve(tcp, &s, config));
            }
        });
        Receiver { port, shared }
    }

    /// `https://127.0.0.1:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Requests that carried the registered credentials.
    pub fn authenticated(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.authorization.as_deref() == Some(EXPECTED_AUTHORIZATION)).collect()
    }

    /// The next authenticated requests are answered these statuses.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.shared.failures.lock().unwrap().extend(statuses);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A request as read: path, headers (names lower-cased), body.
struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads one request (head and Content-Length body); `None` if the peer gave up.
fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 64 * 1024 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request { path, headers, body })
}

fn serve(mut tcp: TcpStream, shared: &Shared, config: Arc<rustls::ServerConfig>) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut tls) = rustls::ServerConnection::new(config) else { return };
    let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
    let Some(Request { path, headers, body }) = read_request(&mut stream) else { return };
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let authorization = header("authorization");
    let authenticated = authorization.as_deref() == Some(EXPECTED_AUTHORIZATION);
    let status = if shared.auth == Auth::Enforced && !authenticated {
        401
    } else if authenticated {
        shared.failures.lock().unwrap().pop_front().unwrap_or(200)
    } else {
        200
    };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.received.lock().unwrap().push(Received { path, authorization, content_type: header("content-type"), body, answered: status });
    thread::sleep(shared.delay);
    let challenge = if status == 401 { "WWW-Authenticate: Basic realm=\"push\"\r\n" } else { "" };
    let answer = format!("HTTP/1.1 {status} X\r\n{challenge}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}");
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

// ---- helpers -----------------------------------------------------------------------------------

/// Polls `cond` every 20 ms for at most `secs` seconds.
pub fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

pub fn connection(url: &str, ty: &str) -> Value {
    json!({"url": url, "type": ty, "username": PUSH_USER, "password": PUSH_PASSWORD})
}

pub fn register(c: &Client, url: &str, ty: &str) -> Resp {
    c.post(&brand("/push/registration"), &json!({"connection": [connection(url, ty)]}))
}

fn unregister(c: &Client, body: &Value) -> Resp {
    c.post(&brand("/push/unregistration"), body)
}

fn push_admin(c: &Client) -> Vec<Value> {
    c.get("/admin/push").body["connections"].as_array().cloned().unwrap_or_default()
}

/// `/admin/push` of the brand's connection to `url` for `ty`.
fn lane(c: &Client, url: &str, ty: &str) -> Value {
    push_admin(c).into_iter().find(|l| l["url"] == url && l["type"] == ty).unwrap_or_else(|| panic!("no connection {url} {ty}"))
}

fn citizen(c: &Client, recipient: &str, ty: &str, status: &str, extra: Value) -> Value {
    let mut body = json!({"iysCode": IYS, "brandCode": BRAND, "recipient": recipient, "type": ty, "status": status, "source": "IYS_MOBIL"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let r = c.post("/admin/citizen-change", &body);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn codes_and_messages(r: &Resp) -> Vec<(String, String)> {
    r.body["errors"].as_array().unwrap().iter().map(|e| (e["code"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string())).collect()
}

// ---- registration ------------------------------------------------------------------------------

#[test]
fn registration_checks_basic_auth_posts_the_test_datum_and_lists_the_connection() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    freeze_at(&c, "2024-03-05 10:00:00");
    let rx = Receiver::start(Auth::Enforced);
    let url = rx.url("/iys/push");

    let r = register(&c, &url, "EPOSTA");
    assert_eq!((r.status, &r.body), (200, &json!({"message": "Bağlantı oluşturuldu"})), "{}", r.text);

    // First a request without credentials, which the address must refuse (401); then the
    // test datum, with the registered credentials, as JSON.
    let got = rx.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].authorization.as_deref(), got[0].answered), (None, 401));
    assert_eq!(got[1].authorization.as_deref(), Some(EXPECTED_AUTHORIZATION));
    assert_eq!(got[1].content_type.as_deref(), Some("application/json"));
    assert_eq!(got[1].path, "/iys/push");
    assert_eq!(got[1].body, documented_test_datum());

    let listed = c.get(&brand("/push/registration"));
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body, json!([{"url": url, "type": "EPOSTA", "status": "Bağlantı Oluşturuldu", "registerTime": "2024-03-05 10:00:00"}]));
    let other_brand = c.get(&format!("/sps/{IYS}/brands/{}/push/registration", BRAND + 1));
    assert_eq!(other_brand.body, json!([]));

    let admin = push_admin(&c);
    assert_eq!(admin.len(), 1);
    let l = &admin[0];
    assert_eq!((l["iysCode"].as_u64(), l["brandCode"].as_u64(), l["username"].as_str(), l["active"].as_bool()), (Some(IYS), Some(BRAND), Some(PUSH_USER), Some(true)));
    assert!(l.get("password").is_none() && !l.to_string().contains(PUSH_PASSWORD), "{l}");
    assert_eq!((l["delivered"].as_u64(), l["failedAttempts"].as_u64(), l["dropped"].as_u64(), l["queued"].as_u64()), (Some(0), Some(0), Some(0), Some(0)));
}

#[test]
fn malformed_registrations_are_refused_before_any_address_is_contacted() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    let rx = Receiver::start(Auth::Enforced);
    let url = rx.url("/");
    let path = brand("/push/registration");
    let one = |fields: Value| c.post(&path, &json!({"connection": [fields]}));

    let http = one(json!({"url": url.replace("https://", "http://"), "type": "MESAJ", "username": PUSH_USER, "password": PUSH_PASSWORD}));
    assert_error(&http, 422, "H531");
    assert_eq!(http.body["errors"][0], json!({"code": "H531", "message": "Bağlantı linki (url) https ile başlamalıdır."}));
    for bad_url in [json!("ftp://x"), json!("https://"), json!("https:// x"), json!(42), json!("HTTP://127.0.0.1")] {
        assert_error(&one(json!({"url": bad_url, "type": "MESAJ", "username": PUSH_USER, "password": PUSH_PASSWORD})), 422, "H531");
    }
    let no_url = one(json!({"type": "MESAJ", "username": PUSH_USER, "password": PUSH_PASSWORD}));
    assert_eq!(no_url.body["errors"][0], json!({"code": "H531", "location": ["url"], "message": "Bağlantı linki (url) https ile başlamalıdır."}));
    let no_type = one(json!({"url": url, "username": PUSH_USER, "password": PUSH_PASSWORD}));
    assert_eq!(no_type.body["errors"][0], json!({"code": "H111", "location": ["type"], "message": "İzin tipi (type) bulunamadı."}));
    let bad_type = one(json!({"url": url, "type": "EPOSTAa", "username": PUSH_USER, "password": PUSH_PASSWORD}));
    assert_eq!(bad_type.status, 422);
    assert_eq!(bad_type.body["errors"][0], json!({"code": "H117", "location": ["type"], "value": "EPOSTAa", "message": "İzin tipi (type) için uygun değerler: ARAMA, MESAJ, EPOSTA"}));
    let no_user = one(json!({"url": url, "type": "MESAJ", "password": PUSH_PASSWORD}));
    assert_eq!(no_user.body["errors"][0], json!({"code": "H093", "location": ["username"], "message": "Kullanıcı adı (username) bulunamadı."}));
    let blank_password = one(json!({"url": url, "type": "MESAJ", "username": PUSH_USER, "password": " "}));
    assert_eq!(blank_password.body["errors"][0], json!({"code": "H093", "location": ["password"], "message": "Şifre (password) bulunamadı."}));

    let everything = one(json!({}));
    assert_eq!(everything.status, 422);
    let expected: Vec<(String, String)> = [
        ("H531", "Bağlantı linki (url) https ile başlamalıdır."),
        ("H111", "İzin tipi (type) bulunamadı."),
        ("H093", "Kullanıcı adı (username) bulunamadı."),
        ("H093", "Şifre (password) bulunamadı."),
    ]
    .iter()
    .map(|(c, m)| (c.to_string(), m.to_string()))
    .collect();
    assert_eq!(codes_and_messages(&everything), expected);

    // Several connections: every error, each with its item's index; nothing connected.
    let two = c.post(&path, &json!({"connection": [connection(&url, "MESAJ"), {"url": url, "type": "SMS", "username": PUSH_USER, "password": PUSH_PASSWORD}]}));
    assert_eq!(two.status, 422);
    assert_eq!(two.body["errors"], json!([{"code": "H117", "location": ["type"], "value": "SMS", "index": 1, "message": "İzin tipi (type) için uygun değerler: ARAMA, MESAJ, EPOSTA"}]));

    for body in ["{broken", r#"{"connection": {}}"#, r#"{"connection": []}"#, r#"{"connection": [1]}"#, "[]", r#"{"url": "x"}"#] {
        let r = c.post_raw(&path, "application/json", body);
        assert_error(&r, 400, "H014");
    }
    assert!(rx.received().is_empty(), "{:?}", rx.received());
    assert_eq!(c.get(&path).body, json!([]));
}

#[test]
fn addresses_that_fail_the_checks_are_refused_with_h530_and_listed_as_failed() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    let not_connected = json!({"code": "H530", "message": "Bağlantı oluşturulamadı."});

    // No basic authentication: the request without credentials is answered 200.
    let open = Receiver::start(Auth::Open);
    let r = register(&c, &open.url("/open"), "MESAJ");
    assert_eq!((r.status, &r.body["errors"]), (422, &json!([not_connected])), "{}", r.text);
    assert!(open.received().iter().all(|g| g.authorization.is_none()), "no datum after a failed check: {:?}", open.received());

    // The test datum refused: the address does not take the credentials given.
    let strict = Receiver::start(Auth::Enforced);
    let wrong = c.post(&brand("/push/registration"), &json!({"connection": [{"url": strict.url("/strict"), "type": "MESAJ", "username": "someone-else", "password": "x"}]}));
    assert_eq!((wrong.status, &wrong.body["errors"]), (422, &json!([not_connected])), "{}", wrong.text);

    // Nobody listening.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed = format!("https://127.0.0.1:{port}/gone");
    assert_eq!(register(&c, &closed, "MESAJ").body["errors"], json!([not_connected]));

    // A certificate of an unknown CA: without push_ca_file only the public roots are trusted.
    let plain = start(test_config());
    let pc = Client::logged_in(&plain);
    let untrusted = register(&pc, &strict.url("/strict"), "ARAMA");
    assert_eq!(untrusted.body["errors"], json!([not_connected]), "{}", untrusted.text);
    assert!(strict.authenticated().is_empty());

    let listed = c.get(&brand("/push/registration")).body;
    let statuses: Vec<(&str, &str)> = listed.as_array().unwrap().iter().map(|l| (l["url"].as_str().unwrap(), l["status"].as_str().unwrap())).collect();
    let strict_url = strict.url("/strict");
    assert_eq!(statuses, [(open.url("/open").as_str(), "Bağlantı Oluşturulamadı"), (strict_url.as_str(), "Bağlantı Oluşturulamadı"), (closed.as_str(), "Bağlantı Oluşturulamadı")]);
    for l in push_admin(&c) {
        assert_eq!(l["active"], false);
        assert!(l["lastError"].as_str().is_some_and(|e| !e.is_empty()), "{l}");
    }
    // A failed address receives nothing.
    let before = open.received().len();
    citizen(&c, &phone(1), "MESAJ", "ONAY", json!({}));
    thread::sleep(Duration::from_millis(300));
    assert_eq!(open.received().len(), before);
}

#[test]
fn a_slow_address_times_out_with_h191() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    // Answers after 9 s: well past IYS's 5 s, so a loaded machine cannot blur the two.
    let slow = Receiver::with_delay(Auth::Enforced, Duration::from_secs(9));
    let started = Instant::now();
    let r = register(&c, &slow.url("/slow"), "EPOSTA");
    let took = started.elapsed();
    assert_eq!((r.status, &r.body), (422, &json!({"errors": [{"code": "H191", "message": "Bağlantı zaman aşımına uğradı."}]})), "{}", r.text);
    assert!(took >= Duration::from_millis(4900) && took < Duration::from_secs(9), "IYS waits 5 s: {took:?}");
    assert_eq!(c.get(&brand("/push/registration")).body[0]["status"], "Bağlantı Oluşturulamadı");
}

#[test]
fn at_most_two_active_connections_per_type() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    let rx = Receiver::start(Auth::Enforced);
    let (a, b, third) = (rx.url("/a"), rx.url("/b"), rx.url("/c"));
    assert_eq!(register(&c, &a, "MESAJ").status, 200);
    assert_eq!(register(&c, &b, "MESAJ").status, 200);
    let before = rx.received().len();
    let refused = register(&c, &third, "MESAJ");
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.body["errors"], json!([{"code": "H530", "location": ["type"], "value": "MESAJ", "message": "Bağlantı oluşturulamadı."}]));
    assert_eq!(rx.received().len(), before, "a refused registration contacts nobody");
    // Two at once over the limit, too (all or none).
    let both = c.post(&brand("/push/registration"), &json!({"connection": [connection(&third, "ARAMA"), connection(&rx.url("/d"), "MESAJ")]}));
    assert_error(&both, 422, "H530");
    assert!(c.get(&brand("/push/registration")).body.as_array().unwrap().iter().all(|l| l["type"] == "MESAJ"));

    assert_eq!(register(&c, &third, "ARAMA").status, 200, "another type has its own two");
    assert_eq!(register(&c, &a, "MESAJ").status, 200, "registering a connected address again adds none");
    let other_brand = c.post(&format!("/sps/{IYS}/brands/{}/push/registration", BRAND + 1), &json!({"connection": [connection(&third, "MESAJ")]}));
    assert_eq!(other_brand.status, 200, "another brand has its own two");

    assert_eq!(unregister(&c, &connection(&b, "MESAJ")).status, 200);
    assert_eq!(register(&c, &third, "MESAJ").status, 200);
    let listed = c.get(&brand("/push/registration")).body;
    let pairs: Vec<(String, String)> = listed.as_array().unwrap().iter().map(|l| (l["url"].as_str().unwrap().to_string(), l["type"].as_str().unwrap().to_string())).collect();
    assert_eq!(pairs, [(a.clone(), "MESAJ".into()), (third.clone(), "ARAMA".into()), (third.clone(), "MESAJ".into())]);
    assert!(listed.as_array().unwrap().iter().all(|l| l["status"] == "Bağlantı Oluşturuldu"));
}

#[test]
fn unregistration_removes_one_connection() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    let rx = Receiver::start(Auth::Enforced);
    let url = rx.url("/push");
    assert_eq!(c.post(&brand("/push/registration"), &json!({"connection": [connection(&url, "MESAJ"), connection(&url, "EPOSTA")]})).status, 200);

    let not_removed = json!([{"code": "H530", "message": "Bağlantı kaldırılamadı."}]);
    let mut wrong_password = connection(&url, "MESAJ");
    wrong_password["password"] = json!("guess");
    assert_eq!(unregister(&c, &wrong_password).body["errors"], not_removed);
    assert_eq!(unregister(&c, &connection(&rx.url("/other"), "MESAJ")).body["errors"], not_removed);
    assert_eq!(unregister(&c, &connection(&url, "ARAMA")).body["errors"], not_removed);
    assert_error(&unregister(&c, &connection(&url.replace("https", "http"), "MESAJ")), 422, "H531");
    assert_error(&unregister(&c, &json!({"url": url, "type": "MESAJ", "password": PUSH_PASSWORD})), 422, "H093");
    assert_error(&unregister(&c, &json!({"url": url, "type": "SMS", "username": PUSH_USER, "password": PUSH_PASSWORD})), 422, "H117");
    assert_error(&unregister(&c, &json!({"url": url, "username": PUSH_USER, "password": PUSH_PASSWORD})), 422, "H111");
    assert_error(&c.post_raw(&brand("/push/unregistration"), "application/json", "{broken"), 400, "H014");
    assert_eq!(c.get(&brand("/push/registration")).body.as_array().unwrap().len(), 2);

    let removed = unregister(&c, &connection(&url, "MESAJ"));
    assert_eq!((removed.status, &removed.body), (200, &json!({"message": "Bağlantı Kaldırıldı"})));
    let listed = c.get(&brand("/push/registration")).body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["type"], "EPOSTA");
    assert_eq!(unregister(&c, &connection(&url, "MESAJ")).body["errors"], not_removed, "removed once");

    // Nothing goes to the removed connection; the other one still gets its type.
    citizen(&c, &phone(1), "MESAJ", "ONAY", json!({}));
    citizen(&c, "removed@example.com", "EPOSTA", "ONAY", json!({}));
    wait_until("the EPOSTA movement", 10, || lane(&c, &url, "EPOSTA")["delivered"] == 1);
    let items: Vec<Value> = rx.authenticated().iter().map(|r| r.body["list"][0].clone()).filter(|i| i["iysCode"] == IYS).collect();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["type"], "EPOSTA");
    assert_eq!(push_admin(&c).len(), 1);
}

// ---- delivery ----------------------------------------------------------------------------------

/// The fields of the test datum, with their JSON types.
fn shape(item: &Value) -> Vec<(String, &'static str)> {
    let mut fields: Vec<(String, &'static str)> = item
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (k.clone(), match v {
                Value::Number(_) => "number",
                Value::String(_) => "string",
                _ => "other",
            })
        })
        .collect();
    fields.sort();
    fields
}

#[test]
fn iys_movements_are_pushed_at_once_in_the_test_datums_shape() {
    // IYS's one-hour hold-back of the pull: the push does not wait for it.
    let sim = start(Config { changes_holdback_secs: 3600, ..push_config() });
    let c = Client::logged_in(&sim);
    let rx = Receiver::start(Auth::Enforced);
    let url = rx.url("/iys/push");
    assert_eq!(register(&c, &url, "MESAJ").status, 200);
    let datum = &documented_test_datum()["list"][0];

    let mut expected = Vec::new();
    let item = |recipient: &str, rt: &str, status: &str, source: &str, consent_date: Option<&str>, answer: &Value| {
        let mut v = json!({"iysCode": IYS, "brandCode": BRAND, "creationDate": answer["creationDate"], "source": source, "recipient": recipient,
                           "recipientType": rt, "status": status, "type": "MESAJ", "transactionId": answer["transactionId"]});
        if let Some(d) = consent_date {
            v["consentDate"] = json!(d);
        }
        v
    };
    // A citizen's change, back-dated two hours: pushed now all the same.
    let back_dated = tr_ago(7200);
    let a = citizen(&c, &phone(1), "MESAJ", "ONAY", json!({"consentDate": back_dated, "creationDate": back_dated}));
    expected.push(item(&phone(1), "BIREYSEL", "ONAY", "IYS_MOBIL", Some(&back_dated), &a));
    // The operator's line closure: a RET carrying the stored consent's date.
    let closure = citizen(&c, &phone(1), "MESAJ", "RET", json!({"source": "IYS_AHS_HAT_KAPATMA"}));
    expected.push(item(&phone(1), "BIREYSEL", "RET", "IYS_AHS_HAT_KAPATMA", Some(&back_dated), &closure));
    // Not pushed: another type, another brand, the service provider's own add, an HS seed, a
    // seed the pull missed.
    citizen(&c, "not.pushed@example.com", "EPOSTA", "ONAY", json!({}));
    let other = c.post("/admin/citizen-change", &json!({"iysCode": IYS, "brandCode": BRAND + 1, "recipient": phone(2), "type": "MESAJ", "status": "ONAY", "source": "IYS_WEB"}));
    assert_eq!(other.status, 200);
    assert_eq!(c.add(&consent(&phone(3), "MESAJ", "ONAY")).status, 200);
    let seeds = c.post("/admin/seed", &json!([
        {"iysCode": IYS, "brandCode": BRAND, "recipient": phone(4), "type": "MESAJ", "status": "ONAY", "source": "HS_WEB"},
        {"iysCode": IYS, "brandCode": BRAND, "recipient": phone(5), "type": "MESAJ", "status": "ONAY", "source": "IYS_WEB", "inPull": false},
        {"iysCode": IYS, "brandCode": BRAND, "recipient": phone(6), "type": "MESAJ", "status": "ONAY", "source": "IYS_3338", "consentDate": "2020-01-02 03:04:05", "creationDate": "2020-01-02 03:04:06"},
        {"iysCode": IYS, "brandCode": BRAND, "recipient": phone(7), "type": "MESAJ", "recipientType": "TACIR", "status": "RET", "source": "IYS_WEB"},
    ]));
    assert_eq!(seeds.status, 200, "{}", seeds.text);
    // Pushed: seeds of IYS_ movements the pull serves, an old one too; a TACIR movement
    // without a consentDate has none in the push either.
    expected.push(item(&phone(6), "BIREYSEL", "ONAY", "IYS_3338", Some("2020-01-02 03:04:05"), &seeds.body[2]));
    expected.push(item(&phone(7), "TACIR", "RET", "IYS_WEB", None, &seeds.body[3]));

    wait_until("four pushed movements", 10, || lane(&c, &url, "MESAJ")["delivered"] == 4);
    let pushed: Vec<Received> = rx.authenticated().into_iter().skip(1).collect();
    let items: Vec<Value> = pushed.iter().map(|r| r.body["list"][0].clone()).collect();
    assert_eq!(items, expected);
    for r in &pushed {
        assert_eq!(r.body["list"].as_array().map(Vec::len), Some(1), "one movement a request: {}", r.body);
        assert_eq!(r.body.as_object().unwrap().len(), 1, "only `list`: {}", r.body);
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert_eq!(r.path, "/iys/push");
    }
    assert_eq!(shape(&items[0]), shape(datum), "exactly the test datum's fields and types");
    let mut without_date = shape(datum);
    without_date.retain(|(k, _)| k != "consentDate");
    assert_eq!(shape(&items[3]), without_date);
    // The pull still holds the fresh closure back.
    let pulled = c.get(&brand("/consents/changes?source=IYS"));
    assert!(!pulled.text.contains(closure["transactionId"].as_str().unwrap()), "{}", pulled.text);

    let l = lane(&c, &url, "MESAJ");
    assert_eq!((l["failedAttempts"].as_u64(), l["dropped"].as_u64(), l["queued"].as_u64()), (Some(0), Some(0), Some(0)), "{l}");
}

#[test]
fn a_failing_receiver_is_retried_in_order_and_each_movement_delivered_once() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    let rx = Receiver::start(Auth::Enforced);
    let url = rx.url("/push");
    assert_eq!(register(&c, &url, "MESAJ").status, 200);
    rx.fail_next(&[503, 503]);
    let first = citizen(&c, &phone(1), "MESAJ", "ONAY", json!({}));
    let second = citizen(&c, &phone(2), "MESAJ", "ONAY", json!({}));

    wait_until("both movements", 10, || lane(&c, &url, "MESAJ")["delivered"] == 2);
    let attempts: Vec<(Value, u16)> = rx.authenticated().into_iter().skip(1).map(|r| (r.body["list"][0]["transactionId"].clone(), r.answered)).collect();
    let (t1, t2) = (first["transactionId"].clone(), second["transactionId"].clone());
    assert_eq!(attempts, [(t1.clone(), 503), (t1.clone(), 503), (t1, 200), (t2, 200)], "the head is retried before the next is sent");
    let l = lane(&c, &url, "MESAJ");
    assert_eq!((l["delivered"].as_u64(), l["failedAttempts"].as_u64(), l["dropped"].as_u64(), l["queued"].as_u64()), (Some(2), Some(2), Some(0), Some(0)), "{l}");
    assert_eq!(l["lastError"], "answered 503");
}

#[test]
fn a_movement_is_dropped_after_push_max_attempts() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    let cfg = c.post("/admin/config", &json!({"push_max_attempts": 3, "push_retry_ms": 10}));
    assert_eq!((cfg.body["push_max_attempts"].as_u64(), cfg.body["push_retry_ms"].as_u64()), (Some(3), Some(10)), "{}", cfg.text);
    let rx = Receiver::start(Auth::Enforced);
    let url = rx.url("/push");
    assert_eq!(register(&c, &url, "ARAMA").status, 200);
    rx.fail_next(&[500, 503, 429]);
    let lost = citizen(&c, &phone(1), "ARAMA", "ONAY", json!({}));
    let next = citizen(&c, &phone(2), "ARAMA", "ONAY", json!({}));

    wait_until("one dropped, one delivered", 10, || {
        let l = lane(&c, &url, "ARAMA");
        l["dropped"] == 1 && l["delivered"] == 1
    });
    let attempts: Vec<Value> = rx.authenticated().into_iter().skip(1).map(|r| r.body["list"][0]["transactionId"].clone()).collect();
    assert_eq!(attempts, [lost["transactionId"].clone(), lost["transactionId"].clone(), lost["transactionId"].clone(), next["transactionId"].clone()]);
    let l = lane(&c, &url, "ARAMA");
    assert_eq!((l["failedAttempts"].as_u64(), l["queued"].as_u64()), (Some(3), Some(0)), "{l}");
    assert_eq!(c.post("/admin/config", &json!({"push_max_attempts": 0})).status, 400);
}

// ---- settings and reset ------------------------------------------------------------------------

#[test]
fn push_settings_and_reset() {
    let sim = start(push_config());
    let c = Client::logged_in(&sim);
    let cfg = c.get("/admin/config").body;
    assert_eq!((cfg["push_ca_file"].as_str(), cfg["push_retry_ms"].as_u64(), cfg["push_max_attempts"].as_u64()), (Some(ca_file().as_str()), Some(50), Some(40)));

    // A CA file that cannot be used changes nothing.
    let bad = c.post("/admin/config", &json!({"push_ca_file": "/nonexistent/ca.pem", "push_retry_ms": 7}));
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.body["error"].as_str().unwrap().contains("push_ca_file"), "{}", bad.text);
    assert_eq!(c.get("/admin/config").body["push_retry_ms"], 50);

    // Without the test CA the receiver's certificate is not trusted; with it again, it is.
    let rx = Receiver::start(Auth::Enforced);
    assert_eq!(c.post("/admin/config", &json!({"push_ca_file": null})).body["push_ca_file"], Value::Null);
    assert_error(&register(&c, &rx.url("/x"), "MESAJ"), 422, "H530");
    assert_eq!(c.post("/admin/config", &json!({"push_ca_file": ca_file()})).status, 200);
    assert_eq!(register(&c, &rx.url("/x"), "MESAJ").status, 200);

    let r = c.post("/admin/reset", &json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(c.get(&brand("/push/registration")).body, json!([]));
    assert!(push_admin(&c).is_empty());
    assert_eq!(c.get("/admin/config").body["push_ca_file"], ca_file(), "settings survive a reset");

    let refused = Simulator::start(Config { push_ca_file: Some("/nonexistent/ca.pem".into()), ..test_config() }).err().expect("a bad CA file stops start-up");
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    assert!(refused.to_string().contains("push_ca_file"), "{refused}");
}

#[test]
fn push_calls_need_a_token_and_pass_the_usual_checks() {
    let sim = start(push_config());
    let anon = Client::new(&sim);
    assert_error(&anon.get(&brand("/push/registration")), 401, "H351");
    let c = Client::logged_in(&sim);
    let r = c.get("/sps/abc/brands/1/push/registration");
    assert_error(&r, 422, "H190");
    assert_eq!(c.send("GET", &brand("/push/unregistration"), None, None).status, 405);
    c.post("/admin/faults", &json!({"account_refusal": {"status": 403, "code": "H586"}}));
    assert_error(&c.get(&brand("/push/registration")), 403, "H586");
    // The consent quota does not concern push connections.
    c.post("/admin/faults", &json!({"account_refusal": {"status": 422, "code": "H525"}}));
    assert_eq!(c.get(&brand("/push/registration")).status, 200);
    c.delete("/admin/faults");
    let stats = c.get("/admin/stats").body.to_string();
    assert!(stats.contains("GET /sps/{iysCode}/brands/{brandCode}/push/registration"), "{stats}");
}
