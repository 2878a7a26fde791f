//! Where everything goes: the node tree, names of each namespace, directory sizes and
//! extents, continuation areas, file extents; and the bytes of directory records and path
//! tables. Sizes never depend on locations, so one sizing pass and one writing pass agree.

use std::collections::HashMap;

use super::names;
use super::{Entry, IsoBuilder, Meta, WriteError, SECTOR};

/// The largest extent of one part of a multi-extent file (a multiple of the sector size).
pub(crate) const MAX_EXTENT: u64 = 0xFFFF_F800;

const ER_ID: &[u8] = b"RRIP_1991A";
const ER_DES: &[u8] =
    b"THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const ER_SRC: &[u8] = b"PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

pub(crate) enum Kind {
    Dir { children: Vec<usize>, subdirs: u32 },
    File { content: usize },
    Symlink { target: String },
}

pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) parent: usize,
    pub(crate) kind: Kind,
    pub(crate) meta: Meta,
    pub(crate) ino: u32,
}

/// One namespace's directories: identifiers, order, numbers and extents.
#[derive(Default)]
pub(crate) struct Tree {
    /// Per node: its identifier in this namespace (empty: not in it).
    pub(crate) ids: Vec<Vec<u8>>,
    /// Per directory node: its children in record order.
    pub(crate) sorted: Vec<Vec<usize>>,
    /// Directory nodes in path table order.
    pub(crate) order: Vec<usize>,
    /// Per directory node: its path table number (1-based).
    pub(crate) number: Vec<u16>,
    pub(crate) lba: Vec<u32>,
    pub(crate) size: Vec<u32>,
    pub(crate) pt_size: u32,
}

pub(crate) struct Layout {
    pub(crate) nodes: Vec<Node>,
    pub(crate) primary: Tree,
    pub(crate) joliet: Option<Tree>,
    pub(crate) content_lba: Vec<u32>,
    pub(crate) content_nlink: Vec<u32>,
    /// Contents in data order, with the image path of their first name.
    pub(crate) content_order: Vec<(usize, String)>,
    /// L and M path tables of the primary tree, then of the Joliet tree.
    pub(crate) pt_lba: [u32; 4],
    /// Per primary directory: the bytes of its continuation areas (in the sectors right
    /// after it).
    pub(crate) ce_bytes: Vec<u64>,
    pub(crate) data_lba: u32,
    pub(crate) total_sectors: u64,
    pub(crate) volume_time: i64,
    pub(crate) sde: Option<i64>,
    pub(crate) sizes: Vec<u64>,
}

fn sectors(bytes: u64) -> u64 {
    bytes.div_ceil(SECTOR)
}

fn too_large(what: impl Into<String>) -> WriteError {
    WriteError::TooLarge { what: what.into() }
}

fn to_u32(v: u64, what: &str) -> Result<u32, WriteError> {
    u32::try_from(v).map_err(|_| too_large(format!("{what} ({v}) does not fit in 32 bits")))
}

/// Bump allocator of continuation areas (an area never crosses a sector).
#[derive(Default)]
pub(crate) struct CeAlloc {
    pub(crate) next: u64,
}

impl CeAlloc {
    fn alloc(&mut self, len: u64) -> u64 {
        if self.next % SECTOR + len > SECTOR {
            self.next = self.next.div_ceil(SECTOR) * SECTOR;
        }
        let at = self.next;
        self.next += len;
        at
    }
}

/// Where continuation areas go in the writing pass.
pub(crate) struct CeOut<'a> {
    pub(crate) base: u32,
    pub(crate) buf: &'a mut Vec<u8>,
}

pub(crate) fn both16(v: u16) -> [u8; 4] {
    let l = v.to_le_bytes();
    let b = v.to_be_bytes();
    [l[0], l[1], b[0], b[1]]
}

pub(crate) fn both32(v: u32) -> [u8; 8] {
    let l = v.to_le_bytes();
    let b = v.to_be_bytes();
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

/// Calendar date of `t` (seconds since 1970 UTC): year, month, day, hour, minute, second.
pub(crate) fn civil(t: i64) -> (i64, u8, u8, u8, u8, u8) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let h = secs / 3600;
    let mi = (secs / 60) % 60;
    let s = secs % 60;
    let n = |v: i64| u8::try_from(v).unwrap_or(0);
    (y, n(m), n(d), n(h), n(mi), n(s))
}

