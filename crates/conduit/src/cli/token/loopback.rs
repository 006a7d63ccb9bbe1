//! The loopback redirect of a browser sign-in (RFC 8252 §7.3): a listener on `127.0.0.1`, a free
//! port, `/callback`; the browser lands there with `code` and `state` (or `error`). The `state`
//! must be ours: a page of another site that sends the browser here with its own code is
//! answered with an error and otherwise ignored.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

/// The path of the redirect URI.
pub const PATH: &str = "/callback";
/// How long a request head may take to arrive once connected.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;

pub struct Listener {
    inner: TcpListener,
    port: u16,
}

/// What the browser brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// `code` (and the issuer that sent it, RFC 9207, when named).
    Code { code: String, iss: Option<String> },
    /// `error` (`access_denied` when the person pressed Cancel) and its description.
    Error {
        error: String,
        description: Option<String>,
    },
}

/// How one request to the listener is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Our callback: the sign-in's answer.
    Answer(Callback),
    /// `/callback` with another `state` (or none): not ours.
    ForeignState,
    /// `/callback` with neither `code` nor `error`.
    Empty,
    /// Another path (a favicon …) or method.
    Other,
}

impl Listener {
    pub fn bind() -> anyhow::Result<Self> {
        let inner = TcpListener::bind(("127.0.0.1", 0))
            .context("cannot listen on 127.0.0.1 for the browser's redirect")?;
        let port = inner.local_addr()?.port();
        inner.set_nonblocking(true)?;
        Ok(Self { inner, port })
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{PATH}", self.port)
    }

