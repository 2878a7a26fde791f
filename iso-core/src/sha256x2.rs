//! SHA-256 of two messages at once on one core, with the x86 SHA extensions.
//!
//! ```
//! use sha2::Digest;
//! let (a, b) = (vec![1u8; 100_000], vec![2u8; 70_000]);
//! let (da, db) = iso_core::sha256x2::digest_pair(&a, &b);
//! assert_eq!(da, <[u8; 32]>::from(sha2::Sha256::digest(&a)));
//! assert_eq!(db, <[u8; 32]>::from(sha2::Sha256::digest(&b)));
//! ```
//!
//! `sha256rnds2` has a latency of several cycles and each round depends on the one before, so
//! a single message leaves the unit mostly idle: the `sha2` crate (and `ring`) hash about 1.3
//! GB/s per core on an x86-64 core with SHA-NI. Two independent messages interleaved
//! round by round fill those cycles. This module holds the only such code; everything else
//! (padding, odd lengths, other CPUs) goes through `sha2::compress256`, and the unit tests
//! compare every result with `sha2`.
//!
//! `benches/sha256x2.rs` (criterion) times it against `sha2` on the same pairs; it is the
//! reason this module exists, and would be removed if it stopped paying. This and
//! [`crate::IsoFile`]'s mapping are the crate's only `unsafe` code.
#![allow(unsafe_code)]

use sha2::digest::generic_array::GenericArray;

const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// An incremental SHA-256, fed whole 64-byte blocks (alone, or in pairs with
/// [`update_pair`]), then finished with the tail.
#[derive(Clone, Debug)]
pub struct State {
    h: [u32; 8],
    len: u64,
}

impl Default for State {
    fn default() -> Self {
        State { h: H0, len: 0 }
    }
}

impl State {
    /// A new hash.
    pub fn new() -> Self {
        State::default()
    }

    /// Hashes the whole 64-byte blocks at the start of `data`; returns the bytes consumed
    /// (a multiple of 64; the caller keeps the rest for later or for [`State::finish`]).
    pub fn update_blocks(&mut self, data: &[u8]) -> usize {
        let n = compress_blocks(&mut self.h, data);
        self.len += n as u64;
        n
    }

    /// The digest, after hashing `tail` (any length) and the padding.
    pub fn finish(self, tail: &[u8]) -> [u8; 32] {
        finish(self.h, tail, self.len + tail.len() as u64)
    }
}

/// Hashes the same number of whole blocks from the start of `da` into `a` and of `db` into
/// `b`, interleaved (two messages at once on one core); returns the bytes consumed from each.
pub fn update_pair(a: &mut State, b: &mut State, da: &[u8], db: &[u8]) -> usize {
    let n = da.len().min(db.len()) / 64 * 64;
    let done = x86::compress_pair(&mut a.h, &mut b.h, &da[..n], &db[..n]);
    a.len += done as u64;
    b.len += done as u64;
    if done < n {
        a.update_blocks(&da[done..n]);
        b.update_blocks(&db[done..n]);
    }
    n
}

/// Whether this CPU runs the interleaved two-message path (x86-64 with the SHA extensions,
/// SSSE3 and SSE4.1); without it every digest goes through `sha2`'s own code.
pub fn simd_available() -> bool {
    x86::available()
}

/// Digests of `a` and `b`.
pub fn digest_pair(a: &[u8], b: &[u8]) -> ([u8; 32], [u8; 32]) {
    let (mut sa, mut sb) = (H0, H0);
    let both = a.len().min(b.len()) / 64 * 64;
    let done = x86::compress_pair(&mut sa, &mut sb, &a[..both], &b[..both]);
    (
        finish(sa, &a[done..], a.len() as u64),
        finish(sb, &b[done..], b.len() as u64),
    )
}

/// SHA-256 of a file's content (several extents hashed in order).
pub fn digest_contents(c: &crate::Contents<'_>) -> [u8; 32] {
    match c.as_slice() {
        Some(one) => digest(one),
        None => {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            for p in c.parts() {
                h.update(p);
            }
            h.finalize().into()
        }
    }
}

