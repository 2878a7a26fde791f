//! `isolution serve`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use oci_export::registry::server::{serve, Log, Registry, ServeOptions};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::args::ServeArgs;
use crate::Outcome;

/// One line on stderr; a failed write (stderr closed or a reader gone) is ignored, so a
/// long-running server never stops (or panics) on its log.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// File descriptors kept for everything but connections (the ISOs, the listener, stdio).
const SPARE_FDS: u64 = 64;

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    match Duration::try_from_secs_f64(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => bail!("--{flag}: {s} is not a positive number of seconds"),
    }
}

/// Raises the soft RLIMIT_NOFILE (up to the hard limit) so that `want` connections fit; the
/// connections that fit when it cannot.
fn fit_connections(want: usize) -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let need = (want as u64).saturating_add(SPARE_FDS);
    let lim = getrlimit(Resource::Nofile);
    let soft = lim.current.unwrap_or(u64::MAX);
    if soft >= need {
        return want;
    }
    let hard = lim.maximum.unwrap_or(u64::MAX);
    let target = need.min(hard);
    let got = match setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: lim.maximum,
        },
    ) {
        Ok(()) => target,
        Err(_) => soft,
    };
    if got >= need {
        return want;
    }
    let fit = got.saturating_sub(SPARE_FDS).max(1) as usize;
    say!(
        "isolution: warning: open files limited to {got} (hard limit {hard}): --max-connections lowered from {want} to {fit}"
    );
    fit
}

/// Connections the kernel queues before they are accepted: bursts of thousands of clients are
/// not dropped (and retried a second later) while the accept loop catches up.
const BACKLOG: u32 = 4096;

/// A listener on the first address `addr` resolves to that can be bound.
async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for sa in tokio::net::lookup_host(addr).await? {
        let socket = if sa.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(sa).and_then(|()| socket.listen(BACKLOG)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
}

/// SIGTERM and SIGINT, one message each.
fn signals() -> anyhow::Result<mpsc::UnboundedReceiver<&'static str>> {
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            if tx.send(name).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}

pub fn run(a: ServeArgs) -> anyhow::Result<Outcome> {
    let options = ServeOptions {
        header_timeout: seconds("header-timeout", a.header_timeout)?,
        idle_timeout: seconds("idle-timeout", a.idle_timeout)?,
        max_connections: fit_connections(a.max_connections.max(1)),
        max_requests: a.max_requests.max(1),
        log_requests: !a.quiet,
        log: Log::default(),
    };
    let grace = Duration::try_from_secs_f64(a.grace)
        .map_err(|_| anyhow::anyhow!("--grace: {} is not a number of seconds", a.grace))?;
    let mut refused = false;
    for iso in &a.isos {
        let file = crate::util::open(iso)?;
        let image = crate::util::parse(&file, iso)?;
        let solution = iso_core::solution::Solution::load(&image)?;
        refused |= crate::solution::gate(&solution, iso, a.force).is_some();
    }
    if refused {
        return Ok(Outcome::Problems);
    }
    let registry = Registry::open(&a.isos)?;
    for w in registry.warnings() {
        say!("isolution: warning: {w}");
    }
    if a.verify_blobs == "start" {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let r = registry.verify_all(threads);
        say!(
            "isolution: checked {} blobs ({} bytes) in {:.2}s: {} corrupt",
            r.blobs,
            r.bytes,
            r.elapsed.as_secs_f64(),
            r.bad.len()
        );
        for b in &r.bad {
            say!("isolution: warning: {b}");
        }
    }
    let registry = Arc::new(registry);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(async move {
        let mut signals = signals()?;
        let listener = listen(&a.addr)
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        let local = listener.local_addr()?;
        say!(
            "isolution: serving {} repositories on http://{local}/v2/ ({})",
            registry.repositories().len(),
            registry.repositories().join(", ")
        );
        let mut first = None;
        let draining = serve(listener, registry, options, async {
            first = signals.recv().await;
        })
        .await;
        say!(
            "isolution: {}: stopping; waiting up to {:.1}s for {} connections (again to stop now)",
            first.unwrap_or("stop"),
            grace.as_secs_f64(),
            draining.open()
        );
        let stopped = draining
            .finish(grace, async {
                if signals.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            })
            .await;
        if stopped.cut == 0 {
            say!(
                "isolution: stopped: all connections finished in {:.2}s",
                stopped.elapsed.as_secs_f64()
            );
        } else if stopped.forced {
            say!(
                "isolution: stopped at once on a second signal: {} connections cut",
                stopped.cut
            );
        } else {
            say!(
                "isolution: stopped: {} connections cut after the grace period ({:.1}s)",
                stopped.cut,
                grace.as_secs_f64()
            );
        }
        anyhow::Ok(())
    });
    // Blob checks still hashing on blocking threads are not waited for.
    rt.shutdown_background();
    result?;
    Ok(Outcome::Clean)
}
