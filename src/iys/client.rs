//! Blocking HTTP client for the IYS REST API. Every call has a timeout; nothing here touches
//! the database, so the worker can call it outside any transaction.

use super::outcome::{Call, CallFailure, ACCOUNT_CODES};
use super::wire::{
    parse_consent_detail, parse_error_envelope, parse_movement_file, ApprovedRecipients, BatchAccepted, ChangesPage,
    ConsentDetail, ConsentRecord, EnvelopeError, FileMovement, ItemResult, PullSource, PushConnection, PushStatus, TokenGrant,
};
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

/// What went wrong on the way: the kind, and for a failed connection its root cause (a TLS
/// refusal such as "invalid peer certificate: UnknownIssuer" tells the DBA to set iys.ca_file).
/// Never the URL or a setting: a proxy URL may hold a password.
fn transport_message(t: &ureq::Transport) -> String {
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(t);
    let mut root = None;
    while let Some(error) = cause {
        root = Some(error);
        cause = error.source();
    }
    match (t.kind(), root) {
        (ureq::ErrorKind::ConnectionFailed, Some(root)) => format!("transport error: {}: {root}", t.kind()),
        (kind, _) => format!("transport error: {kind}"),
    }
}

/// TLS settings trusting the public roots ureq trusts and the CA certificates of `path`.
fn tls_config_trusting(path: &str) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let certificates = CertificateDer::pem_file_iter(path).map_err(|e| format!("iys.ca_file cannot be read ({e})"))?;
    let mut added = 0;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| format!("iys.ca_file is not a PEM certificate file ({e})"))?;
        roots.add(certificate).map_err(|e| format!("iys.ca_file holds a certificate that cannot be a trust anchor ({e})"))?;
        added += 1;
    }
    if added == 0 {
        return Err("iys.ca_file holds no PEM certificate".to_owned());
    }
    // The provider and protocol versions ureq itself uses.
    let config = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| format!("TLS setup failed ({e})"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    /// A proxy or CA setting that could not be used: every call fails with it rather than
    /// going around the proxy or trusting other certificates.
    setup_error: Option<String>,
}

/// Largest answer body we read: a 1000-item result list is ~300 KB.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// Largest daily movement file we read: ~150 bytes a movement, so about 1.7 million movements
/// of one brand in one day.
const MAX_FILE_BODY: u64 = 256 * 1024 * 1024;

/// Codes that answer a single status query for an address IYS holds no consent for. The
/// document gives none for that operation; these are its "not in the system" codes elsewhere:
/// H175 (a first record cannot be RET: nothing stored yet), H401 (the consent to give a
/// retailer access to is not in the system), H1083 (the consent to update is not in the
/// system), H1084 (the recipient is not in the system).
const NO_CONSENT_CODES: &[&str] = &["H175", "H401", "H1083", "H1084"];

impl Client {
    /// `proxy`: an HTTP proxy URL (`http://[user:password@]host:port`) every call goes through.
    pub fn new(base_url: &str, timeout: Duration, proxy: Option<&str>) -> Client {
        Client::with_ca_file(base_url, timeout, proxy, None)
    }

    /// [`Client::new`], trusting also the CA certificates of the PEM file `ca_file` (a company's
    /// TLS-inspecting proxy, for one) besides the usual public roots.
    pub fn with_ca_file(base_url: &str, timeout: Duration, proxy: Option<&str>, ca_file: Option<&str>) -> Client {
        let mut builder = ureq::AgentBuilder::new()
            // One deadline for the whole call (connect, send, wait, read): a slow IYS can never
            // hold the worker longer than iys.http_timeout.
            .timeout(timeout)
            .user_agent(concat!("pg_iys/", env!("CARGO_PKG_VERSION")));
        let mut setup_error = None;
        if let Some(proxy) = proxy.map(str::trim).filter(|p| !p.is_empty()) {
            match ureq::Proxy::new(proxy) {
                Ok(proxy) => builder = builder.proxy(proxy),
                // The message never repeats the setting (it may hold a password).
                Err(e) => setup_error = Some(format!("iys.http_proxy is not a usable proxy URL ({})", e.kind())),
            }
        }
        if let Some(path) = ca_file.map(str::trim).filter(|p| !p.is_empty()) {
            match tls_config_trusting(path) {
                Ok(config) => builder = builder.tls_config(config),
                Err(message) => setup_error = setup_error.or(Some(message)),
            }
        }
        Client { agent: builder.build(), base_url: base_url.trim_end_matches('/').to_owned(), setup_error }
    }

