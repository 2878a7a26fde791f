//! The `progress=` callable of exports and pushes: `progress(done_bytes, total_bytes)`.
//!
//! The Rust exporters report progress as often as every 64 KiB chunk, from a thread that runs
//! with the interpreter detached. [`Reporter`] throttles that to about one call per percent
//! (at most [`STEPS`] calls, plus the first with `done == 0` and a final one with
//! `done == total`), never calls with a `done` smaller than the previous one, and takes the
//! interpreter only for the call itself (`Python::attach`). When the callable raises, the
//! exception is kept, no further call is made, and [`Reporter::report`] answers
//! [`ControlFlow::Break`] so that the exporter stops; the caller then raises the kept
//! exception instead of the exporter's error.

use std::ops::ControlFlow;

use pyo3::prelude::*;

/// At most this many throttled calls per run (besides the first and the final one).
pub const STEPS: u64 = 100;

/// Throttles and forwards progress to a Python callable; keeps the exception it raises.
pub struct Reporter {
    callback: Option<Py<PyAny>>,
    /// `done` of the last call made, None before the first.
    last: Option<u64>,
    /// The next `done` at which a throttled call is made.
    next_at: u64,
    /// The total of the last report, made or not (the final call uses it).
    total: Option<u64>,
    /// The exception the callable raised, if it did.
    error: Option<PyErr>,
}

impl Reporter {
    /// A reporter for `callback` (None: reports nothing, never stops).
    pub fn new(callback: Option<Py<PyAny>>) -> Self {
        Reporter {
            callback,
            last: None,
            next_at: 0,
            total: None,
            error: None,
        }
    }

    /// Reports `done` of `total`: calls the callable on the first report, whenever `done`
    /// has grown by a hundredth of `total` since the last call, and when `done` reaches
    /// `total`. Break once the callable has raised.
    pub fn report(&mut self, done: u64, total: u64) -> ControlFlow<()> {
        if self.error.is_some() {
            return ControlFlow::Break(());
        }
        self.total = Some(total);
        let Some(cb) = &self.callback else {
            return ControlFlow::Continue(());
        };
        let done = done.min(total);
        let due = match self.last {
            None => true,
            Some(last) => done > last && (done >= self.next_at || done == total),
        };
        if !due {
            return ControlFlow::Continue(());
        }
        self.last = Some(done);
        self.next_at = done.saturating_add((total / STEPS).max(1));
        let result = Python::attach(|py| cb.call1(py, (done, total)).map(drop));
        match result {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// The final report of a run that succeeded: `(total, total)` with the total of the
    /// last report, unless that call was just made (nothing when nothing was reported).
    pub fn finish(&mut self) -> ControlFlow<()> {
        match self.total {
            Some(total) => self.report(total, total),
            None => ControlFlow::Continue(()),
        }
    }

    /// The exception the callable raised, if it did.
    pub fn take_error(&mut self) -> Option<PyErr> {
        self.error.take()
    }
}
