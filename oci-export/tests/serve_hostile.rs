//! `isolution serve` against hostile or careless clients, real processes on 127.0.0.1, each
//! bounded in time: 200 concurrent pullers checking every byte; 2,000 idle connections that
//! neither starve a client nor stay open past their timeouts (nor past the connection cap);
//! SIGTERM with a stalled client and an idle one (exit within the grace period; a second
//! signal exits at once); and an archive with a corrupt blob, never served under its digest.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

#[path = "common/http.rs"]
mod raw;
use raw::{fixture, get, http, read_response, start_with, Served};

/// One test at a time: they measure time, and some hold thousands of sockets.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn example() -> PathBuf {
    fixture("example-solution-1.0.2.iso")
}

/// (repo, tag, blob digests) of example-solution-1.0.2, from the build's record.
fn images() -> Vec<(String, String, Vec<String>)> {
    let t = std::fs::read_to_string(fixture("expected/example-solution-1.0.2.images.tsv")).unwrap();
    t.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                format!("example-solution-1.0.2/{}", f[0]),
                f[1].to_string(),
                f[5].split(',').map(str::to_string).collect(),
            )
        })
        .collect()
}

/// Lets this process hold `n` more sockets (the soft open-files limit raised to the hard one).
fn room_for(n: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let want = (n + 256).min(lim.maximum.unwrap_or(u64::MAX));
    if lim.current.is_some_and(|c| c < want) {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: lim.maximum,
            },
        )
        .unwrap();
    }
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    assert!(
        now >= n + 64,
        "open files limited to {now}: cannot hold {n} sockets"
    );
}

/// Whether the server closed `s` (EOF or reset), without waiting.
fn closed(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let r = match (&*s).read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    };
    s.set_nonblocking(false).unwrap();
    r
}

/// A connection that asked for `/v2/` with keep-alive and read its answer: now idle.
fn kept_alive(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET /v2/ HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s, false).0, 200);
    s
}

/// `GET /v2/` on a new connection: how long until the answer.
fn timed_ping(addr: &str) -> Duration {
    let t = Instant::now();
    assert_eq!(http(addr, "GET", "/v2/", "").0, 200);
    t.elapsed()
}

#[test]
fn two_hundred_concurrent_pulls_get_every_byte() {
    let _serial = serial();
    let s = start_with(&[example()], &["--quiet"]);
    let imgs = Arc::new(images());
    let gate = Arc::new(Barrier::new(200));
    let t = Instant::now();
    let workers: Vec<_> = (0..200)
        .map(|i| {
            let (addr, imgs, gate) = (s.addr.clone(), imgs.clone(), gate.clone());
            std::thread::spawn(move || {
                gate.wait();
                let mut bytes = 0;
                // Every puller takes every blob, starting at a different one.
                let all: Vec<(&String, &String)> = imgs
                    .iter()
                    .flat_map(|(repo, _, blobs)| blobs.iter().map(move |d| (repo, d)))
                    .collect();
                for k in 0..all.len() {
                    let (repo, d) = all[(i + k) % all.len()];
                    let (st, h, b) = http(&addr, "GET", &format!("/v2/{repo}/blobs/{d}"), "");
                    assert_eq!(st, 200);
                    assert_eq!(&digest(&b), d);
                    assert_eq!(get(&h, "docker-content-digest"), Some(d.as_str()));
                    bytes += b.len();
                }
                bytes
            })
        })
        .collect();
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    eprintln!("200 pullers: {total} bytes checked in {:?}", t.elapsed());
}

/// 2,000 connections below the cap: 1,000 that send nothing, 200 that send half a header,
/// 800 that asked once and stay (keep-alive). A client is answered at once while they are
/// held; the server closes the silent and half-header ones after `--header-timeout` (3 s),
/// the kept-alive ones after `--idle-timeout` (8 s), and not before.
#[test]
fn two_thousand_idle_connections_time_out_without_starving_a_client() {
    room_for(2100);
    let (header, idle) = (Duration::from_secs(3), Duration::from_secs(8));
    let s = start_with(
        &[example()],
        &[
            "--quiet",
            "--max-connections",
            "4000",
            "--header-timeout",
            "3",
            "--idle-timeout",
            "8",
        ],
    );
    let a0 = Instant::now();
    let mut silent: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    silent.extend((0..200).map(|_| {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n").unwrap();
        c
    }));
    let a1 = Instant::now();
    let alive: Vec<TcpStream> = (0..800).map(|_| kept_alive(&s.addr)).collect();
    let b1 = Instant::now();
    let ping = timed_ping(&s.addr);
    eprintln!(
        "1200 silent connections opened in {:?}, 800 kept-alive in {:?}; a client answered in {ping:?}",
        a1 - a0,
        b1 - a1
    );
    assert!(ping < Duration::from_secs(2), "{ping:?}");
    // Before the header timeout of the first ones: none closed.
    if a0.elapsed() < header - Duration::from_millis(300) {
        assert!(silent.iter().chain(&alive).all(|c| !closed(c)));
    }
    // After the header timeout of the last silent one (with a margin): the silent ones are
    // closed; the kept-alive ones (idle timeout since their answer, after `a1`) are not.
    std::thread::sleep(
        (a1 + header + Duration::from_millis(1500)).saturating_duration_since(Instant::now()),
    );
    let open = silent.iter().filter(|c| !closed(c)).count();
    assert_eq!(
        open, 0,
        "silent connections still open after the header timeout"
    );
    assert!(
        Instant::now() < a1 + idle - Duration::from_millis(500),
        "too slow to check"
    );
    assert!(
        alive.iter().all(|c| !closed(c)),
        "kept-alive closed before the idle timeout"
    );
    assert!(timed_ping(&s.addr) < Duration::from_secs(2));
    std::thread::sleep(
        (b1 + idle + Duration::from_millis(1500)).saturating_duration_since(Instant::now()),
    );
    let open = alive.iter().filter(|c| !closed(c)).count();
    assert_eq!(
        open, 0,
        "kept-alive connections still open after the idle timeout"
    );
    eprintln!("all closed by {:?}", a0.elapsed());
}

