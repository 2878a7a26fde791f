//! Raw HTTP/1.1 for the `isolution serve` tests (`#[path]`-included by `serve.rs` and
//! `serve_hostile.rs`): one request per connection, a response read from a kept-alive
//! connection, and a server started with any flags whose stderr is kept for assertions.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Status, headers (lowercased names) and body of a response.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 request on its own connection (`Connection: close`), `extra` header lines
/// (each ending in CRLF) added.
pub fn http(addr: &str, method: &str, path: &str, extra: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let (status, headers) = head(&raw[..split]);
    (status, headers, raw[split + 4..].to_vec())
}

fn head(raw: &[u8]) -> (u16, Vec<(String, String)>) {
    let head = String::from_utf8_lossy(raw).to_string();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

/// Reads one response with a `Content-Length` from a kept-alive connection (no body for
/// `HEAD`).
pub fn read_response(s: &mut TcpStream, head_request: bool) -> Answer {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        raw.push(byte[0]);
    }
    let (status, headers) = head(&raw[..raw.len() - 4]);
    let len: usize = if head_request {
        0
    } else {
        get(&headers, "content-length").unwrap().parse().unwrap()
    };
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (status, headers, body)
}

/// A header's value.
pub fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// `tests/solutions/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/solutions")
        .join(name)
}

/// `isolution serve` with its stderr collected, killed when dropped.
pub struct Served {
    /// The process.
    pub child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Its stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl Served {
    /// Its stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `signal` (`TERM`, `INT`) with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let st = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits for it to exit, at most `limit`: its exit status and how long it took, or
    /// `None` (it is still running).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some((st, t.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `isolution serve ISOS... --addr 127.0.0.1:0 FLAGS...` and waits for the line with
/// its address (warnings may come first).
pub fn start_with(isos: &[PathBuf], flags: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isolution"))
        .arg("serve")
        .args(isos)
        .args(["--addr", "127.0.0.1:0"])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let log = Arc::new(Mutex::new(String::new()));
    let addr = loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            panic!("no address in {}", log.lock().unwrap());
        }
        log.lock().unwrap().push_str(&line);
        if let Some(a) = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
        {
            break a.to_string();
        }
    };
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in err.lines() {
            let Ok(line) = line else { break };
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    Served { child, addr, log }
}
