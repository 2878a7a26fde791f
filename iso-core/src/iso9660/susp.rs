//! System Use Sharing Protocol (SUSP 1.12) and Rock Ridge (RRIP 1.09, 1.10, 1.12) entries.
//!
//! The parser reads the System Use area of one directory record and follows its continuation
//! areas (`CE`) within the [`Limits`] budgets, detecting loops. Unknown entries are skipped; an
//! entry whose length is impossible ends the area (what follows it cannot be located).

use std::borrow::Cow;

use smallvec::SmallVec;

use super::bytes::both_u32_at;
use super::date::Timestamp;
use crate::{Error, ErrorKind, Limits, Result};

/// POSIX attributes from a Rock Ridge `PX` entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Px {
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    /// File serial number (RRIP 1.12 44-byte form only).
    pub ino: Option<u32>,
}

/// The data of a `PX` entry long enough for its four fields (mode, links, owner, group: 32
/// bytes), kept raw: a listing reads the mode only, the rest is decoded on demand.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawPx<'data>(&'data [u8]);

impl<'data> RawPx<'data> {
    /// `d` when it holds the four fields; `None` (the entry is ignored) when it is shorter.
    fn new(d: &'data [u8]) -> Option<Self> {
        (d.len() >= 32).then_some(RawPx(d))
    }

    /// The mode (the little-endian half of the first both-endian field).
    pub fn mode(self) -> u32 {
        super::bytes::le_u32_at(self.0, 0).unwrap_or(0)
    }

    /// All the fields.
    pub fn decode(self) -> Px {
        let v = |at| both_u32_at(self.0, at).map_or(0, |v| v.value);
        Px {
            mode: v(0),
            nlink: v(8),
            uid: v(16),
            gid: v(24),
            ino: both_u32_at(self.0, 32).map(|v| v.value),
        }
    }
}

/// Rock Ridge `TF` times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Times {
    pub creation: Option<Timestamp>,
    pub modify: Option<Timestamp>,
    pub access: Option<Timestamp>,
    pub attributes: Option<Timestamp>,
}

/// A zisofs `ZF` entry (version 1: zisofs; version 2: zisofs2), or a zisofs2 `Z2` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZisofsInfo {
    /// System Use entry version: 1 for zisofs, 2 for zisofs2 (`ZF` version 2 and `Z2`).
    pub version: u8,
    /// Algorithm: `pz` for zisofs; for zisofs2 `PZ` (zlib), `XZ`, `L4`, `ZD` or `B2`.
    pub algorithm: [u8; 2],
    /// Header size in 4-byte units.
    pub header_size_div4: u8,
    /// log2 of the block size (15 to 17 for zisofs, 15 to 20 for zisofs2).
    pub log2_block_size: u8,
    /// Size of the uncompressed content (32 bits in zisofs, 64 in zisofs2).
    pub uncompressed_size: u64,
}

/// What the System Use area of one record says.
#[derive(Clone, Debug, Default)]
pub(crate) struct Susp<'data> {
    /// Any Rock Ridge entry was seen.
    pub rock_ridge: bool,
    /// `SP`: the bytes to skip at the start of every System Use area.
    pub sp_skip: Option<u8>,
    /// `ER` extension identifiers.
    pub extensions: Vec<String>,
    pub name: Option<Cow<'data, [u8]>>,
    /// `PX`, decoded on demand.
    pub px: Option<RawPx<'data>>,
    /// `PN` decoded to `(major, minor)` by [`device_numbers`].
    pub pn: Option<(u32, u32)>,
    pub symlink: Option<Vec<u8>>,
    /// Raw `TF` data (decoded on demand by [`parse_tf`]).
    pub tf: Option<&'data [u8]>,
    pub cl: Option<u32>,
    pub pl: Option<u32>,
    pub re: bool,
    pub zf: Option<ZisofsInfo>,
    pub sparse: bool,
    /// An entry with an impossible length cut an area short.
    pub truncated: bool,
    /// Raw AAIP `AL` entries, decoded on demand by [`super::aaip`].
    pub al: Option<Box<super::aaip::AlList<'data>>>,
}

/// Where to find the bytes of continuation areas.
#[derive(Clone, Copy)]
pub(crate) struct SuspCtx<'data> {
    pub data: &'data [u8],
    pub block_size: u32,
    pub limits: Limits,
}