/// 2,000 idle connections against a cap of 100 (timeouts far away): each new connection at
/// the cap closes the one idle the longest, so the client is answered at once and the server
/// never holds more than the cap.
#[test]
fn at_the_connection_cap_idle_connections_make_room() {
    let _serial = serial();
    room_for(2100);
    let s = start_with(
        &[example()],
        &[
            "--quiet",
            "--max-connections",
            "100",
            "--header-timeout",
            "60",
            "--idle-timeout",
            "60",
        ],
    );
    let t0 = Instant::now();
    let mut held: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    held.extend((0..1000).map(|_| kept_alive(&s.addr)));
    let opened = t0.elapsed();
    let ping = timed_ping(&s.addr);
    eprintln!("2000 connections opened in {opened:?}; a client answered in {ping:?}");
    assert!(ping < Duration::from_secs(2), "{ping:?}");
    // Closing is asynchronous: give the server a moment, then count.
    let t = Instant::now();
    let mut open = usize::MAX;
    while t.elapsed() < Duration::from_secs(5) {
        open = held.iter().filter(|c| !closed(c)).count();
        if open <= 100 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(open <= 100, "{open} of 2000 still open with a cap of 100");
    // The most recent kept-alive connections are among those kept, and still work.
    let mut last = held.pop().unwrap();
    write!(last, "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut last, false).0, 200);
}

/// A client that pipelines requests for a blob and never reads: the server's writes stall.
fn stalled_client(addr: &str, path: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    let mut w = s.try_clone().unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").repeat(1000);
    // The writer blocks once the server stops reading; it ends when the socket is closed.
    std::thread::spawn(move || {
        for _ in 0..200 {
            if w.write_all(req.as_bytes()).is_err() {
                break;
            }
        }
    });
    s
}

fn some_blob() -> String {
    let (repo, _, blobs) = images().into_iter().next().unwrap();
    format!("/v2/{repo}/blobs/{}", blobs[0])
}

/// Waits until the server's writes to `c` have stalled (it stops answering with more bytes
/// than the socket buffers hold), at most 10 s.
fn wait_stalled(served: &Served) {
    let t = Instant::now();
    // The request log has at least one line per answered request; once it stops growing for
    // a while, the server is blocked writing.
    let mut last = 0;
    let mut still = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        let n = served.log().len();
        if n != last {
            last = n;
            still = Instant::now();
        } else if still.elapsed() > Duration::from_millis(500) && n > 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server never stalled");
}

/// SIGTERM while a client stalls a response, another holds an idle keep-alive connection and
/// a third sent nothing: the server stops within the grace period (2 s) plus a margin, says
/// it cut a connection, and exits 0.
#[test]
fn sigterm_with_a_stalled_client_exits_after_the_grace_period() {
    let _serial = serial();
    let mut s = start_with(&[example()], &["--grace", "2"]);
    let _stalled = stalled_client(&s.addr, &some_blob());
    wait_stalled(&s);
    let _idle = kept_alive(&s.addr);
    let _silent = TcpStream::connect(&s.addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.signal("TERM");
    let (status, took) = s
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM:\n{}", tail(&s.log())));
    eprintln!("exited {took:?} after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_millis(1800),
        "{took:?}: did not wait for the stalled response"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    std::thread::sleep(Duration::from_millis(100));
    let log = s.log();
    assert!(
        log.contains("stopped: 1 connections cut after the grace period"),
        "{}",
        tail(&log)
    );
}

/// A client that stops taking the bytes of its responses is cut after `--idle-timeout`: its
/// connection does not stay open (and count against the cap) forever.
#[test]
fn a_client_that_stops_reading_is_cut_after_the_idle_timeout() {
    let _serial = serial();
    let s = start_with(&[example()], &["--idle-timeout", "1"]);
    let _stalled = stalled_client(&s.addr, &some_blob());
    let t = Instant::now();
    while !s
        .log()
        .contains("connection closed: its client took no byte for 1.0s")
    {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "never cut:\n{}",
            tail(&s.log())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("stalled client cut {:?} after it connected", t.elapsed());
    assert!(timed_ping(&s.addr) < Duration::from_secs(2));
}

/// A second SIGTERM (or SIGINT) during the grace period stops the server at once.
#[test]
fn a_second_signal_exits_at_once() {
    let _serial = serial();
    for second in ["TERM", "INT"] {
        let mut s = start_with(&[example()], &["--grace", "60"]);
        let _stalled = stalled_client(&s.addr, &some_blob());
        wait_stalled(&s);
        s.signal("TERM");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            s.child.try_wait().unwrap().is_none(),
            "exited before the grace period"
        );
        s.signal(second);
        let (status, took) = s
            .wait_exit(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("still running after a second signal"));
        eprintln!("exited {took:?} after a second SIG{second}");
        assert!(status.success());
        assert!(took < Duration::from_secs(1), "{took:?}");
        std::thread::sleep(Duration::from_millis(100));
        assert!(s
            .log()
            .contains("stopped at once on a second signal: 1 connections cut"));
    }
}

/// With only idle connections (kept-alive and silent), SIGTERM stops the server at once.
#[test]
fn sigterm_closes_idle_connections_at_once() {
    let _serial = serial();
    let mut s = start_with(&[example()], &["--quiet", "--grace", "30"]);
    let _idle: Vec<TcpStream> = (0..20).map(|_| kept_alive(&s.addr)).collect();
    let _silent: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    s.signal("TERM");
    let (status, took) = s.wait_exit(Duration::from_secs(10)).unwrap();
    eprintln!("exited {took:?} after SIGTERM with 40 idle connections");
    assert!(status.success());
    assert!(took < Duration::from_secs(1), "{took:?}");
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// broken-image-blob-digest.iso: one bit of the operator's last layer flipped. Whether blobs
/// are checked lazily or at start, that layer is answered with 500 (GET, ranged GET, HEAD),
/// never with its bytes, and the log names it; the other blobs are served.
#[test]
fn a_corrupt_blob_is_never_served_under_its_digest() {
    let _serial = serial();
    let iso = fixture("broken-image-blob-digest.iso");
    let repo = "example-solution-1.0.2/example-solution-operator";
    let all: Vec<(String, String)> = images()
        .into_iter()
        .flat_map(|(r, _, blobs)| blobs.into_iter().map(move |d| (r.clone(), d)))
        .collect();
    let bad = all
        .iter()
        .find(|(r, d)| r == repo && d.starts_with("sha256:a3eb7d9f"))
        .unwrap()
        .1
        .clone();
    for mode in ["lazy", "start"] {
        let s = start_with(std::slice::from_ref(&iso), &["--verify-blobs", mode]);
        let path = format!("/v2/{repo}/blobs/{bad}");
        // Several at once, as the first requests for it: one check, shared.
        let askers: Vec<_> = (0..8)
            .map(|i| {
                let (addr, path) = (s.addr.clone(), path.clone());
                std::thread::spawn(move || {
                    let (method, extra) = match i % 3 {
                        0 => ("GET", ""),
                        1 => ("GET", "Range: bytes=0-9\r\n"),
                        _ => ("HEAD", ""),
                    };
                    let (st, h, b) = http(&addr, method, &path, extra);
                    assert_eq!(st, 500, "{method} {extra}");
                    assert!(get(&h, "docker-content-digest").is_none());
                    if method == "GET" {
                        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
                        assert_eq!(v["errors"][0]["code"], "UNKNOWN");
                    }
                })
            })
            .collect();
        for a in askers {
            a.join().unwrap();
        }
        for (r, d) in &all {
            if d != &bad {
                let (st, _, b) = http(&s.addr, "GET", &format!("/v2/{r}/blobs/{d}"), "");
                assert_eq!((st, &digest(&b)), (200, d), "{mode} {r} {d}");
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        let log = s.log();
        assert!(
            log.contains(&format!("refused blob {bad} of {repo}")),
            "{mode}: {log}"
        );
        if mode == "start" {
            assert!(log.contains("checked 5 blobs"), "{log}");
            assert!(log.contains(&format!("blob {bad} (in {repo})")), "{log}");
        }
    }
}

/// Repositories whose names the distribution grammar refuses are not served, and said so.
#[test]
fn invalid_repository_names_are_not_served() {
    let _serial = serial();
    let s = start_with(
        &[fixture("broken-manifest-id-not-dns-safe.iso")],
        &["--quiet"],
    );
    let log = s.log();
    assert!(
        log.contains(
            "\"example-solution-1.0.2_RC+1/base-server\" is not a valid distribution name"
        ),
        "{log}"
    );
    let (st, _, b) = http(&s.addr, "GET", "/v2/_catalog", "");
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["repositories"], serde_json::json!([]));
}
