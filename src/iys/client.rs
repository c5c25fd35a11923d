//! Blocking HTTP client for the IYS REST API. Every call has a timeout; nothing here touches
//! the database, so the worker can call it outside any transaction.

use super::outcome::{Call, CallFailure};
use super::wire::{parse_error_envelope, BatchAccepted, ChangesPage, ConsentRecord, ItemResult, PullSource, TokenGrant};
use std::time::Duration;

/// Where one brand's consents go: `/sps/{iys_code}/brands/{brand_code}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub iys_code: String,
    pub brand_code: String,
}

impl Endpoint {
    fn prefix(&self, v2: bool) -> String {
        let v = if v2 { "/v2" } else { "" };
        format!("{v}/sps/{}/brands/{}", self.iys_code, self.brand_code)
    }
}

#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    /// A proxy setting that could not be used: every call fails with it rather than going
    /// around the proxy.
    proxy_error: Option<String>,
}

/// Largest answer body we read: a 1000-item result list is ~300 KB.
const MAX_BODY: u64 = 16 * 1024 * 1024;

impl Client {
    /// `proxy`: an HTTP proxy URL (`http://[user:password@]host:port`) every call goes through.
    pub fn new(base_url: &str, timeout: Duration, proxy: Option<&str>) -> Client {
        let mut builder = ureq::AgentBuilder::new()
            // One deadline for the whole call (connect, send, wait, read): a slow IYS can never
            // hold the worker longer than iys.http_timeout_ms.
            .timeout(timeout)
            .user_agent(concat!("pg_iys/", env!("CARGO_PKG_VERSION")));
        let mut proxy_error = None;
        if let Some(proxy) = proxy.map(str::trim).filter(|p| !p.is_empty()) {
            match ureq::Proxy::new(proxy) {
                Ok(proxy) => builder = builder.proxy(proxy),
                // The message never repeats the setting (it may hold a password).
                Err(e) => proxy_error = Some(format!("iys.http_proxy is not a usable proxy URL ({})", e.kind())),
            }
        }
        Client { agent: builder.build(), base_url: base_url.trim_end_matches('/').to_owned(), proxy_error }
    }

    /// Fails when the configured proxy could not be set up.
    fn usable(&self) -> Result<(), CallFailure> {
        match &self.proxy_error {
            Some(message) => Err(CallFailure::transport(message.clone())),
            None => Ok(()),
        }
    }

    /// Password grant. The password is sent in the body only; it never appears in an error.
    pub fn token_password(&self, username: &str, password: &str) -> Result<TokenGrant, CallFailure> {
        let body = serde_json::json!({"grant_type": "password", "username": username, "password": password});
        self.token(body, Call::TokenPassword)
    }

    /// Refresh grant; IYS rotates the refresh token, so the caller must store the new one.
    pub fn token_refresh(&self, refresh_token: &str) -> Result<TokenGrant, CallFailure> {
        self.token(serde_json::json!({"grant_type": "refresh_token", "refresh_token": refresh_token}), Call::TokenRefresh)
    }

    fn token(&self, body: serde_json::Value, call: Call) -> Result<TokenGrant, CallFailure> {
        self.usable()?;
        let request = self.agent.post(&format!("{}/oauth2/token", self.base_url));
        let text = Self::send(request.send_json(body), call)?;
        parse_json(&text)
    }

    /// Async batch add (V2: an identical resend is answered with the original request's
    /// result instead of a rejection, which makes at-least-once delivery harmless).
    pub fn submit_batch(&self, token: &str, to: &Endpoint, records: &[ConsentRecord]) -> Result<BatchAccepted, CallFailure> {
        self.usable()?;
        let url = format!("{}{}/consents/request", self.base_url, to.prefix(true));
        let request = self.agent.post(&url).set("Authorization", &format!("Bearer {token}"));
        let text = Self::send(request.send_json(records), Call::BatchSubmit)?;
        parse_json(&text)
    }

    /// Per-item results of a batch; empty or partial (`enqueue`) until IYS has processed it.
    pub fn batch_result(&self, token: &str, to: &Endpoint, request_id: &str) -> Result<Vec<ItemResult>, CallFailure> {
        self.usable()?;
        let url = format!("{}{}/consents/request/{}", self.base_url, to.prefix(true), urlencode(request_id));
        let request = self.agent.get(&url).set("Authorization", &format!("Bearer {token}"));
        let text = Self::send(request.call(), Call::Other)?;
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        parse_json(&text)
    }

    /// One page of consent movements after `after`; `None` when IYS answers 204 (nothing new).
    pub fn changes(
        &self,
        token: &str,
        from: &Endpoint,
        source: PullSource,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Option<ChangesPage>, CallFailure> {
        self.usable()?;
        let mut url = format!(
            "{}{}/consents/changes?source={}&limit={}",
            self.base_url,
            from.prefix(false),
            source.as_str(),
            limit.min(1000)
        );
        if let Some(after) = after {
            url.push_str("&after=");
            url.push_str(&urlencode(after));
        }
        let request = self.agent.get(&url).set("Authorization", &format!("Bearer {token}"));
        match request.call() {
            Ok(response) if response.status() == 204 => Ok(None),
            other => {
                let text = Self::send(other, Call::Other)?;
                if text.trim().is_empty() || text.trim() == "{}" {
                    return Ok(None);
                }
                parse_json(&text).map(Some)
            }
        }
    }

    /// Reads a response body, turning HTTP and transport failures into a classified failure.
    fn send(result: Result<ureq::Response, ureq::Error>, call: Call) -> Result<String, CallFailure> {
        match result {
            Ok(response) => read_body(response),
            Err(ureq::Error::Status(status, response)) => {
                let body = read_body(response).unwrap_or_default();
                Err(CallFailure::from_status(status, parse_error_envelope(&body), call))
            }
            // Transport errors can carry the URL but never the body or headers: safe to show.
            Err(ureq::Error::Transport(t)) => Err(CallFailure::transport(format!("transport error: {}", t.kind()))),
        }
    }
}

fn read_body(response: ureq::Response) -> Result<String, CallFailure> {
    use std::io::Read;
    let mut text = String::new();
    response
        .into_reader()
        .take(MAX_BODY)
        .read_to_string(&mut text)
        .map_err(|e| CallFailure::transport(format!("reading the answer failed: {}", e.kind())))?;
    Ok(text)
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, CallFailure> {
    serde_json::from_str(text).map_err(|e| CallFailure {
        kind: super::FailureKind::Retryable,
        status: None,
        errors: Vec::new(),
        message: format!("unexpected answer from IYS: {e}"),
    })
}

/// Percent-encodes a query or path value (cursors and request ids are opaque to us).
fn urlencode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencode_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(urlencode("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(urlencode("a b/c=d&e+"), "a%20b%2Fc%3Dd%26e%2B");
    }

    #[test]
    fn unreachable_server_is_a_retryable_transport_failure() {
        // Port 9 on loopback: nothing listens there in the test environment.
        let client = Client::new("http://127.0.0.1:9", Duration::from_millis(300), None);
        let failure = client.token_password("user", "secret-password").unwrap_err();
        assert!(failure.is_retryable(), "{failure:?}");
        assert!(!failure.message.contains("secret-password"));
    }

    #[test]
    fn an_unusable_proxy_fails_every_call_without_showing_the_setting() {
        let client = Client::new("http://127.0.0.1:9", Duration::from_millis(300), Some("ftp://user:secret@proxy:1"));
        let failure = client.token_password("user", "pw").unwrap_err();
        assert!(failure.message.contains("iys.http_proxy"), "{failure:?}");
        assert!(!failure.message.contains("secret"));
    }
}
