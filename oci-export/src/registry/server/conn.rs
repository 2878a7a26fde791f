//! Connections: the accept loop, each connection's timeouts, the cap on open connections, and
//! the graceful stop.
//!
//! Each connection is one task serving HTTP/1.1 with hyper, watched by a timer that closes it
//! when it has been quiet too long:
//!
//! - before its first request, or once the first byte of a later request has arrived, the
//!   request's header must be complete within `header_timeout` (a client that sends nothing,
//!   or half a header, is closed);
//! - between requests (keep-alive), it may wait `idle_timeout` for the next one;
//! - while a response is being sent (or its last bytes wait in a full socket), the client
//!   must take some bytes every `idle_timeout` (a client that asked for a blob and stopped
//!   reading is closed).
//!
//! (hyper's own `header_read_timeout` starts whenever it waits for a request head, so it would
//! bound the keep-alive wait by the header timeout: this timer is used instead, and hyper's is
//! off.)
//!
//! At most `max_connections` are open. When a new one arrives at the cap, the connection idle
//! the longest (no request in flight) is closed to make room; only when every connection has a
//! request in flight does the new one wait. Idle connections therefore cannot starve a client,
//! and the open file descriptors stay bounded.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::http::handle;
use super::Registry;

/// How the server treats its connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Time for a request's header to arrive whole: from the connection's start for its first
    /// request, from the first byte of a later one.
    pub header_timeout: Duration,
    /// Time a connection may wait for its next request (keep-alive), and a client may take
    /// no byte of a response being sent.
    pub idle_timeout: Duration,
    /// Open connections at most (idle ones are closed to make room for new ones).
    pub max_connections: usize,
    /// Requests answered at once (others wait).
    pub max_requests: usize,
    /// One line per request, when its response ended (complete or aborted).
    pub log_requests: bool,
    /// Where the server's lines go: the request log, refused blobs, cut connections.
    pub log: Log,
}

/// Where the server writes its log lines (one call per line, without the newline).
///
/// The default writes to stderr and ignores a failed write: a closed or full stderr never
/// stops (or panics) the server.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use oci_export::registry::server::{Log, ServeOptions};
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = lines.clone();
/// let options = ServeOptions {
///     log: Log::new(move |line| sink.lock().unwrap().push(line.to_string())),
///     ..ServeOptions::default()
/// };
/// options.log.line("hello");
/// assert_eq!(*lines.lock().unwrap(), ["hello"]);
/// ```
#[derive(Clone)]
pub struct Log(Arc<dyn Fn(&str) + Send + Sync>);

impl Log {
    /// A sink calling `f` with each line.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Log(Arc::new(f))
    }

    /// Writes one line.
    pub fn line(&self, line: &str) {
        (self.0)(line)
    }
}

impl Default for Log {
    fn default() -> Self {
        Log::new(|line| {
            use std::io::Write;
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{line}");
        })
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log(..)")
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_requests: 256,
            log_requests: true,
            log: Log::default(),
        }
    }
}

/// What every connection task shares.
pub(super) struct Shared {
    pub(super) registry: Arc<Registry>,
    pub(super) options: ServeOptions,
    /// `max_requests` permits.
    pub(super) requests: Semaphore,
}

/// Where a connection is, for its timer and for eviction.
struct Phase {
    accepted: Instant,
    /// Requests begun on it.
    requests: u64,
    /// A request is being answered (hyper answers one at a time per connection).
    in_flight: bool,
    /// Its response body has been polled: it is being sent.
    sending: bool,
    /// Since when no request has been in flight.
    idle_since: Instant,
    /// The first byte of the next request read, while idle.
    head_since: Option<Instant>,
    /// The last bytes written.
    last_write: Instant,
    /// The last write found the socket full (the client is not reading): bytes are waiting,
    /// even when the response they belong to was handed over whole.
    write_blocked: bool,
    /// Asked to close if idle (to make room).
    evict: bool,
}

/// Why a connection's timer closed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Header,
    Idle,
    Stalled,
}

