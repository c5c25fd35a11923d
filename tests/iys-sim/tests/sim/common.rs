//! Helpers shared by the HTTP tests: a started simulator, a small JSON client, dates.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use iys_sim::{Config, Simulator};
use serde_json::{json, Value};

pub const IYS: u64 = 700_001;
pub const BRAND: u64 = 700_001;

/// Settings that keep tests fast and deterministic: no rate limit, no batch delay, no hold-back.
pub fn test_config() -> Config {
    Config { rate_limit_per_sec: None, batch_delay_ms: 0, changes_holdback_secs: 0, threads: 4, ..Config::default() }
}

pub fn start(cfg: Config) -> Simulator {
    Simulator::start(cfg).expect("simulator starts")
}

/// `/sps/{IYS}/brands/{BRAND}` + rest.
pub fn brand(rest: &str) -> String {
    format!("/sps/{IYS}/brands/{BRAND}{rest}")
}

pub fn brand_v2(rest: &str) -> String {
    format!("/v2/sps/{IYS}/brands/{BRAND}{rest}")
}

/// Turkey time `secs_ago` seconds before the real now, in IYS's format.
pub fn tr_ago(secs_ago: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    iys_sim::clock::format_local(now + 3 * 3600 - secs_ago)
}

/// A valid BIREYSEL consent dated a minute ago.
pub fn consent(recipient: &str, ty: &str, status: &str) -> Value {
    json!({
        "recipient": recipient,
        "recipientType": "BIREYSEL",
        "type": ty,
        "source": "HS_WEB",
        "status": status,
        "consentDate": tr_ago(60),
    })
}

/// A unique Turkish mobile number for index `i`.
pub fn phone(i: usize) -> String {
    format!("+90532{:07}", i)
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// Error codes of an `{"errors":[...]}` body, in order.
    pub fn codes(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e["code"].as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_default()
    }
}

pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub token: Option<String>,
}

impl Client {
    pub fn new(sim: &Simulator) -> Client {
        Client::for_base(&sim.base_url())
    }

    pub fn for_base(base: &str) -> Client {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
        Client { base: base.to_string(), agent, token: None }
    }

    /// Logs in as the default demo user and keeps the access token.
    pub fn logged_in(sim: &Simulator) -> Client {
        let mut c = Client::new(sim);
        let r = c.post("/oauth2/token", &json!({"grant_type": "password", "username": "iys-demo", "password": "demo-password"}));
        assert_eq!(r.status, 200, "login: {}", r.text);
        c.token = Some(r.body["access_token"].as_str().unwrap().to_string());
        c
    }

    fn req(&self, method: &str, path: &str) -> ureq::Request {
        let mut r = self.agent.request(method, &format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        r
    }

    /// Sends and returns the answer, or the transport error (connection closed, timeout).
    pub fn try_send(&self, method: &str, path: &str, content_type: Option<&str>, body: Option<&str>) -> Result<Resp, String> {
        let mut r = self.req(method, path);
        if let Some(ct) = content_type {
            r = r.set("Content-Type", ct);
        }
        let result = match body {
            Some(b) => r.send_string(b),
            None => r.call(),
        };
        let resp = match result {
            Ok(resp) => resp,
            Err(ureq::Error::Status(_, resp)) => resp,
            Err(e) => return Err(e.to_string()),
        };
        let status = resp.status();
        let content_type = resp.header("content-type").unwrap_or("").to_string();
        let text = resp.into_string().map_err(|e| e.to_string())?;
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
        Ok(Resp { status, content_type, text, body })
    }

    pub fn send(&self, method: &str, path: &str, content_type: Option<&str>, body: Option<&str>) -> Resp {
        self.try_send(method, path, content_type, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, Some("application/json"), Some(&body.to_string()))
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Resp {
        self.send("POST", path, Some(content_type), Some(body))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None, None)
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, None, None)
    }

    /// Submits a batch and expects 202; returns the requestId.
    pub fn submit_batch(&self, items: &Value) -> String {
        let r = self.post(&brand("/consents/request"), items);
        assert_eq!(r.status, 202, "batch: {}", r.text);
        r.body["requestId"].as_str().unwrap().to_string()
    }

    /// Polls a batch until every item is settled; returns the items.
    pub fn wait_batch(&self, path_prefix: &str, request_id: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.get(&format!("{path_prefix}/consents/request/{request_id}"));
            assert_eq!(r.status, 200, "{}", r.text);
            let items = r.body.as_array().cloned().unwrap_or_default();
            if !items.is_empty() && items.iter().all(|i| i["status"] != "enqueue") {
                return items;
            }
            assert!(Instant::now() < deadline, "batch {request_id} never settled");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Single add (V1) of one consent.
    pub fn add(&self, c: &Value) -> Resp {
        self.post(&brand("/consents"), c)
    }

    /// Current consent as IYS reports it.
    pub fn status_of(&self, recipient: &str, ty: &str, rt: &str) -> Resp {
        self.post(&brand("/consents/status"), &json!({"recipient": recipient, "type": ty, "recipientType": rt}))
    }
}

pub fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "expected {status} {code}, got {}", r.text);
    assert!(r.codes().iter().any(|c| c == code), "expected {code} in {}", r.text);
}

/// Freezes the simulated clock at a Turkey time.
pub fn freeze_at(c: &Client, local: &str) {
    let r = c.post("/admin/clock", &json!({"clock_speed": 0, "now": local}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["now"], local);
}

/// `/admin/config` of a simulator with IYS's own defaults (the document's limits and timing).
pub fn assert_iys_defaults(cfg: &Value) {
    assert_eq!(cfg["batch_delay_ms"], 300_000);
    assert_eq!(cfg["batch_enqueue_ms"], 0);
    assert_eq!(cfg["rate_limit_per_sec"], 10);
    assert_eq!(cfg["changes_holdback_secs"], 3600);
    assert_eq!(cfg["token_limit_per_hour"], 10);
    assert_eq!(cfg["status_limit_per_hour"], 1000);
    assert_eq!(cfg["clock_speed"], 1.0);
    assert_eq!(cfg["token_limit_shape"], "errors");
    assert_eq!(cfg["push_ca_file"], Value::Null);
    assert_eq!(cfg["push_retry_ms"], 500);
    assert_eq!(cfg["push_max_attempts"], 40);
}