/// The 7-byte date of directory records and `TF`, in UTC, clamped to 1900..=2155.
pub(crate) fn date7(t: i64) -> [u8; 7] {
    let (y, m, d, h, mi, s) = civil(t);
    if y < 1900 {
        return [0, 1, 1, 0, 0, 0, 0];
    }
    if y > 2155 {
        return [255, 12, 31, 23, 59, 59, 0];
    }
    [u8::try_from(y - 1900).unwrap_or(255), m, d, h, mi, s, 0]
}

/// The 17-byte date of volume descriptors (`YYYYMMDDHHMMSScc` and a zero offset).
pub(crate) fn date17(t: i64) -> [u8; 17] {
    let (y, m, d, h, mi, s) = civil(t);
    let y = y.clamp(1, 9999);
    let txt = format!("{y:04}{m:02}{d:02}{h:02}{mi:02}{s:02}00");
    let mut o = [0u8; 17];
    for (dst, src) in o.iter_mut().zip(txt.bytes()) {
        *dst = src;
    }
    o
}

fn joliet_bytes(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_be_bytes()).collect()
}

impl Layout {
    pub(crate) fn compute(b: &IsoBuilder) -> Result<Layout, WriteError> {
        let sde = b.options.source_date_epoch;
        // Nodes, in path order.
        let mut nodes = vec![Node {
            name: String::new(),
            parent: 0,
            kind: Kind::Dir {
                children: Vec::new(),
                subdirs: 0,
            },
            meta: b.root,
            ino: 1,
        }];
        let mut by_path: HashMap<&str, usize> = HashMap::with_capacity(b.entries.len() + 1);
        by_path.insert("", 0);
        let n_contents = b.contents.len();
        let mut content_ino = vec![0u32; n_contents];
        let mut content_nlink = vec![0u32; n_contents];
        let mut content_order = Vec::with_capacity(n_contents);
        let mut next_ino: u32 = 2;
        for (path, entry) in &b.entries {
            let (parent_path, name) = path.rsplit_once('/').unwrap_or(("", path));
            let parent = *by_path
                .get(parent_path)
                .ok_or_else(|| WriteError::ParentMissing {
                    path: path.clone(),
                    parent: parent_path.into(),
                })?;
            let id = nodes.len();
            let (kind, meta, ino) = match entry {
                Entry::Dir(m) => {
                    by_path.insert(path, id);
                    let k = Kind::Dir {
                        children: Vec::new(),
                        subdirs: 0,
                    };
                    next_ino = next_ino.wrapping_add(1);
                    (k, *m, next_ino - 1)
                }
                Entry::Symlink { meta, target } => {
                    next_ino = next_ino.wrapping_add(1);
                    (
                        Kind::Symlink {
                            target: target.clone(),
                        },
                        *meta,
                        next_ino - 1,
                    )
                }
                Entry::File { meta, content } => {
                    let c = *content;
                    let slot = content_ino
                        .get_mut(c)
                        .ok_or_else(|| too_large("a file refers to a missing content"))?;
                    if *slot == 0 {
                        *slot = next_ino;
                        next_ino = next_ino.wrapping_add(1);
                        content_order.push((c, path.clone()));
                    }
                    if let Some(n) = content_nlink.get_mut(c) {
                        *n = n.saturating_add(1);
                    }
                    (Kind::File { content: c }, *meta, *slot)
                }
            };
            nodes.push(Node {
                name: name.to_string(),
                parent,
                kind,
                meta,
                ino,
            });
            let is_dir = matches!(entry, Entry::Dir(_));
            if let Some(Node {
                kind: Kind::Dir { children, subdirs },
                ..
            }) = nodes.get_mut(parent)
            {
                children.push(id);
                if is_dir {
                    *subdirs += 1;
                }
            }
        }
        if nodes.len() > u32::MAX as usize / 2 {
            return Err(too_large("too many entries"));
        }
        let volume_time = sde
            .or(b.options.volume_time)
            .unwrap_or_else(|| nodes.iter().map(|n| n.meta.mtime).max().unwrap_or(0));
        let sizes: Vec<u64> = b.contents.iter().map(|s| s.size()).collect();
        let mut l = Layout {
            nodes,
            primary: Tree::default(),
            joliet: None,
            content_lba: vec![0; n_contents],
            content_nlink,
            content_order,
            pt_lba: [0; 4],
            ce_bytes: Vec::new(),
            data_lba: 0,
            total_sectors: 0,
            volume_time,
            sde,
            sizes,
        };
        l.primary = l.names(false)?;
        if b.options.joliet {
            l.joliet = Some(l.names(true)?);
        }
        // Sizes: path tables, directories, continuation areas.
        let mut lba: u64 = 16 + 2 + u64::from(b.options.joliet);
        let mut pts = [0u32; 4];
        for (i, slot) in pts.iter_mut().enumerate() {
            let t = if i < 2 {
                Some(&l.primary)
            } else {
                l.joliet.as_ref()
            };
            if let Some(t) = t {
                *slot = to_u32(lba, "path table location")?;
                lba += sectors(u64::from(t.pt_size)).max(1);
            }
        }
        l.pt_lba = pts;
        // Each directory's continuation areas follow it: libarchive reads them only there
        // (right after the directory's extent), as genisoimage places them.
        let order = l.primary.order.clone();
        l.ce_bytes = vec![0; l.nodes.len()];
        for &d in &order {
            let mut ce = CeAlloc::default();
            let size = l.dir_bytes(d, &mut ce, None)?;
            set(&mut l.primary.size, d, to_u32(size, "directory size")?);
            set(&mut l.primary.lba, d, to_u32(lba, "directory location")?);
            set(&mut l.ce_bytes, d, ce.next);
            lba += sectors(size) + sectors(ce.next);
        }
        if let Some(mut j) = l.joliet.take() {
            for &d in &j.order {
                let size = l.joliet_dir_bytes(&j, d, None)?;
                set(&mut j.size, d, to_u32(size, "directory size")?);
                set(&mut j.lba, d, to_u32(lba, "directory location")?);
                lba += sectors(size);
            }
            l.joliet = Some(j);
        }
        l.data_lba = to_u32(lba, "file data location")?;
        for (c, _) in &l.content_order {
            let size = l.sizes.get(*c).copied().unwrap_or(0);
            if size > 0 {
                let at = to_u32(lba, "file data location")?;
                set(&mut l.content_lba, *c, at);
                lba += sectors(size);
            }
        }
        if lba > u64::from(u32::MAX) {
            return Err(too_large(format!("{lba} sectors (at most 2^32 - 1)")));
        }
        l.total_sectors = lba;
        Ok(l)
    }