/// One connection's state, shared by its I/O, its requests' bodies and its timer.
pub(super) struct ConnState {
    phase: Mutex<Phase>,
    /// Wakes the timer when a deadline may have moved earlier, or eviction is asked.
    wake: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ConnState {
    fn new() -> Self {
        let now = Instant::now();
        ConnState {
            phase: Mutex::new(Phase {
                accepted: now,
                requests: 0,
                in_flight: false,
                sending: false,
                idle_since: now,
                head_since: None,
                last_write: now,
                write_blocked: false,
                evict: false,
            }),
            wake: Notify::new(),
        }
    }

    fn on_read(&self) {
        let mut p = lock(&self.phase);
        if !p.in_flight && p.head_since.is_none() {
            p.head_since = Some(Instant::now());
            drop(p);
            self.wake.notify_one();
        }
    }

    fn on_write(&self) {
        let mut p = lock(&self.phase);
        p.last_write = Instant::now();
        p.write_blocked = false;
    }

    fn on_write_blocked(&self) {
        let mut p = lock(&self.phase);
        if !p.write_blocked {
            p.write_blocked = true;
            drop(p);
            self.wake.notify_one();
        }
    }

    /// A request head was read: its answer begins.
    pub(super) fn request_started(&self) {
        let mut p = lock(&self.phase);
        p.in_flight = true;
        p.sending = false;
        p.evict = false;
        p.head_since = None;
        p.requests += 1;
        drop(p);
        self.wake.notify_one();
    }

    /// The response's body is being sent.
    pub(super) fn sending(&self) {
        let mut p = lock(&self.phase);
        p.sending = true;
        p.last_write = Instant::now();
        drop(p);
        self.wake.notify_one();
    }

    /// The response is over (its body was sent whole, or dropped).
    pub(super) fn response_done(&self) {
        let mut p = lock(&self.phase);
        p.in_flight = false;
        p.sending = false;
        p.idle_since = Instant::now();
        drop(p);
        self.wake.notify_one();
    }

    /// When the connection expires, if nothing happens before, and why.
    fn deadline(&self, o: &ServeOptions) -> Option<(Instant, Expiry)> {
        let p = lock(&self.phase);
        if p.write_blocked {
            Some((p.last_write + o.idle_timeout, Expiry::Stalled))
        } else if p.in_flight {
            p.sending
                .then(|| (p.last_write + o.idle_timeout, Expiry::Stalled))
        } else if p.requests == 0 {
            Some((p.accepted + o.header_timeout, Expiry::Header))
        } else if let Some(h) = p.head_since {
            Some((h + o.header_timeout, Expiry::Header))
        } else {
            Some((p.idle_since + o.idle_timeout, Expiry::Idle))
        }
    }

    /// Since when it has been idle, if it is (no request in flight, no bytes waiting) and
    /// not already asked to close.
    fn idle_since(&self) -> Option<Instant> {
        let p = lock(&self.phase);
        (!p.in_flight && !p.write_blocked && !p.evict).then_some(p.idle_since)
    }

    fn ask_evict(&self) {
        lock(&self.phase).evict = true;
        self.wake.notify_one();
    }

    /// Whether it was asked to close and is still idle.
    fn evict_now(&self) -> bool {
        let p = lock(&self.phase);
        p.evict && !p.in_flight && !p.write_blocked
    }
}

/// The socket, telling its connection's state when bytes come and go.
struct Tracked {
    stream: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.state.on_read();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write(cx, buf);
        match r {
            Poll::Ready(Ok(n)) if n > 0 => this.state.on_write(),
            Poll::Pending => this.state.on_write_blocked(),
            _ => {}
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        match r {
            Poll::Ready(Ok(n)) if n > 0 => this.state.on_write(),
            Poll::Pending => this.state.on_write_blocked(),
            _ => {}
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The open connections: their state, and how to cut them.
type Conns = Arc<Mutex<HashMap<u64, (Arc<ConnState>, Option<AbortHandle>)>>>;

/// Removes a connection from [`Conns`] when its task ends (or is aborted), then frees its slot.
struct Slot {
    id: u64,
    conns: Conns,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.conns).remove(&self.id);
    }
}

/// Serves one connection until it ends, its timer expires, it is evicted while idle, or (after
/// `stop`) its in-flight response is over.
async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    state: Arc<ConnState>,
    mut stop: watch::Receiver<bool>,
    slot: Slot,
) {
    let _slot = slot;
    let io = TokioIo::new(Tracked {
        stream,
        state: state.clone(),
    });
    let svc = {
        let (shared, state) = (shared.clone(), state.clone());
        service_fn(move |req| {
            let (shared, state) = (shared.clone(), state.clone());
            async move { Ok::<_, Infallible>(handle(&shared, req, state).await) }
        })
    };
    let conn = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, svc);
    tokio::pin!(conn);
    let mut draining = *stop.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let deadline = state.deadline(&shared.options);
        let timer = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = timer => {
                // Still expired (activity may have moved the deadline): close it.
                if let Some((at, why)) = state.deadline(&shared.options) {
                    if at <= Instant::now() {
                        if why == Expiry::Stalled && shared.options.log_requests {
                            shared.options.log.line(&format!(
                                "isolution: connection closed: its client took no byte for {:.1}s",
                                shared.options.idle_timeout.as_secs_f64()
                            ));
                        }
                        return;
                    }
                }
            }
            _ = state.wake.notified() => {
                if state.evict_now() {
                    return;
                }
            }
            _ = stop.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Asks the connection idle the longest to close; `false` when none is idle.
fn evict_one(conns: &Conns) -> bool {
    let oldest = lock(conns)
        .values()
        .filter_map(|(s, _)| s.idle_since().map(|t| (t, s.clone())))
        .min_by_key(|(t, _)| *t);
    match oldest {
        Some((_, s)) => {
            s.ask_evict();
            true
        }
        None => false,
    }
}

/// A connection slot: at once if one is free, else once an idle connection has been closed to
/// make room or a busy one has ended; `None` if `stop` comes first.
async fn admit(
    slots: &Arc<Semaphore>,
    conns: &Conns,
    stop: &mut Pin<&mut impl Future<Output = ()>>,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(p) = slots.clone().try_acquire_owned() {
        return Some(p);
    }
    loop {
        evict_one(conns);
        tokio::select! {
            p = slots.clone().acquire_owned() => return p.ok(),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stop.as_mut() => return None,
        }
    }
}

/// Serves `registry` on `listener` until `stop` completes, then stops accepting and tells every
/// connection to finish (responses in flight complete, idle connections close): the returned
/// [`Draining`] waits for them, for a bounded time.
pub async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    options: ServeOptions,
    stop: impl Future<Output = ()>,
) -> Draining {
    let max = options
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let shared = Arc::new(Shared {
        registry,
        requests: Semaphore::new(options.max_requests.clamp(1, Semaphore::MAX_PERMITS)),
        options,
    });
    let slots = Arc::new(Semaphore::new(max));
    let conns: Conns = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let ids = AtomicU64::new(0);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = stop.as_mut() => break,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was accepted: the
                // next accept may succeed (and an idle connection may close meanwhile).
                shared.options.log.line(&format!("isolution: accept: {e}"));
                evict_one(&conns);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(permit) = admit(&slots, &conns, &mut stop).await else {
            break;
        };
        let _ = stream.set_nodelay(true);
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new());
        lock(&conns).insert(id, (state.clone(), None));
        let slot = Slot {
            id,
            conns: conns.clone(),
            _permit: permit,
        };
        let task = tokio::spawn(connection(
            stream,
            shared.clone(),
            state,
            stop_rx.clone(),
            slot,
        ));
        if let Some(e) = lock(&conns).get_mut(&id) {
            e.1 = Some(task.abort_handle());
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = lock(&conns).len();
    Draining {
        slots,
        max,
        conns,
        open,
        started: Instant::now(),
        _stop: stop_tx,
    }
}