/// How much faster one core hashes two messages interleaved than one alone (measured on the
/// 2-vCPU EPYC of the benchmarks: 2.18 against 1.80 GB/s); [`digest_all`] uses it to decide
/// when a large item is better hashed alone on a core of its own.
const PAIR_GAIN: f64 = 1.2;

/// SHA-256 of every item (`None` stays `None`), on `threads` threads (0: every core).
///
/// Each thread hashes two items at a time, interleaved (see the module docs), taking the next
/// item, largest first, as soon as one of the two is done. Interleaving halves the speed of
/// each message, so an item so large that it alone would outlast the rest of the work on the
/// other threads is hashed alone on a thread of its own, at the full speed of one message:
/// the 512 MiB file of a 1 GiB image, say, runs alone on one core while the other core
/// hashes everything else in pairs.
pub fn digest_all(items: &[Option<&crate::Contents<'_>>], threads: usize) -> Vec<Option<[u8; 32]>> {
    use std::sync::atomic::AtomicUsize;
    let len = |i: usize| items[i].map_or(0, |c| c.len());
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(len(i)));
    let n = if threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        threads
    }
    .clamp(1, 64);
    // Items hashed alone, one per thread: the largest, while each outlasts what is left
    // hashed in pairs on the remaining threads.
    let mut alone = 0;
    let mut rest: u64 = order.iter().map(|&i| len(i)).sum();
    while alone + 1 < n && alone < order.len() && simd_available() {
        let big = len(order[alone]);
        rest -= big;
        let others = (n - alone - 1) as f64;
        if (big as f64) * PAIR_GAIN * others < rest as f64 {
            break;
        }
        alone += 1;
    }
    let (solo, shared) = order.split_at(alone);
    let next = AtomicUsize::new(0);
    let mut out = vec![None; items.len()];
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|t| {
                let solo = solo.get(t).copied();
                let next = &next;
                s.spawn(move || {
                    let mut res = Vec::new();
                    if let Some(i) = solo {
                        res.push((i, items[i].map(digest_contents)));
                    }
                    hash_in_pairs(items, shared, next, &mut res);
                    res
                })
            })
            .collect();
        for w in workers {
            // A worker that panicked loses only its own results: they are computed again
            // below, on this thread, rather than reported as unreadable.
            if let Ok(v) = w.join() {
                for (i, d) in v {
                    out[i] = d;
                }
            }
        }
    });
    for (o, item) in out.iter_mut().zip(items) {
        if o.is_none() {
            *o = item.map(digest_contents);
        }
    }
    out
}

/// One message being hashed in a pair: its index, its bytes, the state and how far it is.
struct Lane<'a> {
    item: usize,
    data: &'a [u8],
    state: State,
    at: usize,
}

/// Takes items from `order` (the next at `next`) two at a time and hashes them interleaved,
/// refilling a lane as soon as its item is done; items that are not one slice (several
/// extents, or zisofs) are hashed on their own as they come.
fn hash_in_pairs<'a>(
    items: &[Option<&crate::Contents<'a>>],
    order: &[usize],
    next: &std::sync::atomic::AtomicUsize,
    res: &mut Vec<(usize, Option<[u8; 32]>)>,
) {
    use std::sync::atomic::Ordering;
    let mut lanes: [Option<Lane<'a>>; 2] = [None, None];
    loop {
        for lane in lanes.iter_mut().filter(|l| l.is_none()) {
            while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                match items[i].and_then(|c| c.as_slice()) {
                    Some(data) => {
                        *lane = Some(Lane {
                            item: i,
                            data,
                            state: State::new(),
                            at: 0,
                        });
                        break;
                    }
                    None => res.push((i, items[i].map(digest_contents))),
                }
            }
        }
        match &mut lanes {
            [Some(a), Some(b)] => {
                let done =
                    update_pair(&mut a.state, &mut b.state, &a.data[a.at..], &b.data[b.at..]);
                a.at += done;
                b.at += done;
                // `done` stops at the shorter one's last whole block: that one is finished
                // (both, when they end together).
                for lane in lanes.iter_mut() {
                    if lane.as_ref().is_some_and(|l| l.data.len() - l.at < 64) {
                        if let Some(l) = lane.take() {
                            res.push((l.item, Some(l.state.finish(&l.data[l.at..]))));
                        }
                    }
                }
            }
            [Some(_), None] | [None, Some(_)] => {
                // Nothing left to pair it with: the rest of it alone.
                for l in lanes.iter_mut().filter_map(Option::take) {
                    res.push((l.item, Some(l.state.finish(&l.data[l.at..]))));
                }
            }
            [None, None] => break,
        }
    }
}

