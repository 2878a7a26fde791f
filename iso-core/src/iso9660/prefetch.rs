//! A second core for walks: a helper thread decodes parts of large directories while the walk
//! goes through them ([`Walk::with_helper_thread`](super::Walk::with_helper_thread)).
//!
//! There is one parser. A large directory is cut at sector boundaries into parts that decode
//! apart exactly as in one pass ([`DirRecords::split`]), and each part is decoded by the same
//! [`ReadDir`] code, by whichever thread claims it first: the helper takes them in order,
//! the walk decodes a part itself when it reaches one the helper has not started, or one
//! further on while it waits. The walk yields the parts in order; a part ends at its first
//! error, which ends the directory as it would in one pass.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError};

use super::dirent::DirRecords;
use super::tree::{Ctx, DirEntry, ReadDir};
use crate::Result;

/// Directories smaller than this are read in one piece: handing entries between threads
/// costs more than decoding a few hundred of them.
const MIN_BYTES: usize = 64 * 1024;

/// Size of a part (16 sectors, some 250 entries of a Rock Ridge tree).
const PART_BYTES: usize = 32 * 1024;

/// Parts the helper may decode ahead of the one the walk is on: the memory held stays small
/// (a few hundred KiB) whatever the directory's size.
const LEAD: usize = 3;

/// How long the walk waits for the helper to finish the part it needs before decoding it
/// itself.
const WAIT: std::time::Duration = std::time::Duration::from_micros(20);

type Entries<'data> = Vec<Result<DirEntry<'data>>>;

/// One large directory, cut in parts.
pub(crate) struct Parts<'data> {
    parts: Vec<Part<'data>>,
    /// Decoded parts waiting for the walk, by index.
    ready: Mutex<Vec<Option<Entries<'data>>>>,
    cv: Condvar,
    /// The walk dropped the directory: decode nothing more of it.
    abandoned: AtomicBool,
    /// The part the walk yields next.
    walk_at: AtomicUsize,
    /// The helper waits for the walk to move on (see [`Parts::may_decode`]).
    helper_waits: AtomicBool,
    ctx: Ctx<'data>,
}

struct Part<'data> {
    records: DirRecords<'data>,
    /// Set by the thread that decodes it.
    claimed: AtomicBool,
}

/// A job for the helper thread.
pub(crate) type Job<'data> = Arc<Parts<'data>>;

/// The walk's position in a directory cut in parts.
pub(crate) struct Cursor<'data> {
    shared: Arc<Parts<'data>>,
    /// The next part to yield.
    next: usize,
    /// Entries of a part decoded elsewhere, being yielded.
    pub(crate) buf: std::vec::IntoIter<Result<DirEntry<'data>>>,
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        self.shared.abandoned.store(true, Ordering::SeqCst);
        self.shared.wake_helper();
    }
}