    /// Answer requests until our callback arrives or `deadline` passes.
    pub fn wait(&self, state: &str, deadline: Instant) -> anyhow::Result<Callback> {
        loop {
            match self.inner.accept() {
                Ok((stream, _)) => {
                    if let Some(callback) = serve(stream, state) {
                        return Ok(callback);
                    }
                }
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted =>
                {
                    if Instant::now() >= deadline {
                        return Err(anyhow!(
                            "no answer from the browser within {} minutes",
                            super::flow::TIMEOUT.as_secs() / 60
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e).context("the browser's redirect listener failed"),
            }
        }
    }
}

/// Read one request, answer it; our callback when it was that.
fn serve(mut stream: TcpStream, state: &str) -> Option<Callback> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let head = read_head(&mut stream)?;
    let first = head.lines().next().unwrap_or_default();
    let request = parse(first, state);
    let (status, body) = match &request {
        Request::Answer(Callback::Code { .. }) => (
            "200 OK",
            page("Signed in", "Signed in; you can close this tab."),
        ),
        Request::Answer(Callback::Error { error, description }) => {
            let what = match error.as_str() {
                "access_denied" => "The sign-in was cancelled.".to_string(),
                _ => format!(
                    "The sign-in failed: {}{}.",
                    error,
                    description
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
            };
            (
                "200 OK",
                page("Not signed in", &format!("{what} You can close this tab.")),
            )
        }
        Request::ForeignState => (
            "400 Bad Request",
            page(
                "Not signed in",
                "This answer is not for the sign-in conduit started (its state does not match).",
            ),
        ),
        Request::Empty => (
            "400 Bad Request",
            page(
                "Not signed in",
                "The answer carries neither a code nor an error.",
            ),
        ),
        Request::Other => ("404 Not Found", page("Not found", "Nothing here.")),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
    match request {
        Request::Answer(callback) => Some(callback),
        _ => None,
    }
}

/// The request head (up to the blank line), `None` when it never came.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_HEAD {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Read a request line (`GET /callback?code=…&state=… HTTP/1.1`) against our `state`.
pub fn parse(request_line: &str, state: &str) -> Request {
    let mut parts = request_line.split_whitespace();
    let (Some("GET"), Some(target)) = (parts.next(), parts.next()) else {
        return Request::Other;
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != PATH {
        return Request::Other;
    }
    let mut code = None;
    let mut error = None;
    let mut description = None;
    let mut iss = None;
    let mut their_state = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut description,
            "iss" => &mut iss,
            "state" => &mut their_state,
            _ => continue,
        };
        slot.get_or_insert_with(|| v.into_owned());
    }
    if their_state.as_deref() != Some(state) || state.is_empty() {
        return Request::ForeignState;
    }
    match (code, error) {
        (_, Some(error)) => Request::Answer(Callback::Error { error, description }),
        (Some(code), None) if !code.is_empty() => Request::Answer(Callback::Code { code, iss }),
        _ => Request::Empty,
    }
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>conduit: {}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><p>{}</p></body></html>",
        escape(title),
        escape(text)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str, iss: Option<&str>) -> Request {
        Request::Answer(Callback::Code {
            code: c.into(),
            iss: iss.map(Into::into),
        })
    }

    fn error(e: &str, d: Option<&str>) -> Request {
        Request::Answer(Callback::Error {
            error: e.into(),
            description: d.map(Into::into),
        })
    }

    #[test]
    fn request_lines_against_our_state() {
        let cases = [
            ("GET /callback?code=abc&state=S HTTP/1.1", code("abc", None)),
            (
                "GET /callback?state=S&code=a%2Bb&iss=https%3A%2F%2Fgw HTTP/1.1",
                code("a+b", Some("https://gw")),
            ),
            (
                "GET /callback?error=access_denied&state=S HTTP/1.1",
                error("access_denied", None),
            ),
            (
                "GET /callback?error=server_error&error_description=db+down&state=S HTTP/1.1",
                error("server_error", Some("db down")),
            ),
            // The first value of a repeated parameter counts.
            (
                "GET /callback?code=1&code=2&state=S HTTP/1.1",
                code("1", None),
            ),
            (
                "GET /callback?code=abc&state=T HTTP/1.1",
                Request::ForeignState,
            ),
            ("GET /callback?code=abc HTTP/1.1", Request::ForeignState),
            (
                "GET /callback?error=access_denied HTTP/1.1",
                Request::ForeignState,
            ),
            ("GET /callback?state=S HTTP/1.1", Request::Empty),
            ("GET /callback?code=&state=S HTTP/1.1", Request::Empty),
            ("GET /favicon.ico HTTP/1.1", Request::Other),
            ("GET /callbackx?code=abc&state=S HTTP/1.1", Request::Other),
            ("POST /callback?code=abc&state=S HTTP/1.1", Request::Other),
            ("", Request::Other),
            ("garbage", Request::Other),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line, "S"), want, "{line}");
        }
        assert_eq!(
            parse("GET /callback?code=abc&state= HTTP/1.1", ""),
            Request::ForeignState
        );
    }

    #[test]
    fn the_listener_answers_other_requests_and_returns_our_callback() {
        let l = Listener::bind().unwrap();
        let uri = l.redirect_uri();
        assert!(
            uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"),
            "{uri}"
        );
        let addr = uri
            .trim_start_matches("http://")
            .trim_end_matches(PATH)
            .to_string();
        let get = move |target: &str| {
            let mut s = TcpStream::connect(&addr).unwrap();
            write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            answer
        };
        let client = std::thread::spawn(move || {
            [
                get("/favicon.ico"),
                get("/callback?code=evil&state=other"),
                get("/callback?code=good&state=ours"),
            ]
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(
            l.wait("ours", deadline).unwrap(),
            Callback::Code {
                code: "good".into(),
                iss: None
            }
        );
        let [other, foreign, ours] = client.join().unwrap();
        assert!(other.starts_with("HTTP/1.1 404"), "{other}");
        assert!(foreign.starts_with("HTTP/1.1 400"), "{foreign}");
        assert!(
            ours.starts_with("HTTP/1.1 200") && ours.contains("Signed in"),
            "{ours}"
        );
        let past = Instant::now();
        assert!(
            l.wait("ours", past).is_err(),
            "a passed deadline ends the wait"
        );
    }
}