const NM_CONTINUE: u8 = 0x01;
const NM_CURRENT: u8 = 0x02;
const NM_PARENT: u8 = 0x04;

const SL_CONTINUE: u8 = 0x01;
const SL_CURRENT: u8 = 0x02;
const SL_PARENT: u8 = 0x04;
const SL_ROOT: u8 = 0x08;

/// State while joining the components of `SL` entries.
#[derive(Default)]
struct LinkBuilder {
    out: Vec<u8>,
    /// The last component continues into the next one (no separator).
    joined: bool,
    started: bool,
}

impl LinkBuilder {
    fn push(&mut self, flags: u8, text: &[u8]) {
        if self.started && !self.joined && self.out != b"/" {
            self.out.push(b'/');
        }
        if flags & SL_ROOT != 0 {
            if self.out.is_empty() {
                self.out.push(b'/');
            }
        } else if flags & SL_PARENT != 0 {
            self.out.extend_from_slice(b"..");
        } else if flags & SL_CURRENT != 0 {
            self.out.push(b'.');
        } else {
            self.out.extend_from_slice(text);
        }
        self.started = true;
        self.joined = flags & SL_CONTINUE != 0;
    }
}

/// Parses the System Use area `su` of the record at `su_offset`, skipping `skip` bytes (from
/// `SP`), and its continuation areas.
pub(crate) fn parse<'data>(
    ctx: &SuspCtx<'data>,
    su: &'data [u8],
    su_offset: u64,
    skip: usize,
) -> Result<Susp<'data>> {
    let mut out = Susp::default();
    parse_area(
        ctx.data,
        ctx.block_size,
        &ctx.limits,
        su,
        su_offset,
        skip,
        &mut out,
    )?;
    Ok(out)
}

/// Two-letter signatures as numbers, for one `match` on both bytes.
const fn sig(s: &[u8; 2]) -> u16 {
    u16::from_be_bytes(*s)
}
const ST: u16 = sig(b"ST");
const CE: u16 = sig(b"CE");
const SP: u16 = sig(b"SP");
const ER: u16 = sig(b"ER");
const RR: u16 = sig(b"RR");
const AL: u16 = sig(b"AL");
const PX: u16 = sig(b"PX");
const PN: u16 = sig(b"PN");
const SL: u16 = sig(b"SL");
const NM: u16 = sig(b"NM");
const CL: u16 = sig(b"CL");
const PL: u16 = sig(b"PL");
const RE: u16 = sig(b"RE");
const TF: u16 = sig(b"TF");
const SF: u16 = sig(b"SF");
const ZF: u16 = sig(b"ZF");
const Z2: u16 = sig(b"Z2");