    /// Fails when the configured proxy or CA file could not be set up.
    fn usable(&self) -> Result<(), CallFailure> {
        match &self.setup_error {
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
        let url = format!("{}{}/consents/request", self.base_url, to.prefix(true));
        let text = self.post(token, &url, &records, Call::BatchSubmit)?;
        parse_json(&text)
    }

    /// Per-item results of a batch; empty or partial (`enqueue`) until IYS has processed it.
    pub fn batch_result(&self, token: &str, to: &Endpoint, request_id: &str) -> Result<Vec<ItemResult>, CallFailure> {
        let url = format!("{}{}/consents/request/{}", self.base_url, to.prefix(true), urlencode(request_id));
        let text = self.get(token, &url, Call::Other)?;
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        parse_json(&text)
    }

    /// Asks IYS to push the brand's IYS_* movements of `consent_type` to `url` with basic
    /// authentication (`username`, `password`). IYS checks the address before it answers.
    pub fn push_register(&self, token: &str, to: &Endpoint, connection: &PushConnection) -> Result<(), CallFailure> {
        let url = format!("{}{}/push/registration", self.base_url, to.prefix(false));
        self.post(token, &url, &serde_json::json!({ "connection": [connection] }), Call::Other).map(|_| ())
    }

    /// Asks IYS to stop pushing to one connection.
    pub fn push_unregister(&self, token: &str, to: &Endpoint, connection: &PushConnection) -> Result<(), CallFailure> {
        let url = format!("{}{}/push/unregistration", self.base_url, to.prefix(false));
        self.post(token, &url, connection, Call::Other).map(|_| ())
    }

    /// The brand's push connections as IYS lists them.
    pub fn push_connections(&self, token: &str, from: &Endpoint) -> Result<Vec<PushStatus>, CallFailure> {
        let url = format!("{}{}/push/registration", self.base_url, from.prefix(false));
        let text = self.get(token, &url, Call::Other)?;
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

    /// Which of `recipients` IYS holds in ONAY for this brand, recipient type (`BIREYSEL`,
    /// `TACIR`) and consent type (`MESAJ`, `ARAMA`, `EPOSTA`), as IYS writes them (e-mails
    /// lower-cased). IYS takes at most 1000 addresses a query and answers more with 422 H127 (a
    /// final failure); it refuses an empty list too (H164), so none asked is none approved,
    /// without a call.
    pub fn multi_status(
        &self,
        token: &str,
        to: &Endpoint,
        recipient_type: &str,
        consent_type: &str,
        recipients: &[String],
    ) -> Result<Vec<String>, CallFailure> {
        if recipients.is_empty() {
            return Ok(Vec::new());
        }
        let url = format!("{}{}/consents/{}/status/{}", self.base_url, to.prefix(false), urlencode(recipient_type), urlencode(consent_type));
        let text = self.post(token, &url, &serde_json::json!({ "recipients": recipients }), Call::Other)?;
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let answer: ApprovedRecipients = parse_json(&text)?;
        Ok(answer.list.unwrap_or_default())
    }

    /// The consent IYS holds for one address, or `None` when it holds none. How IYS answers an
    /// unknown consent is not documented, so every plausible shape means `None`: 200 with an
    /// empty body, `{}` or an object without `status`; 204; 404 (unless it names an account
    /// refusal); an error naming one of [`NO_CONSENT_CODES`]. A 429 (H086: 1000 queries an hour
    /// per IP; H124: 10 requests a second) comes back as a failure for which
    /// [`CallFailure::is_rate_limited`] holds.
    pub fn single_status(
        &self,
        token: &str,
        to: &Endpoint,
        recipient: &str,
        recipient_type: &str,
        consent_type: &str,
    ) -> Result<Option<ConsentDetail>, CallFailure> {
        self.usable()?;
        let url = format!("{}{}/consents/status", self.base_url, to.prefix(false));
        let request = self.agent.post(&url).set("Authorization", &format!("Bearer {token}"));
        let query = serde_json::json!({ "recipient": recipient, "recipientType": recipient_type, "type": consent_type });
        let (status, text) = Self::answer(request.send_json(query), MAX_BODY)?;
        if status >= 400 {
            let errors = parse_error_envelope(&text);
            if means_no_consent(status, &errors) {
                return Ok(None);
            }
            return Err(CallFailure::from_status(status, errors, Call::StatusQuery));
        }
        parse_consent_detail(&text).map_err(unexpected)
    }

    /// The daily movement file of `report_date` (a Turkey-time day): every consent movement of
    /// the brand that day, the service provider's and the citizens'. `None` when IYS has no
    /// file (204): it makes each file at the end of the day, so today's comes tomorrow. IYS
    /// keeps seven days: an older date is a final failure (422 H502), as is a bad date (H501).
    pub fn daily_file(&self, token: &str, to: &Endpoint, report_date: chrono::NaiveDate) -> Result<Option<Vec<FileMovement>>, CallFailure> {
        self.usable()?;
        let url = format!("{}{}/changes/{}/file", self.base_url, to.prefix(false), report_date.format("%Y-%m-%d"));
        let request = self.agent.get(&url).set("Authorization", &format!("Bearer {token}")).set("Accept", "text/csv, */*");
        let (status, text) = Self::answer(request.call(), MAX_FILE_BODY)?;
        match status {
            204 => Ok(None),
            400.. => Err(CallFailure::from_status(status, parse_error_envelope(&text), Call::Other)),
            _ => parse_movement_file(&text).map(Some).map_err(unexpected),
        }
    }

    pub(super) fn base(&self) -> &str {
        &self.base_url
    }

    /// POSTs `body` as JSON with the bearer token; the answer's body.
    pub(super) fn post(&self, token: &str, url: &str, body: &impl serde::Serialize, call: Call) -> Result<String, CallFailure> {
        self.usable()?;
        let request = self.agent.post(url).set("Authorization", &format!("Bearer {token}"));
        Self::send(request.send_json(body), call)
    }

    /// GETs `url` with the bearer token; the answer's body.
    pub(super) fn get(&self, token: &str, url: &str, call: Call) -> Result<String, CallFailure> {
        self.usable()?;
        let request = self.agent.get(url).set("Authorization", &format!("Bearer {token}"));
        Self::send(request.call(), call)
    }

    /// Reads a response body, turning HTTP and transport failures into a classified failure.
    fn send(result: Result<ureq::Response, ureq::Error>, call: Call) -> Result<String, CallFailure> {
        let (status, body) = Self::answer(result, MAX_BODY)?;
        if status >= 400 {
            return Err(CallFailure::from_status(status, parse_error_envelope(&body), call));
        }
        Ok(body)
    }

    /// IYS's answer, whatever its status: only a missing answer (transport, a body that cannot
    /// be read in full) is a failure. An error answer's body that cannot be read is empty.
    fn answer(result: Result<ureq::Response, ureq::Error>, max_body: u64) -> Result<(u16, String), CallFailure> {
        match result {
            Ok(response) => Ok((response.status(), read_body(response, max_body)?)),
            Err(ureq::Error::Status(status, response)) => Ok((status, read_body(response, max_body).unwrap_or_default())),
            // Transport errors can carry the URL but never the body or headers: safe to show.
            Err(ureq::Error::Transport(t)) => Err(CallFailure::transport(transport_message(&t))),
        }
    }
}

/// Whether a single status query's error answer means "IYS holds no such consent".
fn means_no_consent(status: u16, errors: &[EnvelopeError]) -> bool {
    let names = |codes: &[&str]| errors.iter().any(|e| codes.contains(&e.code.as_str()));
    (status == 404 && !names(ACCOUNT_CODES)) || names(NO_CONSENT_CODES)
}

/// The body, at most `max` bytes (more is a failure, never a silently cut answer); bytes that
/// are not UTF-8 become U+FFFD rather than failing the call.
fn read_body(response: ureq::Response, max: u64) -> Result<String, CallFailure> {
    use std::io::Read;
    let mut bytes = Vec::new();
    response
        .into_reader()
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CallFailure::transport(format!("reading the answer failed: {}", e.kind())))?;
    if bytes.len() as u64 > max {
        return Err(unexpected(format!("the answer is larger than {} MiB", max / (1024 * 1024))));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// IYS answered something we cannot read: retried, as a proxy's or gateway's page would be.
pub(super) fn unexpected(detail: impl std::fmt::Display) -> CallFailure {
    CallFailure { kind: super::FailureKind::Retryable, status: None, errors: Vec::new(), message: format!("unexpected answer from IYS: {detail}") }
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, CallFailure> {
    serde_json::from_str(text).map_err(unexpected)
}

/// Percent-encodes a query or path value (cursors and request ids are opaque to us).
pub(super) fn urlencode(raw: &str) -> String {
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
    fn unknown_consents_in_any_error_shape_are_no_consent() {
        let errors = |code: &str| vec![EnvelopeError { code: code.into(), ..Default::default() }];
        assert!(means_no_consent(404, &[]));
        assert!(means_no_consent(404, &errors("H999")));
        assert!(means_no_consent(400, &errors("H175")));
        assert!(means_no_consent(422, &errors("H1084")));
        assert!(!means_no_consent(404, &errors("H353")), "an account refusal stays one");
        assert!(!means_no_consent(400, &errors("H097")));
        assert!(!means_no_consent(429, &errors("H086")));
        assert!(!means_no_consent(403, &errors("H521")));
    }

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

    /// A loopback HTTPS server with a certificate of the test CA (src/iys/testdata), answering
    /// every request 401; returns its port. Serves `calls` connections, then ends.
    fn tls_server(calls: usize) -> u16 {
        use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
        use std::io::{Read, Write};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/iys/testdata");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(format!("{dir}/test-server.pem")).unwrap().map(Result::unwrap).collect();
        let key = PrivateKeyDer::from_pem_file(format!("{dir}/test-server.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let config = std::sync::Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(calls) {
                let Ok(mut tcp) = stream else { continue };
                let Ok(mut tls) = rustls::ServerConnection::new(config.clone()) else { continue };
                let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
                let mut request = [0u8; 4096];
                if stream.read(&mut request).is_ok() {
                    let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
                    let _ = stream.flush();
                }
            }
        });
        port
    }

    /// iys.ca_file: a server whose certificate a company CA signed is refused with the public
    /// roots alone and reached once that CA file is trusted too; a bad file fails every call.
    #[test]
    fn an_extra_ca_file_is_trusted_besides_the_public_roots() {
        let port = tls_server(2);
        let url = format!("https://localhost:{port}");
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/src/iys/testdata/test-ca.pem");
        let untrusted = Client::new(&url, Duration::from_secs(5), None).token_password("user", "pw").unwrap_err();
        assert_eq!(untrusted.status, None, "the TLS handshake must fail: {untrusted:?}");
        assert!(untrusted.message.contains("UnknownIssuer"), "the cause is named: {untrusted:?}");
        let trusted = Client::with_ca_file(&url, Duration::from_secs(5), None, Some(ca)).token_password("user", "pw").unwrap_err();
        assert_eq!(trusted.status, Some(401), "the call must reach the server: {trusted:?}");
        let missing = Client::with_ca_file(&url, Duration::from_secs(5), None, Some("/nonexistent/ca.pem")).token_password("user", "pw").unwrap_err();
        assert!(missing.message.contains("iys.ca_file"), "{missing:?}");
    }

    #[test]
    fn an_unusable_proxy_fails_every_call_without_showing_the_setting() {
        let client = Client::new("http://127.0.0.1:9", Duration::from_millis(300), Some("ftp://user:secret@proxy:1"));
        let failure = client.token_password("user", "pw").unwrap_err();
        assert!(failure.message.contains("iys.http_proxy"), "{failure:?}");
        assert!(!failure.message.contains("secret"));
    }
}