    /// Names, record order, path table order and numbers of one namespace.
    fn names(&self, joliet: bool) -> Result<Tree, WriteError> {
        let n = self.nodes.len();
        let mut t = Tree {
            ids: vec![Vec::new(); n],
            sorted: vec![Vec::new(); n],
            order: Vec::new(),
            number: vec![0; n],
            lba: vec![0; n],
            size: vec![0; n],
            pt_size: 0,
        };
        for (d, node) in self.nodes.iter().enumerate() {
            let Kind::Dir { children, .. } = &node.kind else {
                continue;
            };
            // Children in Rock Ridge name order (the entries map is in path order, and a
            // path's order among siblings is its name's except around `/`: sort again).
            let mut kids: Vec<usize> = children
                .iter()
                .copied()
                .filter(|&c| {
                    !(joliet
                        && matches!(
                            self.nodes.get(c).map(|n| &n.kind),
                            Some(Kind::Symlink { .. })
                        ))
                })
                .collect();
            kids.sort_by(|&a, &b| self.name(a).cmp(self.name(b)));
            let ok = if joliet {
                let mut ids: Vec<Vec<u16>> =
                    kids.iter().map(|&c| names::joliet(self.name(c))).collect();
                let ok = names::unique(&mut ids, u16::from, names::JOLIET_MAX + 2);
                for (&c, id) in kids.iter().zip(ids) {
                    set(&mut t.ids, c, joliet_bytes(&id));
                }
                ok
            } else {
                let mut ids: Vec<Vec<u8>> = kids
                    .iter()
                    .map(|&c| names::primary(self.name(c), self.is_dir(c)))
                    .collect();
                let ok = names::unique(&mut ids, |b| b, 33);
                for (&c, id) in kids.iter().zip(ids) {
                    set(&mut t.ids, c, id);
                }
                ok
            };
            if !ok {
                return Err(too_large(format!(
                    "directory {:?}: more clashing names than counters",
                    self.path(d)
                )));
            }
            kids.sort_by(|&a, &b| t.ids[a].cmp(&t.ids[b]));
            set(&mut t.sorted, d, kids);
        }
        // Path table order: breadth first, children in identifier order.
        t.order.push(0);
        let mut i = 0;
        while let Some(&d) = t.order.get(i) {
            i += 1;
            let num = u16::try_from(i).map_err(|_| too_large("more than 65,535 directories"))?;
            set(&mut t.number, d, num);
            let kids: Vec<usize> = t.sorted[d]
                .iter()
                .copied()
                .filter(|&c| self.is_dir(c))
                .collect();
            t.order.extend(kids);
        }
        let mut pt: u64 = 0;
        for &d in &t.order {
            let idlen = if d == 0 { 1 } else { t.ids[d].len() as u64 };
            pt += 8 + idlen + idlen % 2;
        }
        t.pt_size = to_u32(pt, "path table size")?;
        Ok(t)
    }