/// [`parse`] into a caller's (default) value (`Susp` is large enough that returning it by
/// value shows in listings), with the context's parts: `data` (where continuation areas
/// are) and its `block_size`, and the `limits` by reference (a walk calls this for every
/// record).
#[allow(clippy::too_many_arguments)]
pub(crate) fn parse_area<'data>(
    data: &'data [u8],
    block_size: u32,
    limits: &Limits,
    su: &'data [u8],
    su_offset: u64,
    skip: usize,
    out: &mut Susp<'data>,
) -> Result<()> {
    let mut area: &'data [u8] = su.get(skip..).unwrap_or(&[]);
    let mut area_offset = su_offset + skip as u64;
    let mut visited: SmallVec<[(u32, u32); 4]> = SmallVec::new();
    let mut total = area.len() as u64;
    let mut link: Option<LinkBuilder> = None;
    let mut ce_count = 0u32;
    loop {
        let mut next_ce = None;
        // `rest` is the area from entry offset `p` on.
        let mut rest = area;
        let mut p = 0usize;
        while let Some((h, _)) = rest.split_first_chunk::<4>() {
            let len = usize::from(h[2]);
            // None when the length is below 4 or runs past the area.
            let Some(d) = rest.get(4..len) else {
                // A zero byte here is padding after the last entry; anything else is damage.
                if h[0] != 0 {
                    out.truncated = true;
                }
                break;
            };
            let at = area_offset + p as u64;
            match sig(&[h[0], h[1]]) {
                ST => break,
                RR => out.rock_ridge = true,
                NM => {
                    out.rock_ridge = true;
                    if let Some((&nflags, text)) = d.split_first() {
                        if nflags & (NM_CURRENT | NM_PARENT) == 0 {
                            let _ = NM_CONTINUE;
                            let n = match &mut out.name {
                                None => {
                                    out.name = Some(Cow::Borrowed(text));
                                    text.len()
                                }
                                Some(name) => {
                                    name.to_mut().extend_from_slice(text);
                                    name.len()
                                }
                            };
                            if n > limits.max_name_bytes {
                                return Err(limit(
                                    "max_name_bytes",
                                    n as u64,
                                    limits.max_name_bytes as u64,
                                    at,
                                ));
                            }
                        }
                    }
                }
                PX => {
                    out.rock_ridge = true;
                    if let Some(px) = RawPx::new(d) {
                        out.px = Some(px);
                    }
                }
                TF => {
                    out.rock_ridge = true;
                    out.tf = Some(d);
                }
                _ => rare(
                    sig(&[h[0], h[1]]),
                    h[3],
                    d,
                    at,
                    limits,
                    out,
                    &mut link,
                    &mut next_ce,
                )?,
            }
            p += len;
            rest = rest.get(len..).unwrap_or(&[]);
        }
        let Some((lba, off, len, at)) = next_ce else {
            break;
        };
        ce_count += 1;
        if ce_count > limits.max_ce_count {
            return Err(limit(
                "max_ce_count",
                ce_count.into(),
                limits.max_ce_count.into(),
                at,
            ));
        }
        if visited.contains(&(lba, off)) {
            return Err(Error::at(
                ErrorKind::ContinuationLoop { lba, offset: off },
                at,
            ));
        }
        visited.push((lba, off));
        total += u64::from(len);
        if total > limits.max_susp_bytes {
            return Err(limit("max_susp_bytes", total, limits.max_susp_bytes, at));
        }
        let start = u64::from(lba) * u64::from(block_size) + u64::from(off);
        let end = start + u64::from(len);
        area =
            super::slice(data, start, end, "SUSP continuation area").map_err(|e| e.relocate(at))?;
        area_offset = start;
    }
    if let Some(lb) = link {
        out.symlink = Some(lb.out);
    }
    Ok(())
}

/// The entries [`parse_area`] meets rarely (all but `ST`, `RR`, `NM`, `PX` and `TF`), out of
/// its loop: signature `s`, version byte `version`, data `d` at `at`.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn rare<'data>(
    s: u16,
    version: u8,
    d: &'data [u8],
    at: u64,
    limits: &Limits,
    out: &mut Susp<'data>,
    link: &mut Option<LinkBuilder>,
    next_ce: &mut Option<(u32, u32, u32, u64)>,
) -> Result<()> {
    match s {
        CE => {
            if let (Some(b), Some(o), Some(l)) =
                (both_u32_at(d, 0), both_u32_at(d, 8), both_u32_at(d, 16))
            {
                *next_ce = Some((b.value, o.value, l.value, at));
            }
        }
        SP if d.len() >= 3 && d[0] == 0xBE && d[1] == 0xEF => {
            out.sp_skip = Some(d[2]);
        }
        ER if d.len() >= 4 => {
            let id_len = d[0] as usize;
            if let Some(id) = d.get(4..4 + id_len) {
                if out.extensions.len() < 16 {
                    out.extensions
                        .push(String::from_utf8_lossy(id).into_owned());
                }
            }
        }
        AL => match &mut out.al {
            Some(al) => al.push((at, d)),
            None => {
                let al = super::aaip::AlList::new((at, d), limits.max_aaip_bytes);
                out.al = Some(Box::new(al));
            }
        },
        PN => {
            out.rock_ridge = true;
            if let (Some(h), Some(l)) = (both_u32_at(d, 0), both_u32_at(d, 8)) {
                out.pn = Some(device_numbers(h.value, l.value));
            }
        }
        SL => {
            out.rock_ridge = true;
            let lb = link.get_or_insert_with(LinkBuilder::default);
            link_components(lb, d, limits, at, &mut out.truncated)?;
        }
        CL => {
            out.rock_ridge = true;
            out.cl = both_u32_at(d, 0).map(|v| v.value);
        }
        PL => {
            out.rock_ridge = true;
            out.pl = both_u32_at(d, 0).map(|v| v.value);
        }
        RE => {
            out.rock_ridge = true;
            out.re = true;
        }
        SF => {
            out.rock_ridge = true;
            out.sparse = true;
        }
        // A ZF too short for its fields is ignored (libarchive PR #2960). zisofs2 (`ZF`
        // version 2, or `Z2`) records the size as a little-endian 64-bit number.
        ZF | Z2 if d.len() >= 12 => {
            let version = if s == Z2 { 2 } else { version };
            let size = if version >= 2 {
                d.get(4..12)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
            } else {
                both_u32_at(d, 4).map(|v| u64::from(v.value))
            };
            if let Some(size) = size {
                out.zf = Some(ZisofsInfo {
                    version: version.max(1),
                    algorithm: [d[0], d[1]],
                    header_size_div4: d[2],
                    log2_block_size: d[3],
                    uncompressed_size: size,
                });
            }
        }
        _ => {}
    }
    Ok(())
}