/// The server after its stop: no longer accepting, its connections finishing.
pub struct Draining {
    slots: Arc<Semaphore>,
    max: usize,
    conns: Conns,
    open: usize,
    started: Instant,
    _stop: watch::Sender<bool>,
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Connections open when the server stopped accepting.
    pub open: usize,
    /// Connections still open at the end, cut.
    pub cut: usize,
    /// Cut because `force` came (a second signal) rather than the grace period's end.
    pub forced: bool,
    /// From the stop to the end.
    pub elapsed: Duration,
}

impl Draining {
    /// Connections open when the server stopped accepting.
    pub fn open(&self) -> usize {
        self.open
    }

    /// Waits until every connection has finished, at most `grace`, or until `force`
    /// completes; then cuts the connections still open.
    pub async fn finish(self, grace: Duration, force: impl Future<Output = ()>) -> Stopped {
        let all = self.slots.acquire_many(self.max as u32);
        let (forced, timed_out) = tokio::select! {
            _ = all => (false, false),
            _ = tokio::time::sleep_until(self.started + grace) => (false, true),
            _ = force => (true, false),
        };
        let mut cut = 0;
        if forced || timed_out {
            for (_, h) in lock(&self.conns).values() {
                cut += 1;
                if let Some(h) = h {
                    h.abort();
                }
            }
            // Aborted tasks end when next polled: let them (their responses log "ABORTED").
            let _ = tokio::time::timeout(
                Duration::from_millis(200),
                self.slots.acquire_many(self.max as u32),
            )
            .await;
        }
        Stopped {
            open: self.open,
            cut,
            forced,
            elapsed: self.started.elapsed(),
        }
    }
}
