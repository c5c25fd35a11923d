//! Accepting IYS's connections and answering each request only after its movements are
//! committed.

use crate::config::{Config, Credentials};
use crate::http::{self, HttpError};
use crate::store::Store;
use serde_json::json;
use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Connections handled at once; more wait in the listen queue (IYS sends a few at a time).
const MAX_CONNECTIONS: usize = 32;
/// A connection idle this long between requests (or stalled inside one) is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

pub fn run(config: Config) -> Result<(), String> {
    let tls = match &config.tls {
        Some((cert, key)) => Some(Arc::new(tls_config(cert, key)?)),
        None => None,
    };
    let listener = TcpListener::bind(&config.listen).map_err(|e| format!("listening on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    // The e2e tests and scripts wait for this line.
    eprintln!("iys-push-receiver: listening on {}://{address}", if tls.is_some() { "https" } else { "http" });
    let store = Arc::new(Store::new(config.database.clone()));
    let credentials = Arc::new(config.credentials.clone());
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(tcp) = stream else { continue };
        while active.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            std::thread::sleep(Duration::from_millis(5));
        }
        active.fetch_add(1, Ordering::AcqRel);
        let (tls, store, credentials, active) = (tls.clone(), store.clone(), credentials.clone(), active.clone());
        std::thread::spawn(move || {
            let _ = tcp.set_read_timeout(Some(IDLE_TIMEOUT));
            let _ = tcp.set_write_timeout(Some(IDLE_TIMEOUT));
            let conn: Option<Box<dyn Conn>> = match tls {
                Some(config) => rustls::ServerConnection::new(config).ok().map(|c| Box::new(rustls::StreamOwned::new(c, tcp)) as Box<dyn Conn>),
                None => Some(Box::new(tcp)),
            };
            if let Some(conn) = conn {
                serve(conn, &store, &credentials);
            }
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
    Ok(())
}

fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    rustls::ServerConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key: {e}"))
}

/// One connection: requests one after another until the client closes it.
fn serve(conn: Box<dyn Conn>, store: &Store, credentials: &Credentials) {
    let mut reader = BufReader::new(conn);
    loop {
        let request = match http::read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) | Err(HttpError::Io) => return,
            Err(HttpError::TooLarge) => {
                let _ = http::respond(reader.get_mut(), 413, &json!({"error": "request too large"}), &[], true);
                return;
            }
            Err(HttpError::Malformed(why)) => {
                let _ = http::respond(reader.get_mut(), 400, &json!({"error": why}), &[], true);
                return;
            }
        };
        let close = request.wants_close();
        let (status, body, extra) = answer(&request, store, credentials);
        if http::respond(reader.get_mut(), status, &body, extra, close).is_err() || close {
            return;
        }
    }
}

fn answer(request: &http::Request, store: &Store, credentials: &Credentials) -> (u16, serde_json::Value, &'static [&'static str]) {
    // Credentials first: nothing about the request is told to a caller without them.
    if !crate::auth::is_authorised(request.header("authorization"), credentials) {
        return (401, json!({"error": "authentication required"}), &["WWW-Authenticate: Basic realm=\"iys-push\", charset=\"UTF-8\""]);
    }
    if request.method != "POST" {
        return (405, json!({"error": "only POST"}), &["Allow: POST"]);
    }
    let Ok(text) = std::str::from_utf8(&request.body) else {
        return (400, json!({"error": "the body is not UTF-8"}), &[]);
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) if v.get("list").is_some_and(|l| l.is_array()) => {}
        _ => return (400, json!({"error": "the body must be a JSON object with a list"}), &[]),
    }
    match store.record(text) {
        Ok(recorded) => (200, json!({"recorded": recorded}), &[]),
        // IYS sends it again; the movements are recorded once whenever they arrive.
        Err(e) => {
            eprintln!("iys-push-receiver: not recorded ({e}); answered 503");
            (503, json!({"error": "not recorded, send again"}), &["Retry-After: 1"])
        }
    }
}