/// Where the walk's next part comes from.
pub(crate) enum Next<'data> {
    /// Decode these records here.
    Here(DirRecords<'data>),
    /// Decoded already.
    Ready(Entries<'data>),
    /// No part left.
    End,
}

impl<'data> Parts<'data> {
    /// Cuts `records` (a whole directory) in parts and queues them for the helper behind
    /// `jobs`; `records` becomes the first part, which the walk decodes, and the returned
    /// cursor yields the others in order. `None`, with nothing changed, for a small
    /// directory or one that cannot be cut.
    pub(crate) fn queue(
        records: &mut DirRecords<'data>,
        ctx: Ctx<'data>,
        jobs: &mpsc::Sender<Job<'data>>,
    ) -> Option<Box<Cursor<'data>>> {
        if records.data_len() < MIN_BYTES {
            return None;
        }
        let mut parts = Vec::new();
        let mut cur = records.clone();
        while let Some(rest) = cur.split(cur.pos() + PART_BYTES) {
            parts.push(cur);
            cur = rest;
        }
        if parts.is_empty() {
            return None;
        }
        parts.push(cur);
        let first = parts.first()?.clone();
        let n = parts.len();
        let shared = Arc::new(Parts {
            parts: parts
                .into_iter()
                .enumerate()
                .map(|(i, records)| Part {
                    records,
                    claimed: AtomicBool::new(i == 0),
                })
                .collect(),
            ready: Mutex::new((0..n).map(|_| None).collect()),
            cv: Condvar::new(),
            abandoned: AtomicBool::new(false),
            walk_at: AtomicUsize::new(1),
            helper_waits: AtomicBool::new(false),
            ctx,
        });
        jobs.send(Arc::clone(&shared)).ok()?;
        *records = first;
        Some(Box::new(Cursor {
            shared,
            next: 1,
            buf: Vec::new().into_iter(),
        }))
    }

    /// For the helper: waits until part `i` is at most [`LEAD`] parts ahead of the walk;
    /// false when the walk has dropped the directory.
    fn may_decode(&self, i: usize) -> bool {
        let near = || {
            self.abandoned.load(Ordering::SeqCst) || i <= self.walk_at.load(Ordering::SeqCst) + LEAD
        };
        if !near() {
            let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
            self.helper_waits.store(true, Ordering::SeqCst);
            while !near() {
                ready = self.cv.wait(ready).unwrap_or_else(PoisonError::into_inner);
            }
            self.helper_waits.store(false, Ordering::SeqCst);
        }
        !self.abandoned.load(Ordering::SeqCst)
    }

    /// For the walk, after moving on: wakes the helper if it waits for that.
    fn wake_helper(&self) {
        if self.helper_waits.load(Ordering::SeqCst) {
            drop(self.ready.lock().unwrap_or_else(PoisonError::into_inner));
            self.cv.notify_all();
        }
    }

    /// Claims part `i` for the calling thread.
    fn claim(&self, i: usize) -> bool {
        self.parts
            .get(i)
            .is_some_and(|p| !p.claimed.swap(true, Ordering::AcqRel))
    }

    /// Decodes part `i` (claimed by the caller) and leaves its entries for the walk.
    fn decode(&self, i: usize) {
        let Some(part) = self.parts.get(i) else {
            return;
        };
        let entries: Entries<'data> = ReadDir::part(self.ctx, part.records.clone()).collect();
        let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = ready.get_mut(i) {
            *slot = Some(entries);
        }
        drop(ready);
        self.cv.notify_all();
    }
}

impl<'data> Cursor<'data> {
    /// The next part, when the current one is done.
    pub(crate) fn advance(&mut self) -> Next<'data> {
        let shared = Arc::clone(&self.shared);
        let i = self.next;
        if i >= shared.parts.len() {
            return Next::End;
        }
        self.next += 1;
        shared.walk_at.store(self.next, Ordering::SeqCst);
        shared.wake_helper();
        if shared.claim(i) {
            return match shared.parts.get(i) {
                Some(p) => Next::Here(p.records.clone()),
                None => Next::End,
            };
        }
        loop {
            let mut ready = shared.ready.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entries) = ready.get_mut(i).and_then(Option::take) {
                return Next::Ready(entries);
            }
            drop(ready);
            // The helper is on part `i`: decode one further on meanwhile, or wait.
            if let Some(j) = (i + 1..shared.parts.len()).find(|&j| shared.claim(j)) {
                shared.decode(j);
                continue;
            }
            // Nothing else to do: wait a little for the helper, then (it may not be running:
            // the cores are busy) decode the part here too rather than wait on it.
            let ready = shared.ready.lock().unwrap_or_else(PoisonError::into_inner);
            let (mut ready, _) = shared
                .cv
                .wait_timeout_while(ready, WAIT, |r| r.get(i).is_some_and(Option::is_none))
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(entries) = ready.get_mut(i).and_then(Option::take) {
                return Next::Ready(entries);
            }
            return match shared.parts.get(i) {
                Some(p) => Next::Here(p.records.clone()),
                None => Next::End,
            };
        }
    }
}

/// The helper thread: decodes the parts nobody has claimed, until the walk drops its sender.
pub(crate) fn run(jobs: mpsc::Receiver<Job<'_>>) {
    for job in jobs {
        for i in 1..job.parts.len() {
            if !job.may_decode(i) {
                break;
            }
            if job.claim(i) {
                job.decode(i);
            }
        }
    }
}
