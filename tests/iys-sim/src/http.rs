//! A small HTTP/1.1 server on std::net, enough for IYS's JSON API.
//!
//! Written by hand instead of using a server crate for two reasons: the drop faults need to
//! close a connection without sending a single byte, which server crates do not allow, and the
//! dependency stays tiny for a 2-core CI. Supports keep-alive, Content-Length and chunked
//! request bodies and `Expect: 100-continue` (curl sends it for large batches).
//! One thread per connection (so idle keep-alive clients never starve others); `threads` bounds
//! how many requests are handled at the same time.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::Value;

/// Idle keep-alive connections are closed after this long, like a typical front proxy.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_HEAD_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path without the query string, not percent-decoded.
    pub path: String,
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Decoded query parameters in order.
    pub fn query_params(&self) -> Vec<(String, String)> {
        parse_urlencoded(&self.query)
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// Decodes `a=b&c=d` with `+` as space and %XX escapes.
pub fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

impl Response {
    pub fn json(status: u16, v: &Value) -> Self {
        Response { status, body: serde_json::to_vec(v).unwrap_or_default(), content_type: "application/json;charset=UTF-8" }
    }

    /// No body at all (204).
    pub fn empty(status: u16) -> Self {
        Response { status, body: Vec::new(), content_type: "application/json;charset=UTF-8" }
    }

    /// A CSV file (the daily movement file).
    pub fn csv(status: u16, text: String) -> Self {
        Response { status, body: text.into_bytes(), content_type: "text/csv;charset=UTF-8" }
    }
}

/// What the handler wants done with the connection.
pub enum Reply {
    Send(Response),
    /// Close the connection without answering.
    Drop,
}

pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// Counting semaphore bounding concurrent handlers.
struct Permits {
    free: Mutex<usize>,
    cv: Condvar,
}

impl Permits {
    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            while *free == 0 {
                free = self.cv.wait(free).unwrap_or_else(|e| e.into_inner());
            }
            *free -= 1;
        }
        // Give the permit back even if the handler panics.
        struct Release<'a>(&'a Permits);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                self.0.cv.notify_one();
            }
        }
        let _release = Release(self);
        f()
    }
}

struct Shared {
    handler: Handler,
    permits: Permits,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(listen: &str, threads: usize, handler: Handler) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            handler,
            permits: Permits { free: Mutex::new(threads.max(1)), cv: Condvar::new() },
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        });
        let s = shared.clone();
        let acceptor = thread::Builder::new().name("iys-sim-accept".into()).spawn(move || accept_loop(listener, s))?;
        Ok(HttpServer { addr, shared, acceptor: Some(acceptor) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stop_now(&mut self) {
        if self.shared.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the blocking accept() so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for (_, c) in self.shared.conns.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for HttpServer {
    /// Stops accepting, closes every open connection and waits for the acceptor to finish.
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else { continue };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            shared.conns.lock().unwrap_or_else(|e| e.into_inner()).insert(id, clone);
        }
        let s = shared.clone();
        let spawned = thread::Builder::new().name("iys-sim-conn".into()).spawn(move || {
            serve_connection(stream, peer, &s);
            s.conns.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        });
        if spawned.is_err() {
            shared.conns.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        }
    }
}

enum ReadError {
    /// Malformed request: answer this status and close.
    Bad(u16),
    Io,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    let mut writer = stream;
    loop {
        let (req, keep_alive) = match read_request(&mut reader, &mut writer, peer) {
            Ok(Some(r)) => r,
            Ok(None) | Err(ReadError::Io) => break,
            Err(ReadError::Bad(status)) => {
                let body = serde_json::json!({"errors":[{"code":"H014","message":"Gönderilen istek JSON formatına uygun olmalıdır."}]});
                let _ = write_response(&mut writer, &Response::json(status, &body), false);
                break;
            }
        };
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let reply = shared.permits.run(|| (shared.handler)(&req));
        match reply {
            Reply::Send(resp) => {
                if write_response(&mut writer, &resp, keep_alive).is_err() || !keep_alive {
                    break;
                }
            }
            Reply::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let n = reader.by_ref().take(MAX_HEAD_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_HEAD_LINE {
        return Err(ReadError::Bad(431));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| ReadError::Bad(400))
}

fn read_request(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream, peer: SocketAddr) -> Result<Option<(Request, bool)>, ReadError> {
    // Tolerate stray blank lines between pipelined requests.
    let line = loop {
        match read_line(reader)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ReadError::Bad(400));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(505));
    }
    let mut headers = Vec::new();
    loop {
        let Some(l) = read_line(reader)? else { return Err(ReadError::Io) };
        if l.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad(431));
        }
        let Some((name, value)) = l.split_once(':') else { return Err(ReadError::Bad(400)) };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.to_ascii_lowercase());
    let connection = get("connection").unwrap_or_default();
    let keep_alive = if version == "HTTP/1.0" { connection.contains("keep-alive") } else { !connection.contains("close") };

    if get("expect").is_some_and(|e| e == "100-continue") {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        read_chunked(reader)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().map_err(|_| ReadError::Bad(400))?;
        if len > MAX_BODY {
            return Err(ReadError::Bad(413));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let req = Request { method: method.to_string(), path: path.to_string(), query: query.to_string(), headers, body, peer };
    Ok(Some((req, keep_alive)))
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let Some(size_line) = read_line(reader)? else { return Err(ReadError::Io) };
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| ReadError::Bad(400))?;
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad(413));
        }
        if size == 0 {
            // Trailers, up to the blank line.
            while let Some(l) = read_line(reader)? {
                if l.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

fn write_response(w: &mut TcpStream, resp: &Response, keep_alive: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(resp.body.len() + 160);
    write!(out, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status))?;
    if resp.status != 204 {
        write!(out, "Content-Type: {}\r\nContent-Length: {}\r\n", resp.content_type, resp.body.len())?;
    }
    write!(out, "Connection: {}\r\n\r\n", if keep_alive { "keep-alive" } else { "close" })?;
    if resp.status != 204 {
        out.extend_from_slice(&resp.body);
    }
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        let p = parse_urlencoded("grant_type=password&username=a%40b.com&password=p+w%2B&x");
        assert_eq!(p[1], ("username".into(), "a@b.com".into()));
        assert_eq!(p[2], ("password".into(), "p w+".into()));
        assert_eq!(p[3], ("x".into(), "".into()));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