/// Compresses the whole 64-byte blocks at the start of `data` into `state` in one call of
/// `sha2::compress256` (one call per block costs some 10% of the speed: the state goes in and
/// out of the SIMD registers each time); returns the bytes consumed.
fn compress_blocks(state: &mut [u32; 8], data: &[u8]) -> usize {
    type Block = GenericArray<u8, sha2::digest::consts::U64>;
    let n = data.len() / 64;
    // SAFETY: `GenericArray<u8, U64>` is `#[repr(transparent)]` over `[u8; 64]` (size 64,
    // alignment 1), so `n` of them are exactly the first `64 * n` bytes of `data`, which are in
    // bounds; the borrow of `data` outlives the slice.
    let blocks: &[Block] = unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<Block>(), n) };
    sha2::compress256(state, blocks);
    n * 64
}

/// Digest of one message.
pub fn digest(a: &[u8]) -> [u8; 32] {
    finish(H0, a, a.len() as u64)
}

/// Hashes the rest of a message (whole blocks, then padding) from `state`.
fn finish(mut state: [u32; 8], rest: &[u8], total: u64) -> [u8; 32] {
    let whole = compress_blocks(&mut state, rest);
    let tail = &rest[whole..];
    let mut last = [0u8; 128];
    last[..tail.len()].copy_from_slice(tail);
    last[tail.len()] = 0x80;
    let n = if tail.len() < 56 { 64 } else { 128 };
    last[n - 8..n].copy_from_slice(&total.wrapping_mul(8).to_be_bytes());
    compress_blocks(&mut state, &last[..n]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// Compresses the whole blocks of `a` and `b` (equal lengths, multiples of 64) into the
    /// two states; returns the bytes done (0 when the CPU lacks the SHA extensions, and the
    /// caller's scalar path does everything).
    pub fn available() -> bool {
        is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("sse4.1")
            && is_x86_feature_detected!("ssse3")
    }

    pub fn compress_pair(sa: &mut [u32; 8], sb: &mut [u32; 8], a: &[u8], b: &[u8]) -> usize {
        let n = a.len().min(b.len()) / 64 * 64;
        if n == 0 || !available() {
            return 0;
        }
        // SAFETY: the CPU has the features `compress` is compiled for (checked just above),
        // and `a[..n]`, `b[..n]` are in bounds.
        unsafe { compress(sa, sb, &a[..n], &b[..n]) };
        n
    }

    /// Packs a state `a..h` into the ABEF / CDGH registers the SHA instructions use.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn load(s: &[u32; 8]) -> (__m128i, __m128i) {
        // SAFETY: `s` holds 8 u32, two unaligned 16-byte loads.
        let (abcd, efgh) = unsafe {
            (
                _mm_loadu_si128(s.as_ptr().cast()),
                _mm_loadu_si128(s.as_ptr().add(4).cast()),
            )
        };
        let cdab = _mm_shuffle_epi32(abcd, 0xB1);
        let hgfe = _mm_shuffle_epi32(efgh, 0x1B);
        (
            _mm_alignr_epi8(cdab, hgfe, 8),
            _mm_blend_epi16(hgfe, cdab, 0xF0),
        )
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn store(s: &mut [u32; 8], abef: __m128i, cdgh: __m128i) {
        let feba = _mm_shuffle_epi32(abef, 0x1B);
        let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
        let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
        let hgfe = _mm_alignr_epi8(dchg, feba, 8);
        // SAFETY: `s` holds 8 u32, two unaligned 16-byte stores.
        unsafe {
            _mm_storeu_si128(s.as_mut_ptr().cast(), dcba);
            _mm_storeu_si128(s.as_mut_ptr().add(4).cast(), hgfe);
        }
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn compress(sa: &mut [u32; 8], sb: &mut [u32; 8], a: &[u8], b: &[u8]) {
        let mask = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        // SAFETY: `sa` and `sb` are valid states.
        let (mut a0, mut a1) = unsafe { load(sa) };
        let (mut b0, mut b1) = unsafe { load(sb) };
        for (ba, bb) in a.chunks_exact(64).zip(b.chunks_exact(64)) {
            let (sa0, sa1, sb0, sb1) = (a0, a1, b0, b1);
            let mut ma = [_mm_setzero_si128(); 4];
            let mut mb = [_mm_setzero_si128(); 4];
            for i in 0..4 {
                // SAFETY: each chunk is 64 bytes: four 16-byte loads.
                unsafe {
                    ma[i] = _mm_shuffle_epi8(_mm_loadu_si128(ba.as_ptr().add(16 * i).cast()), mask);
                    mb[i] = _mm_shuffle_epi8(_mm_loadu_si128(bb.as_ptr().add(16 * i).cast()), mask);
                }
            }
            for g in 0..16 {
                // SAFETY: K has 64 entries; 4 * g + 3 < 64.
                let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * g).cast()) };
                let (ca, cb) = (ma[g % 4], mb[g % 4]);
                let wa = _mm_add_epi32(ca, k);
                let wb = _mm_add_epi32(cb, k);
                a1 = _mm_sha256rnds2_epu32(a1, a0, wa);
                b1 = _mm_sha256rnds2_epu32(b1, b0, wb);
                if (3..=14).contains(&g) {
                    let (next, prev) = ((g + 1) % 4, (g + 3) % 4);
                    let ta = _mm_alignr_epi8(ca, ma[prev], 4);
                    let tb = _mm_alignr_epi8(cb, mb[prev], 4);
                    ma[next] = _mm_sha256msg2_epu32(_mm_add_epi32(ma[next], ta), ca);
                    mb[next] = _mm_sha256msg2_epu32(_mm_add_epi32(mb[next], tb), cb);
                }
                a0 = _mm_sha256rnds2_epu32(a0, a1, _mm_shuffle_epi32(wa, 0x0E));
                b0 = _mm_sha256rnds2_epu32(b0, b1, _mm_shuffle_epi32(wb, 0x0E));
                if (1..=12).contains(&g) {
                    let prev = (g + 3) % 4;
                    ma[prev] = _mm_sha256msg1_epu32(ma[prev], ca);
                    mb[prev] = _mm_sha256msg1_epu32(mb[prev], cb);
                }
            }
            a0 = _mm_add_epi32(a0, sa0);
            a1 = _mm_add_epi32(a1, sa1);
            b0 = _mm_add_epi32(b0, sb0);
            b1 = _mm_add_epi32(b1, sb1);
        }
        // SAFETY: valid states.
        unsafe {
            store(sa, a0, a1);
            store(sb, b0, b1);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    pub fn available() -> bool {
        false
    }

    pub fn compress_pair(_: &mut [u32; 8], _: &mut [u32; 8], _: &[u8], _: &[u8]) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the CPU has the SHA extensions (as `/proc/cpuinfo` says, independently of
    /// `is_x86_feature_detected!`), the interleaved path really runs: it consumes whole blocks.
    #[test]
    fn simd_path_runs_where_the_cpu_has_sha() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let flags = cpuinfo
            .lines()
            .find(|l| l.starts_with("flags"))
            .unwrap_or("");
        let has = |f: &str| flags.split_whitespace().any(|w| w == f);
        let cpu_has_sha =
            cfg!(target_arch = "x86_64") && has("sha_ni") && has("sse4_1") && has("ssse3");
        assert_eq!(simd_available(), cpu_has_sha, "flags: {flags}");
        let (mut a, mut b) = (State::new(), State::new());
        let data = [7u8; 640];
        let consumed = x86::compress_pair(&mut a.h, &mut b.h, &data, &data);
        if cpu_has_sha {
            assert_eq!(consumed, 640, "the SHA-extension path did not run");
            assert_ne!(a.h, H0);
        } else {
            eprintln!("no SHA extensions on this CPU: only the scalar path is tested");
            assert_eq!(consumed, 0);
        }
    }
    use sha2::{Digest, Sha256};

    fn reference(b: &[u8]) -> [u8; 32] {
        Sha256::digest(b).into()
    }

    #[test]
    fn matches_sha2_for_every_length_and_pairing() {
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for la in [
            0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 5000,
        ] {
            for lb in [0, 3, 64, 100, 128, 640, 4999] {
                let (a, b) = (&data[..la], &data[5000 - lb..]);
                let (da, db) = digest_pair(a, b);
                assert_eq!(da, reference(a), "a len {la} paired with {lb}");
                assert_eq!(db, reference(b), "b len {lb} paired with {la}");
            }
            assert_eq!(digest(&data[..la]), reference(&data[..la]));
        }
    }

    proptest::proptest! {
        #[test]
        fn random_pairs_match_sha2(a in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
                                   b in proptest::collection::vec(proptest::num::u8::ANY, 0..3000)) {
            let (da, db) = digest_pair(&a, &b);
            proptest::prop_assert_eq!(da, reference(&a));
            proptest::prop_assert_eq!(db, reference(&b));
        }
    }

    #[test]
    fn incremental_states_match() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let (x, y) = (&data[..7000], &data[1000..]);
        let (mut a, mut b) = (State::new(), State::new());
        let mut pos = 0;
        while pos + 1024 <= x.len().min(y.len()) {
            pos += update_pair(&mut a, &mut b, &x[pos..pos + 1024], &y[pos..pos + 1024]);
        }
        let ea = a.update_blocks(&x[pos..]);
        let eb = b.update_blocks(&y[pos..]);
        assert_eq!(a.finish(&x[pos + ea..]), reference(x));
        assert_eq!(b.finish(&y[pos + eb..]), reference(y));
    }

    /// Every scheduling `digest_all` makes (one large item alone on a thread, or not; lanes
    /// refilled mid-item; items shorter than a block; `None`) gives each item its own digest.
    #[test]
    fn digest_all_matches_sha2_whatever_the_schedule() {
        let data: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
            .collect();
        let cases: [&[usize]; 5] = [
            // One item larger than all the others together: hashed alone on 2+ threads.
            &[2_000_000, 1000, 70_000, 3, 0, 64, 65, 300_000],
            // Two large ones: each alone on 3 threads.
            &[1_200_000, 1_100_000, 5, 128, 200_000],
            // Even sizes: all in pairs.
            &[100_000, 100_000, 100_000, 100_000, 99_999],
            &[1],
            &[],
        ];
        for sizes in cases {
            let mut at = 0;
            let contents: Vec<crate::Contents<'_>> = sizes
                .iter()
                .map(|&n| {
                    let start = at % 1000;
                    at += 7;
                    crate::Contents::from_slice(&data[start..start + n])
                })
                .collect();
            let mut items: Vec<Option<&crate::Contents<'_>>> = contents.iter().map(Some).collect();
            items.push(None);
            for threads in 1..=4 {
                let got = digest_all(&items, threads);
                assert_eq!(got.len(), items.len());
                for (k, (g, c)) in got.iter().zip(&items).enumerate() {
                    let want = c.and_then(|c| c.as_slice()).map(reference);
                    assert_eq!(*g, want, "item {k} of {sizes:?} on {threads} threads");
                }
            }
        }
    }

    #[test]
    fn known_vector() {
        assert_eq!(
            hex::encode(digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
