//! A small HTTP/1.1 server on the standard library, for the local endpoint
//! apps talk to and for receivers on loopback: one request per connection,
//! a thread per connection, sizes bounded (16 KiB of headers, 1 MiB of
//! body), connections bounded ([`MAX_CONNECTIONS`] at once; past that a
//! 503 at once), the whole request read within [`REQUEST_TIME`] (a client
//! that trickles bytes is cut off with a 408), malformed requests answered
//! 400 and never a panic. A connection on which no byte of a request came
//! (a browser's connection opened ahead of need and left idle, a port
//! probe) is closed with no answer: an answer there would be read as the
//! answer to the next request sent on it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Largest header block accepted.
pub const MAX_HEADERS: usize = 16 * 1024;
/// Largest body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 32;
/// Time to read a whole request, from the connection's accept.
pub const REQUEST_TIME: Duration = Duration::from_secs(10);

/// How much a server takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub connections: usize,
    /// Time to read a whole request.
    pub request_time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections: MAX_CONNECTIONS,
            request_time: REQUEST_TIME,
        }
    }
}

/// A TCP stream whose reads all end by one deadline: each read waits at most
/// the time left.
struct Deadline<'a> {
    stream: &'a TcpStream,
    until: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request took too long",
            ));
        }
        self.stream.set_read_timeout(Some(left))?;
        // A read that times out says WouldBlock on Unix, TimedOut elsewhere.
        (&mut &*self.stream).read(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the request took too long")
            }
            _ => e,
        })
    }
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// The path and query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value, by name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
    /// Other headers (name, value), written as they are.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json".into(),
            body: v.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    /// The response with one more header (CR and LF taken out of both).
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        let clean = |s: &str| s.replace(['\r', '\n'], "");
        self.headers.push((clean(name), clean(value)));
        self
    }
}

/// Why no request was read, by what the server should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Not a byte of a request came before the connection closed or the
    /// time ran out: close it without an answer (a browser that opened it
    /// ahead of need sends its request on a new one).
    Nothing,
    /// Part of a request came, the rest not in time: answer 408.
    TooSlow,
    /// A malformed or too large request, or one cut short: answer 400
    /// with this reason.
    Malformed(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Nothing => f.write_str("no request came"),
            ReadError::TooSlow => f.write_str("the request took too long"),
            ReadError::Malformed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<String> for ReadError {
    fn from(why: String) -> ReadError {
        ReadError::Malformed(why)
    }
}

impl From<&str> for ReadError {
    fn from(why: &str) -> ReadError {
        ReadError::Malformed(why.to_string())
    }
}

/// A read's error, by whether any of the request had come.
fn read_error(e: &std::io::Error, started: bool) -> ReadError {
    match (started, e.kind()) {
        (false, _) => ReadError::Nothing,
        (true, std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => ReadError::TooSlow,
        (true, _) => ReadError::Malformed(e.to_string()),
    }
}

/// Reads one request (headers and a `Content-Length` body, within the
/// limits) from any stream: a TCP connection, or a TLS session over one.
pub fn read_request<S: Read>(stream: &mut S) -> Result<Request, ReadError> {
    let mut r = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = (&mut r)
            .take((MAX_HEADERS + 1 - head.len().min(MAX_HEADERS)) as u64)
            .read_until(b'\n', &mut line)
            .map_err(|e| read_error(&e, !head.is_empty() || !line.is_empty()))?;
        if n == 0 {
            if head.is_empty() {
                return Err(ReadError::Nothing);
            }
            return Err("connection closed before the headers ended".into());
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEADERS {
            return Err("headers too large".into());
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let text = String::from_utf8(head).map_err(|_| "headers are not UTF-8".to_string())?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("bad request line {first:?}").into());
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("unsupported version {version}").into());
    }
    let mut headers = BTreeMap::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| format!("bad header {l:?}"))?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = match headers.get("content-length") {
        Some(v) => v.parse().map_err(|_| format!("bad content-length {v:?}"))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err("body too large".into());
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .map_err(|e| match read_error(&e, true) {
            ReadError::Malformed(why) => ReadError::Malformed(format!("body: {why}")),
            other => other,
        })?;
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body,
    })
}

/// Writes a response and closes the exchange (`Connection: close`).
pub fn write_response<S: Write>(stream: &mut S, resp: &Response) -> std::io::Result<()> {
    let reason = match resp.status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    write!(
        stream,
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        resp.content_type,
        resp.body.len()
    )?;
    for (k, v) in &resp.headers {
        write!(stream, "{k}: {v}\r\n")?;
    }
    stream.write_all(b"\r\n")?;
    stream.write_all(&resp.body)?;
    stream.flush()
}

/// One connection's place among [`Limits::connections`], given back when
/// the connection's thread ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves `handler` on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(
        addr: &str,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> std::io::Result<Server> {
        Server::start_with(addr, Limits::default(), handler)
    }

    /// [`Server::start`] within other limits.
    pub fn start_with(
        addr: &str,
        limits: Limits,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let flag = stop.clone();
        let open = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_write_timeout(Some(limits.request_time));
                        if open.fetch_add(1, Ordering::AcqRel) >= limits.connections {
                            open.fetch_sub(1, Ordering::AcqRel);
                            let busy = serde_json::json!({"error": "too many connections"});
                            let _ = write_response(&mut stream, &Response::json(503, &busy));
                            continue;
                        }
                        let handler = handler.clone();
                        let slot = Slot(open.clone());
                        let spawned = std::thread::Builder::new().spawn(move || {
                            let _slot = slot;
                            let until = Instant::now() + limits.request_time;
                            let read = read_request(&mut Deadline {
                                stream: &stream,
                                until,
                            });
                            let resp =
                                match read {
                                    Ok(req) => std::panic::catch_unwind(
                                        std::panic::AssertUnwindSafe(|| handler(&req)),
                                    )
                                    .unwrap_or_else(|_| {
                                        Response::json(
                                            500,
                                            &serde_json::json!({"error": "the handler failed"}),
                                        )
                                    }),
                                    // Nothing asked: nothing answered.
                                    Err(ReadError::Nothing) => return,
                                    Err(e) => Response::json(
                                        if e == ReadError::TooSlow { 408 } else { 400 },
                                        &serde_json::json!({"error": e.to_string()}),
                                    ),
                                };
                            let _ = write_response(&mut stream, &resp);
                        });
                        // No thread to be had: the connection is dropped (its
                        // slot given back with the closure), the server goes on.
                        drop(spawned);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(Server { addr, stop })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