    pub(crate) fn name(&self, n: usize) -> &str {
        self.nodes.get(n).map_or("", |n| n.name.as_str())
    }

    fn is_dir(&self, n: usize) -> bool {
        matches!(self.nodes.get(n).map(|n| &n.kind), Some(Kind::Dir { .. }))
    }

    /// The Rock Ridge path of node `n` (for messages).
    pub(crate) fn path(&self, mut n: usize) -> String {
        let mut parts = Vec::new();
        while n != 0 {
            parts.push(self.name(n));
            n = self.nodes.get(n).map_or(0, |x| x.parent);
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    fn meta(&self, n: usize) -> Meta {
        let m = self.nodes.get(n).map_or_else(Meta::default, |x| x.meta);
        match self.sde {
            Some(t) => m.at(t),
            None => m,
        }
    }

    /// The `PX`, `TF` (and `RR`) entries of node `n`.
    fn posix_entries(&self, n: usize, extra_rr: u8) -> Vec<Vec<u8>> {
        let Some(node) = self.nodes.get(n) else {
            return Vec::new();
        };
        let m = self.meta(n);
        let (ty, nlink) = match &node.kind {
            Kind::Dir { subdirs, .. } => (0o040000, subdirs.saturating_add(2)),
            Kind::File { content } => (
                0o100000,
                self.content_nlink.get(*content).copied().unwrap_or(1),
            ),
            Kind::Symlink { .. } => (0o120000, 1),
        };
        // `RR` (RRIP 1.09, which genisoimage still writes): PX and TF present, plus NM/SL.
        let rr = vec![b'R', b'R', 5, 1, 0x81 | extra_rr];
        let mut px = vec![b'P', b'X', 44, 1];
        px.extend_from_slice(&both32(ty | (m.mode & 0o7777)));
        px.extend_from_slice(&both32(nlink));
        px.extend_from_slice(&both32(m.uid));
        px.extend_from_slice(&both32(m.gid));
        px.extend_from_slice(&both32(node.ino));
        let mut tf = vec![b'T', b'F', 26, 1, 0x0E];
        tf.extend_from_slice(&date7(m.mtime));
        tf.extend_from_slice(&date7(m.atime));
        tf.extend_from_slice(&date7(m.ctime));
        vec![rr, px, tf]
    }

    /// The system use entries of the record of child `n`.
    fn child_entries(&self, n: usize) -> Vec<Vec<u8>> {
        let sl = match self.nodes.get(n).map(|x| &x.kind) {
            Some(Kind::Symlink { target }) => Some(sl_entries(target)),
            _ => None,
        };
        let mut v = self.posix_entries(n, 0x08 | if sl.is_some() { 0x04 } else { 0 });
        // NM, split in pieces of 250 bytes (CONTINUE on all but the last).
        let name = self.name(n).as_bytes();
        let mut chunks = name.chunks(250).peekable();
        while let Some(c) = chunks.next() {
            let mut nm = vec![b'N', b'M', (5 + c.len()) as u8, 1];
            nm.push(u8::from(chunks.peek().is_some()));
            nm.extend_from_slice(c);
            v.push(nm);
        }
        if let Some(sl) = sl {
            v.extend(sl);
        }
        v
    }

    /// The bytes of a primary directory (with `out`), or only its size; continuation areas
    /// are allocated from `ce` (and written into `ce_out` when given).
    pub(crate) fn dir_bytes(
        &self,
        d: usize,
        ce: &mut CeAlloc,
        mut out: Option<(&mut Vec<u8>, &mut CeOut<'_>)>,
    ) -> Result<u64, WriteError> {
        let t = &self.primary;
        let parent = self.nodes.get(d).map_or(0, |n| n.parent);
        let mut buf = Vec::new();
        let mut dir = DirBuf::default();
        // `.` and `..`.
        for (id, who) in [(0u8, d), (1u8, parent)] {
            let mut e = self.posix_entries(who, 0);
            if d == 0 && id == 0 {
                e.insert(0, vec![b'S', b'P', 7, 1, 0xBE, 0xEF, 0]);
                e.push(er_entry());
            }
            let su = place(e, 255 - 34, ce, out.as_mut().map(|o| &mut *o.1));
            let m = self.meta(who);
            rec(
                &mut buf,
                &[id],
                t.lba.get(who).copied().unwrap_or(0),
                u64::from(t.size.get(who).copied().unwrap_or(0)),
                0x02,
                m.mtime,
                &su,
            );
            dir.push(&buf, out.as_mut().map(|o| &mut *o.0));
            buf.clear();
        }
        for &c in t.sorted.get(d).map(Vec::as_slice).unwrap_or(&[]) {
            let id = t.ids.get(c).map(Vec::as_slice).unwrap_or(&[]);
            let cap = 255 - (33 + id.len() + (id.len() + 1) % 2);
            let m = self.meta(c);
            match self.nodes.get(c).map(|n| &n.kind) {
                Some(Kind::Dir { .. }) => {
                    let su = place(
                        self.child_entries(c),
                        cap,
                        ce,
                        out.as_mut().map(|o| &mut *o.1),
                    );
                    let (lba, size) = (t.lba[c], u64::from(t.size[c]));
                    rec(&mut buf, id, lba, size, 0x02, m.mtime, &su);
                    dir.push(&buf, out.as_mut().map(|o| &mut *o.0));
                    buf.clear();
                }
                Some(Kind::Symlink { .. }) => {
                    let su = place(
                        self.child_entries(c),
                        cap,
                        ce,
                        out.as_mut().map(|o| &mut *o.1),
                    );
                    rec(&mut buf, id, 0, 0, 0, m.mtime, &su);
                    dir.push(&buf, out.as_mut().map(|o| &mut *o.0));
                    buf.clear();
                }
                Some(Kind::File { content }) => {
                    for (lba, size, flags) in self.parts(*content) {
                        let su = place(
                            self.child_entries(c),
                            cap,
                            ce,
                            out.as_mut().map(|o| &mut *o.1),
                        );
                        rec(&mut buf, id, lba, size, flags, m.mtime, &su);
                        dir.push(&buf, out.as_mut().map(|o| &mut *o.0));
                        buf.clear();
                    }
                }
                None => {}
            }
        }
        Ok(dir.finish(out.map(|o| o.0)))
    }

    /// The extents of a content: (lba, size, flags) per part (multi-extent when 4 GiB or
    /// more).
    fn parts(&self, content: usize) -> Vec<(u32, u64, u8)> {
        let size = self.sizes.get(content).copied().unwrap_or(0);
        let lba = self.content_lba.get(content).copied().unwrap_or(0);
        if size <= u64::from(u32::MAX) {
            return vec![(lba, size, 0)];
        }
        let mut v = Vec::new();
        let mut off = 0u64;
        while off < size {
            let n = (size - off).min(MAX_EXTENT);
            let last = off + n >= size;
            let at = u64::from(lba) + off / SECTOR;
            v.push((
                u32::try_from(at).unwrap_or(u32::MAX),
                n,
                if last { 0 } else { 0x80 },
            ));
            off += n;
        }
        v
    }

    /// The bytes of a Joliet directory (with `out`), or only its size.
    pub(crate) fn joliet_dir_bytes(
        &self,
        t: &Tree,
        d: usize,
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<u64, WriteError> {
        let parent = self.nodes.get(d).map_or(0, |n| n.parent);
        let mut buf = Vec::new();
        let mut dir = DirBuf::default();
        for (id, who) in [(0u8, d), (1u8, parent)] {
            let m = self.meta(who);
            let (lba, size) = (t.lba[who], u64::from(t.size[who]));
            rec(&mut buf, &[id], lba, size, 0x02, m.mtime, &[]);
            dir.push(&buf, out.as_deref_mut());
            buf.clear();
        }
        for &c in t.sorted.get(d).map(Vec::as_slice).unwrap_or(&[]) {
            let id = t.ids.get(c).map(Vec::as_slice).unwrap_or(&[]);
            let m = self.meta(c);
            match self.nodes.get(c).map(|n| &n.kind) {
                Some(Kind::Dir { .. }) => {
                    let (lba, size) = (t.lba[c], u64::from(t.size[c]));
                    rec(&mut buf, id, lba, size, 0x02, m.mtime, &[]);
                    dir.push(&buf, out.as_deref_mut());
                    buf.clear();
                }
                Some(Kind::File { content }) => {
                    for (lba, size, flags) in self.parts(*content) {
                        rec(&mut buf, id, lba, size, flags, m.mtime, &[]);
                        dir.push(&buf, out.as_deref_mut());
                        buf.clear();
                    }
                }
                _ => {}
            }
        }
        Ok(dir.finish(out))
    }

    /// A path table (`msb`: the M table, big-endian).
    pub(crate) fn path_table(&self, t: &Tree, msb: bool) -> Vec<u8> {
        let mut v = Vec::with_capacity(t.pt_size as usize);
        for &d in &t.order {
            let root = [0u8];
            let id: &[u8] = if d == 0 { &root } else { &t.ids[d] };
            let parent = self.nodes.get(d).map_or(0, |n| n.parent);
            let pnum = t.number.get(parent).copied().unwrap_or(1);
            let lba = t.lba.get(d).copied().unwrap_or(0);
            v.push(id.len() as u8);
            v.push(0);
            if msb {
                v.extend_from_slice(&lba.to_be_bytes());
                v.extend_from_slice(&pnum.to_be_bytes());
            } else {
                v.extend_from_slice(&lba.to_le_bytes());
                v.extend_from_slice(&pnum.to_le_bytes());
            }
            v.extend_from_slice(id);
            if id.len() % 2 == 1 {
                v.push(0);
            }
        }
        v
    }

    /// The root's directory record (for the volume descriptors).
    pub(crate) fn root_record(&self, joliet: bool) -> Vec<u8> {
        let t = if joliet {
            self.joliet.as_ref().unwrap_or(&self.primary)
        } else {
            &self.primary
        };
        let mut v = Vec::new();
        rec(
            &mut v,
            &[0],
            t.lba.first().copied().unwrap_or(0),
            u64::from(t.size.first().copied().unwrap_or(0)),
            0x02,
            self.meta(0).mtime,
            &[],
        );
        v
    }
}

fn set<T>(v: &mut [T], i: usize, x: T) {
    if let Some(s) = v.get_mut(i) {
        *s = x;
    }
}

fn er_entry() -> Vec<u8> {
    let mut er = vec![
        b'E',
        b'R',
        (8 + ER_ID.len() + ER_DES.len() + ER_SRC.len()) as u8,
        1,
        ER_ID.len() as u8,
        ER_DES.len() as u8,
        ER_SRC.len() as u8,
        1,
    ];
    er.extend_from_slice(ER_ID);
    er.extend_from_slice(ER_DES);
    er.extend_from_slice(ER_SRC);
    er
}

/// The `SL` entries of a symlink target: components (root, `.`, `..`, names), packed into
/// entries of at most 255 bytes, each but the last with the entry CONTINUE flag. Empty
/// components (`//`, a trailing `/`) are dropped, as genisoimage and xorriso do.
///
/// An entry ends inside a name component (the piece has the component CONTINUE flag, the
/// rest opens the next entry) whenever the entry holds a name to split: libarchive starts
/// each `SL` entry without a separator, so an entry opening with a new component would lose
/// the `/` before it. (Only a run of more than 125 `.`/`..` components has no name to split.)
fn sl_entries(target: &str) -> Vec<Vec<u8>> {
    const CAP: usize = 250;
    // (component flags, bytes): 0x08 root, 0x02 `.`, 0x04 `..`, 0 a name (0x01: continues).
    let mut queue: std::collections::VecDeque<(u8, &[u8])> = std::collections::VecDeque::new();
    let rest = match target.strip_prefix('/') {
        Some(r) => {
            queue.push_back((0x08, &[]));
            r
        }
        None => target,
    };
    for c in rest.split('/') {
        match c {
            "" => {}
            "." => queue.push_back((0x02, &[])),
            ".." => queue.push_back((0x04, &[])),
            c => queue.push_back((0, c.as_bytes())),
        }
    }
    if queue.is_empty() {
        queue.push_back((0x02, &[]));
    }
    let size = |recs: &[(u8, &[u8])]| recs.iter().map(|r| 2 + r.1.len()).sum::<usize>();
    let mut entries: Vec<Vec<(u8, &[u8])>> = Vec::new();
    let mut cur: Vec<(u8, &[u8])> = Vec::new();
    while let Some((kind, data)) = queue.pop_front() {
        let room = CAP - size(&cur);
        let n = data.len();
        if 2 + n <= room && n <= 255 {
            cur.push((kind, data));
            continue;
        }
        if kind == 0 && room >= 3 {
            // Split this name here: as much as fits, the rest opens the next entry.
            let k = (room - 2).min(255).min(n.saturating_sub(1)).max(1);
            cur.push((0x01, &data[..k]));
            entries.push(std::mem::take(&mut cur));
            queue.push_front((0, &data[k..]));
            continue;
        }
        queue.push_front((kind, data));
        if cur.is_empty() {
            // Not reached (an empty entry has room for any first piece); keeps the loop
            // finite.
            let (k, d) = queue.pop_front().unwrap_or((0x02, &[]));
            cur.push((k, &d[..d.len().min(248)]));
            continue;
        }
        // The entry is full: end it inside its last name, moving that name's last byte and
        // what follows it to the next entry.
        if let Some(j) = cur.iter().rposition(|r| r.0 == 0 && r.1.len() >= 2) {
            let moved: Vec<(u8, &[u8])> = cur.drain(j + 1..).collect();
            let (_, name) = cur[j];
            let k = name.len() - 1;
            cur[j] = (0x01, &name[..k]);
            for r in moved.into_iter().rev() {
                queue.push_front(r);
            }
            queue.push_front((0, &name[k..]));
        }
        entries.push(std::mem::take(&mut cur));
    }
    if !cur.is_empty() {
        entries.push(cur);
    }
    let n = entries.len();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, recs)| {
            let mut e = vec![b'S', b'L', (5 + size(&recs)) as u8, 1, u8::from(i + 1 < n)];
            for (flags, data) in recs {
                e.push(flags);
                e.push(data.len() as u8);
                e.extend_from_slice(data);
            }
            e
        })
        .collect()
}

fn ce_entry(block: u32, offset: u32, len: u32) -> Vec<u8> {
    let mut v = vec![b'C', b'E', 28, 1];
    v.extend_from_slice(&both32(block));
    v.extend_from_slice(&both32(offset));
    v.extend_from_slice(&both32(len));
    v
}

/// Lays out system use entries: all in the record when they fit in `cap` bytes, else as
/// many as fit with a `CE`, the rest in continuation areas (chained when over a sector).
/// Returns the record's part; writes the areas into `out` when given.
fn place(
    entries: Vec<Vec<u8>>,
    cap: usize,
    ce: &mut CeAlloc,
    out: Option<&mut CeOut<'_>>,
) -> Vec<u8> {
    let total: usize = entries.iter().map(Vec::len).sum();
    if total <= cap {
        return entries.concat();
    }
    let mut it = entries.into_iter().peekable();
    let mut inline = Vec::new();
    while let Some(e) = it.peek() {
        if inline.len() + e.len() + 28 > cap {
            break;
        }
        inline.extend_from_slice(e);
        it.next();
    }
    let rest: Vec<Vec<u8>> = it.collect();
    // Split the rest into areas.
    let mut areas: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let remaining: usize = rest[i..].iter().map(Vec::len).sum();
        let mut area = Vec::new();
        if remaining <= SECTOR as usize {
            area.extend(rest[i..].iter().cloned());
            i = rest.len();
        } else {
            let mut len = 0;
            while i < rest.len() && len + rest[i].len() + 28 <= SECTOR as usize {
                len += rest[i].len();
                area.push(rest[i].clone());
                i += 1;
            }
        }
        areas.push(area);
    }
    let lens: Vec<u64> = areas
        .iter()
        .enumerate()
        .map(|(k, a)| {
            a.iter().map(|e| e.len() as u64).sum::<u64>() + if k + 1 < areas.len() { 28 } else { 0 }
        })
        .collect();
    let offs: Vec<u64> = lens.iter().map(|&l| ce.alloc(l)).collect();
    let base = out.as_ref().map_or(0, |o| o.base);
    let pointer = |k: usize| {
        let off = offs[k];
        let block = base.saturating_add(u32::try_from(off / SECTOR).unwrap_or(u32::MAX));
        ce_entry(block, (off % SECTOR) as u32, lens[k] as u32)
    };
    inline.extend_from_slice(&pointer(0));
    if let Some(o) = out {
        for (k, a) in areas.iter().enumerate() {
            let mut bytes = a.concat();
            if k + 1 < areas.len() {
                bytes.extend_from_slice(&pointer(k + 1));
            }
            let at = offs[k] as usize;
            if o.buf.len() < at + bytes.len() {
                o.buf.resize(at + bytes.len(), 0);
            }
            o.buf[at..at + bytes.len()].copy_from_slice(&bytes);
        }
    }
    inline
}

/// Appends one directory record to `buf`.
fn rec(buf: &mut Vec<u8>, id: &[u8], lba: u32, size: u64, flags: u8, mtime: i64, su: &[u8]) {
    let pad = (id.len() + 1) % 2;
    let len = 33 + id.len() + pad + su.len();
    buf.push(len.min(255) as u8);
    buf.push(0);
    buf.extend_from_slice(&both32(lba));
    buf.extend_from_slice(&both32(u32::try_from(size).unwrap_or(u32::MAX)));
    buf.extend_from_slice(&date7(mtime));
    buf.push(flags);
    buf.push(0);
    buf.push(0);
    buf.extend_from_slice(&both16(1));
    buf.push(id.len() as u8);
    buf.extend_from_slice(id);
    if pad == 1 {
        buf.push(0);
    }
    buf.extend_from_slice(su);
}

/// Records placed in sectors (a record never crosses one).
#[derive(Default)]
struct DirBuf {
    len: u64,
}

impl DirBuf {
    fn push(&mut self, rec: &[u8], out: Option<&mut Vec<u8>>) {
        let r = rec.len() as u64;
        if self.len % SECTOR + r > SECTOR {
            let pad = SECTOR - self.len % SECTOR;
            self.len += pad;
            if let Some(o) = out {
                o.resize(o.len() + pad as usize, 0);
                o.extend_from_slice(rec);
            }
        } else if let Some(o) = out {
            o.extend_from_slice(rec);
        }
        self.len += r;
    }

    fn finish(&self, out: Option<&mut Vec<u8>>) -> u64 {
        let size = self.len.div_ceil(SECTOR).max(1) * SECTOR;
        if let Some(o) = out {
            o.resize(size as usize, 0);
        }
        size
    }
}
