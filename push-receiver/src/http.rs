//! Just enough HTTP/1.1 for IYS's POSTs: one request after another on a connection, bodies by
//! Content-Length or chunked, bounded sizes.

use std::io::{BufRead, Write};

const MAX_HEAD: usize = 16 * 1024;
/// IYS pushes a few movements a request; a megabyte is far beyond any real one.
pub const MAX_BODY: usize = 1024 * 1024;

pub struct Request {
    pub method: String,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The client asked to close the connection after this request.
    pub fn wants_close(&self) -> bool {
        self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

#[derive(Debug, PartialEq)]
pub enum HttpError {
    /// The request cannot be read; answer 400 and close.
    Malformed(&'static str),
    /// Bigger than this receiver takes; answer 413 and close.
    TooLarge,
    /// The connection broke or timed out.
    Io,
}

/// The next request, or None when the client closed the connection between requests.
pub fn read_request(stream: &mut impl BufRead) -> Result<Option<Request>, HttpError> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = std::io::Read::take(&mut *stream, (MAX_HEAD + 1 - head.len().min(MAX_HEAD)) as u64).read_until(b'\n', &mut line).map_err(|_| HttpError::Io)?;
        if n == 0 {
            return if head.is_empty() { Ok(None) } else { Err(HttpError::Malformed("the request ends inside its head")) };
        }
        if head.len() + line.len() > MAX_HEAD {
            return Err(HttpError::TooLarge);
        }
        if line == b"\r\n" || line == b"\n" {
            if head.is_empty() {
                continue; // stray line break between requests
            }
            break;
        }
        head.extend_from_slice(&line);
    }
    let head = String::from_utf8(head).map_err(|_| HttpError::Malformed("the request head is not UTF-8"))?;
    let mut lines = head.lines();
    let mut start = lines.next().unwrap_or_default().split_whitespace();
    // Any path: IYS calls the address it was registered with, whatever it is.
    let (Some(method), Some(_path), Some(version)) = (start.next(), start.next(), start.next()) else {
        return Err(HttpError::Malformed("bad request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("not HTTP/1.x"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HttpError::Malformed("bad header line"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request { method: method.to_owned(), headers, body: Vec::new() };
    if request.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        request.body = read_chunked(stream)?;
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| HttpError::Malformed("bad Content-Length"))?;
        if length > MAX_BODY {
            return Err(HttpError::TooLarge);
        }
        request.body = vec![0; length];
        stream.read_exact(&mut request.body).map_err(|_| HttpError::Io)?;
    }
    Ok(Some(request))
}

fn read_chunked(stream: &mut impl BufRead) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        std::io::Read::take(&mut *stream, 64).read_line(&mut size_line).map_err(|_| HttpError::Io)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or_default(), 16)
            .map_err(|_| HttpError::Malformed("bad chunk size"))?;
        if body.len() + size > MAX_BODY {
            return Err(HttpError::TooLarge);
        }
        if size == 0 {
            // Trailers, if any, up to the empty line.
            loop {
                let mut line = String::new();
                let n = std::io::Read::take(&mut *stream, MAX_HEAD as u64).read_line(&mut line).map_err(|_| HttpError::Io)?;
                if n == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        stream.read_exact(&mut body[start..]).map_err(|_| HttpError::Io)?;
        let mut crlf = [0u8; 2];
        stream.read_exact(&mut crlf).map_err(|_| HttpError::Io)?;
        if &crlf != b"\r\n" {
            return Err(HttpError::Malformed("a chunk does not end with CRLF"));
        }
    }
}

/// Writes a JSON answer. `extra`: more header lines (`Name: value`).
pub fn respond(stream: &mut impl Write, status: u16, body: &serde_json::Value, extra: &[&str], close: bool) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Service Unavailable",
    };
    let body = body.to_string();
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> Result<Option<Request>, HttpError> {
        read_request(&mut std::io::BufReader::new(raw.as_bytes()))
    }

    #[test]
    fn a_post_with_a_length_is_read_and_the_next_one_after_it() {
        let raw = "POST /iys/push HTTP/1.1\r\nHost: x\r\nAuthorization: Basic abc\r\nContent-Length: 11\r\n\r\n{\"list\":[]}POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
        let mut reader = std::io::BufReader::new(raw.as_bytes());
        let first = read_request(&mut reader).unwrap().unwrap();
        assert_eq!(first.method, "POST");
        assert_eq!(first.header("authorization"), Some("Basic abc"));
        assert_eq!(first.body, b"{\"list\":[]}");
        assert!(!first.wants_close());
        let second = read_request(&mut reader).unwrap().unwrap();
        assert_eq!(second.body, b"{}");
        assert!(second.wants_close());
        assert!(read_request(&mut reader).unwrap().is_none(), "closed between requests");
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"li\r\n7\r\nst\":[]}\r\n0\r\n\r\n";
        assert_eq!(read(raw).unwrap().unwrap().body, b"{\"list\":[]}");
    }

    #[test]
    fn oversized_and_broken_requests_are_refused() {
        assert_eq!(read(&format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1)).err(), Some(HttpError::TooLarge));
        assert_eq!(read(&format!("POST / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD))).err(), Some(HttpError::TooLarge));
        assert!(matches!(read("POST /\r\n\r\n"), Err(HttpError::Malformed(_))));
        assert!(matches!(read("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), Err(HttpError::Malformed(_))));
        assert!(matches!(read("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}"), Err(HttpError::Io)));
    }
}