/// The components of one `SL` entry's data `d` (at `at`) added to `lb`.
fn link_components(
    lb: &mut LinkBuilder,
    d: &[u8],
    limits: &Limits,
    at: u64,
    truncated: &mut bool,
) -> Result<()> {
    let mut c = d.get(1..).unwrap_or(&[]);
    while c.len() >= 2 {
        let (cflags, clen) = (c[0], c[1] as usize);
        let Some(text) = c.get(2..2 + clen) else {
            *truncated = true;
            break;
        };
        lb.push(cflags, text);
        if lb.out.len() > limits.max_link_bytes {
            return Err(limit(
                "max_link_bytes",
                lb.out.len() as u64,
                limits.max_link_bytes as u64,
                at,
            ));
        }
        c = &c[2 + clen..];
    }
    Ok(())
}

fn limit(name: &'static str, value: u64, max: u64, at: u64) -> Error {
    Error::at(
        ErrorKind::LimitExceeded {
            limit: name,
            value,
            max,
        },
        at,
    )
}

pub(crate) fn parse_tf(d: &[u8]) -> Times {
    let mut t = Times::default();
    let Some((&flags, mut rest)) = d.split_first() else {
        return t;
    };
    let long = flags & 0x80 != 0;
    let size = if long { 17 } else { 7 };
    let mut take = |bit: u8| -> Option<Option<Timestamp>> {
        if flags & bit == 0 {
            return None;
        }
        let b = rest.get(..size)?;
        rest = &rest[size..];
        Some(if long {
            Timestamp::from_digits(b)
        } else {
            Timestamp::from_dir_record(b)
        })
    };
    t.creation = take(0x01).flatten();
    t.modify = take(0x02).flatten();
    t.access = take(0x04).flatten();
    t.attributes = take(0x08).flatten();
    t
}

