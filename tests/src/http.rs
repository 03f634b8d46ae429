//! The one raw HTTP/1.1 client of the end-to-end tests.
//!
//! Each request is written by hand on a fresh TCP connection
//! (`Connection: close`) and the answer is read to the end, so a test sees
//! exactly the status line, headers and body the server sent: no client
//! library in between that follows redirects, retries or rewrites headers.
//!
//! ```text
//! let r = Request::post(srv.http, "/api/v1/delistings")
//!     .json(r#"{"key":"192.0.2.1","email":"ops@example.net","explanation":"fixed"}"#)
//!     .send();
//! assert_eq!(r.status, 200, "{}", r.body);
//! assert_eq!(r.json()["outcome"], "not-listed");
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long the client waits for the server's answer.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP/1.1 request: build it, then [`send`](Request::send) it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    addr: SocketAddr,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Request {
    /// A request with any method for `path` (query string included).
    pub fn new(addr: SocketAddr, method: &str, path: &str) -> Request {
        Request {
            addr,
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            content_type: None,
            body: Vec::new(),
        }
    }

    /// A `GET` request.
    pub fn get(addr: SocketAddr, path: &str) -> Request {
        Request::new(addr, "GET", path)
    }

    /// A `POST` request; give it a body with [`Request::body`],
    /// [`Request::json`] or [`Request::form`].
    pub fn post(addr: SocketAddr, path: &str) -> Request {
        Request::new(addr, "POST", path)
    }

    /// A `DELETE` request.
    pub fn delete(addr: SocketAddr, path: &str) -> Request {
        Request::new(addr, "DELETE", path)
    }

    /// Adds a header line `name: value` (sent in the order added, after
    /// `Host`).
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// Sets the body and its `Content-Type`. An empty body still sends the
    /// `Content-Type` header.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        self.content_type = Some(content_type.to_string());
        self.body = body.into();
        self
    }

    /// Sets a JSON body (`application/json`), sent as given: tests may send
    /// malformed JSON on purpose.
    pub fn json(self, body: &str) -> Request {
        self.body("application/json", body)
    }

    /// Sets an HTML form body (`application/x-www-form-urlencoded`) from
    /// `(name, value)` pairs, percent-encoded as a browser does.
    pub fn form(self, fields: &[(&str, &str)]) -> Request {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.body("application/x-www-form-urlencoded", body)
    }

    /// Sends the request on a new connection and reads the whole answer.
    /// Panics only when the server cannot be reached; an answer without a
    /// status line has status 0.
    pub fn send(self) -> Response {
        let mut s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
        let mut head = format!("{} {} HTTP/1.1\r\nHost: test\r\n", self.method, self.path);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(t) = &self.content_type {
            head.push_str(&format!("Content-Type: {t}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        s.write_all(head.as_bytes()).expect("write head");
        // The server may answer (413) before reading a large body: ignore a
        // broken pipe and read the answer anyway.
        let _ = s.write_all(&self.body);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        Response::parse(&String::from_utf8_lossy(&out))
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An HTTP answer as the server sent it.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code; 0 when the answer had no readable status line.
    pub status: u16,
    /// The status line and the header lines, `\r\n`-separated, without the
    /// blank line that ends them.
    pub head: String,
    /// The body as sent (lossily decoded as UTF-8; no chunked decoding).
    pub body: String,
}

impl Response {
    fn parse(text: &str) -> Response {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Response {
            status,
            head: head.to_string(),
            body: body.to_string(),
        }
    }

    /// The value of the first header called `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body parsed as JSON; panics, showing the body, when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}