/// `(major, minor)` of a Rock Ridge `PN` entry's high and low words.
///
/// Writers disagree: genisoimage (and mkisofs with a 64-bit `dev_t`) records the major number
/// in the high word and the minor in the low one; libisofs (xorriso) records the whole `dev_t`,
/// high 32 bits and low 32 bits, so that the high word is 0 for every major below 4096 and
/// every minor below 2^20, and the low word holds both numbers in the Linux encoding. As
/// libisofs, bsdtar and the Linux kernel do for a high word of 0, the low word is then split
/// with the Linux/glibc `dev_t` encoding (major: bits 8-19; minor: bits 0-7 and 20-31), which
/// for a value below 2^16 is also the old 8-bit major, 8-bit minor one (`1, 3` is `0x103`). A
/// nonzero high word is taken as genisoimage's major number.
pub(crate) fn device_numbers(high: u32, low: u32) -> (u32, u32) {
    if high != 0 {
        return (high, low);
    }
    let major = (low >> 8) & 0xfff;
    let minor = (low & 0xff) | ((low >> 12) & !0xff);
    (major, minor)
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_numbers_of_both_writers() {
        use super::device_numbers;
        // xorriso: the whole dev_t in the low word
        assert_eq!(device_numbers(0, 0x103), (1, 3));
        assert_eq!(device_numbers(0, 268_501_761), (259, 65537));
        assert_eq!(device_numbers(0, 0xffff_ffff), (4095, 1_048_575));
        assert_eq!(device_numbers(0, 0x0801), (8, 1));
        assert_eq!(device_numbers(0, 0), (0, 0));
        // genisoimage: major, minor
        assert_eq!(device_numbers(1, 3), (1, 3));
        assert_eq!(device_numbers(259, 65537), (259, 65537));
    }

    use super::*;

    fn both(v: u32) -> Vec<u8> {
        let mut b = v.to_le_bytes().to_vec();
        b.extend(v.to_be_bytes());
        b
    }

    fn entry(sig: &[u8; 2], data: &[u8]) -> Vec<u8> {
        let mut e = vec![sig[0], sig[1], (data.len() + 4) as u8, 1];
        e.extend_from_slice(data);
        e
    }

    fn ctx(data: &[u8]) -> SuspCtx<'_> {
        SuspCtx {
            data,
            block_size: 2048,
            limits: Limits::DEFAULT,
        }
    }

    #[test]
    fn names_links_and_attributes() {
        let mut su = entry(b"NM", b"\x01hello-");
        su.extend(entry(b"NM", b"\x00world"));
        let mut px = Vec::new();
        for v in [0o100644, 2, 1000, 100] {
            px.extend(both(v));
        }
        su.extend(entry(b"PX", &px));
        // "../a/b" split with a continued component "a" + "/b"
        su.extend(entry(b"SL", b"\x01\x04\x00\x00\x01a"));
        su.extend(entry(b"SL", b"\x00\x00\x01b"));
        su.extend(entry(b"ZZ", b"unknown"));
        let s = parse(&ctx(&[]), &su, 0, 0).unwrap();
        assert_eq!(s.name.as_deref(), Some(&b"hello-world"[..]));
        assert_eq!(s.px.unwrap().decode().mode, 0o100644);
        assert_eq!(s.px.unwrap().mode(), 0o100644);
        assert_eq!(s.px.unwrap().decode().ino, None);
        assert_eq!(s.symlink.as_deref(), Some(&b"../a/b"[..]));
        assert!(s.rock_ridge);
    }

    #[test]
    fn absolute_links() {
        let su = entry(b"SL", b"\x00\x08\x00\x00\x03tmp\x00\x03foo");
        let s = parse(&ctx(&[]), &su, 0, 0).unwrap();
        assert_eq!(s.symlink.as_deref(), Some(&b"/tmp/foo"[..]));
    }

    #[test]
    fn continuation_loop_is_detected() {
        let mut image = vec![0u8; 4 * 2048];
        let mut ce = both(2);
        ce.extend(both(0));
        ce.extend(both(28));
        let e = entry(b"CE", &ce);
        image[2 * 2048..2 * 2048 + 28].copy_from_slice(&e);
        let err = parse(&ctx(&image), &e, 0, 0).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::ContinuationLoop { lba: 2, offset: 0 }
            ),
            "{err}"
        );
    }

    #[test]
    fn continuation_past_end_is_out_of_bounds() {
        let mut ce = both(1000);
        ce.extend(both(0));
        ce.extend(both(100));
        let e = entry(b"CE", &ce);
        let image = vec![0u8; 2048];
        let err = parse(&ctx(&image), &e, 0, 0).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::OutOfBounds { .. }), "{err}");
    }

    #[test]
    fn bad_lengths_stop_the_area() {
        let mut su = entry(b"NM", b"\x00ok");
        su.extend([b'P', b'X', 200, 1]);
        let s = parse(&ctx(&[]), &su, 0, 0).unwrap();
        assert!(s.truncated);
        assert_eq!(s.name.as_deref(), Some(&b"ok"[..]));
        let s = parse(&ctx(&[]), &[b'N', b'M', 2, 1, 0, 0], 0, 0).unwrap();
        assert!(s.truncated && s.name.is_none());
    }

    #[test]
    fn px_is_kept_raw_and_decoded_on_demand() {
        let mut px = Vec::new();
        for v in [0o120777, 3, 1000, 100, 42] {
            px.extend(both(v));
        }
        let su = entry(b"PX", &px);
        let s = parse(&ctx(&[]), &su, 0, 0).unwrap();
        let raw = s.px.unwrap();
        assert_eq!(raw.mode(), 0o120777);
        assert_eq!(
            raw.decode(),
            Px {
                mode: 0o120777,
                nlink: 3,
                uid: 1000,
                gid: 100,
                ino: Some(42),
            }
        );
        // Shorter than its four fields: ignored, as before.
        let su = entry(b"PX", &px[..31]);
        let s = parse(&ctx(&[]), &su, 0, 0).unwrap();
        assert!(s.px.is_none() && s.rock_ridge);
    }

    #[test]
    fn short_zf_is_ignored() {
        let su = entry(b"ZF", b"pz\x04");
        let s = parse(&ctx(&[]), &su, 0, 0).unwrap();
        assert!(s.zf.is_none());
    }
}
