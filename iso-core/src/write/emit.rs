//! The writing pass: system area, volume descriptors, path tables, directories,
//! continuation areas and file data, in that order, through one large buffer.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::layout::{both16, both32, date17, CeAlloc, CeOut, Layout};
use super::{IsoBuilder, Progress, Source, WriteError, WriteOptions, SECTOR};

const BUF: usize = 1 << 20;
/// How often (bytes) progress is reported within one large file.
const REPORT_EVERY: u64 = 8 << 20;

struct Out<'a> {
    w: BufWriter<Box<dyn Write + 'a>>,
    file: Option<&'a File>,
    pos: u64,
    total: u64,
    progress: Option<Progress>,
    last_report: u64,
}

impl Out<'_> {
    fn err(&self, source: io::Error) -> WriteError {
        WriteError::Output {
            offset: self.pos,
            error: source,
        }
    }

    fn put(&mut self, b: &[u8]) -> Result<(), WriteError> {
        match self.w.write_all(b) {
            Ok(()) => {
                self.pos += b.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.err(e)),
        }
    }

    fn zeros(&mut self, mut n: u64) -> Result<(), WriteError> {
        const Z: [u8; 4096] = [0; 4096];
        while n > 0 {
            let k = n.min(Z.len() as u64) as usize;
            self.put(&Z[..k])?;
            n -= k as u64;
        }
        Ok(())
    }

    fn pad_sector(&mut self) -> Result<(), WriteError> {
        let r = self.pos % SECTOR;
        if r != 0 {
            self.zeros(SECTOR - r)?;
        }
        Ok(())
    }

    fn report(&mut self, force: bool) {
        if force || self.pos - self.last_report >= REPORT_EVERY {
            self.last_report = self.pos;
            if let Some(p) = self.progress.as_mut() {
                p(self.pos, self.total);
            }
        }
    }
}

fn check_id(field: &'static str, v: &str, max: usize) -> Result<(), WriteError> {
    if v.len() > max {
        return Err(WriteError::InvalidOption {
            field,
            reason: format!("{} bytes, at most {max}", v.len()),
        });
    }
    if !v.bytes().all(|c| (0x20..0x7f).contains(&c)) {
        return Err(WriteError::InvalidOption {
            field,
            reason: format!("{v:?}: only printable ASCII is allowed"),
        });
    }
    Ok(())
}

fn check_options(o: &WriteOptions) -> Result<(), WriteError> {
    check_id("volume_id", &o.volume_id, 32)?;
    check_id("system_id", &o.system_id, 32)?;
    check_id("volume_set_id", &o.volume_set_id, 128)?;
    check_id("publisher", &o.publisher, 128)?;
    check_id("data_preparer", &o.data_preparer, 128)?;
    check_id("application_id", &o.application_id, 128)
}

/// `s` in a field of `len` bytes, padded with spaces (ASCII) or UCS-2 spaces (Joliet, cut
/// to fit).
fn field(v: &mut [u8], at: usize, len: usize, s: &str, joliet: bool) {
    let Some(f) = v.get_mut(at..at + len) else {
        return;
    };
    if joliet {
        for pair in f.chunks_mut(2) {
            pair.copy_from_slice(&[0, b' '][..pair.len()]);
        }
        for (pair, u) in f.chunks_mut(2).zip(s.encode_utf16()) {
            if pair.len() == 2 {
                pair.copy_from_slice(&u.to_be_bytes());
            }
        }
    } else {
        f.fill(b' ');
        for (d, c) in f.iter_mut().zip(s.bytes()) {
            *d = c;
        }
    }
}

fn put(v: &mut [u8], at: usize, b: &[u8]) {
    if let Some(d) = v.get_mut(at..at + b.len()) {
        d.copy_from_slice(b);
    }
}

fn volume_descriptor(l: &Layout, o: &WriteOptions, joliet: bool) -> Vec<u8> {
    let mut v = vec![0u8; SECTOR as usize];
    v[0] = if joliet { 2 } else { 1 };
    put(&mut v, 1, b"CD001");
    v[6] = 1;
    let t = if joliet {
        l.joliet.as_ref().unwrap_or(&l.primary)
    } else {
        &l.primary
    };
    field(&mut v, 8, 32, &o.system_id, joliet);
    field(&mut v, 40, 32, &o.volume_id, joliet);
    put(
        &mut v,
        80,
        &both32(u32::try_from(l.total_sectors).unwrap_or(u32::MAX)),
    );
    if joliet {
        put(&mut v, 88, b"%/E");
    }
    put(&mut v, 120, &both16(1));
    put(&mut v, 124, &both16(1));
    put(&mut v, 128, &both16(SECTOR as u16));
    put(&mut v, 132, &both32(t.pt_size));
    let (lt, mt) = if joliet {
        (l.pt_lba[2], l.pt_lba[3])
    } else {
        (l.pt_lba[0], l.pt_lba[1])
    };
    put(&mut v, 140, &lt.to_le_bytes());
    put(&mut v, 148, &mt.to_be_bytes());
    put(&mut v, 156, &l.root_record(joliet));
    field(&mut v, 190, 128, &o.volume_set_id, joliet);
    field(&mut v, 318, 128, &o.publisher, joliet);
    field(&mut v, 446, 128, &o.data_preparer, joliet);
    field(&mut v, 574, 128, &o.application_id, joliet);
    field(&mut v, 702, 37, "", joliet);
    field(&mut v, 739, 37, "", joliet);
    field(&mut v, 776, 37, "", joliet);
    let d = date17(l.volume_time);
    put(&mut v, 813, &d);
    put(&mut v, 830, &d);
    let mut none = [b'0'; 17];
    none[16] = 0;
    put(&mut v, 847, &none);
    put(&mut v, 864, &none);
    v[881] = 1;
    v
}

pub(crate) fn write(
    b: IsoBuilder,
    out: &mut dyn Write,
    file: Option<&File>,
    layout: Option<Layout>,
) -> Result<u64, WriteError> {
    check_options(&b.options)?;
    let l = match layout {
        Some(l) => l,
        None => Layout::compute(&b)?,
    };
    let IsoBuilder {
        options,
        mut contents,
        progress,
        ..
    } = b;
    let total = l.total_sectors * SECTOR;
    let mut o = Out {
        w: BufWriter::with_capacity(BUF, Box::new(out)),
        file,
        pos: 0,
        total,
        progress,
        last_report: 0,
    };
    o.report(true);
    o.zeros(16 * SECTOR)?;
    o.put(&volume_descriptor(&l, &options, false))?;
    if l.joliet.is_some() {
        o.put(&volume_descriptor(&l, &options, true))?;
    }
    let mut term = vec![0u8; SECTOR as usize];
    term[0] = 255;
    put(&mut term, 1, b"CD001");
    term[6] = 1;
    o.put(&term)?;
    for (i, msb) in [(0, false), (1, true), (2, false), (3, true)] {
        let t = if i < 2 {
            Some(&l.primary)
        } else {
            l.joliet.as_ref()
        };
        if let Some(t) = t {
            expect_at(&o, l.pt_lba[i])?;
            o.put(&l.path_table(t, msb))?;
            if t.pt_size == 0 {
                o.zeros(SECTOR)?;
            }
            o.pad_sector()?;
        }
    }
    let mut ce_buf = Vec::new();
    let mut buf = Vec::new();
    for &d in &l.primary.order {
        expect_at(&o, l.primary.lba[d])?;
        buf.clear();
        ce_buf.clear();
        let size = u64::from(l.primary.size[d]);
        let mut ce_out = CeOut {
            base: l.primary.lba[d].saturating_add((size / SECTOR) as u32),
            buf: &mut ce_buf,
        };
        l.dir_bytes(d, &mut CeAlloc::default(), Some((&mut buf, &mut ce_out)))?;
        o.put(&buf)?;
        let ce = l.ce_bytes.get(d).copied().unwrap_or(0);
        ce_buf.resize(ce.div_ceil(SECTOR) as usize * SECTOR as usize, 0);
        o.put(&ce_buf)?;
    }
    if let Some(j) = &l.joliet {
        for &d in &j.order {
            expect_at(&o, j.lba[d])?;
            buf.clear();
            l.joliet_dir_bytes(j, d, Some(&mut buf))?;
            o.put(&buf)?;
        }
    }
    o.report(true);
    let mut copy_buf = Vec::new();
    for (c, path) in &l.content_order {
        let size = l.sizes.get(*c).copied().unwrap_or(0);
        if size == 0 {
            continue;
        }
        expect_at(&o, l.content_lba[*c])?;
        let Some(src) = contents.get_mut(*c) else {
            continue;
        };
        let src = std::mem::replace(src, Source::Bytes(Default::default()));
        copy_source(&mut o, src, size, path, &mut copy_buf)?;
        o.pad_sector()?;
        o.report(false);
    }
    if o.pos != total {
        return Err(o.err(io::Error::other(format!(
            "internal: {} bytes written, the layout says {total}",
            o.pos
        ))));
    }
    o.w.flush().map_err(|e| o.err(e))?;
    o.report(true);
    Ok(o.pos)
}

fn expect_at(o: &Out<'_>, lba: u32) -> Result<(), WriteError> {
    if o.pos != u64::from(lba) * SECTOR {
        return Err(o.err(io::Error::other(format!(
            "internal: at byte {}, the layout says sector {lba}",
            o.pos
        ))));
    }
    Ok(())
}

/// Refuses more bytes than declared, and counts them.
struct Limited<'a, 'b> {
    o: &'a mut Out<'b>,
    left: u64,
    over: bool,
}

impl Write for Limited<'_, '_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if b.len() as u64 > self.left {
            self.over = true;
            return Err(io::Error::other(
                "the source wrote more than its declared size",
            ));
        }
        self.o.w.write_all(b)?;
        self.o.pos += b.len() as u64;
        self.left -= b.len() as u64;
        self.o.report(false);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn copy_source(
    o: &mut Out<'_>,
    src: Source,
    size: u64,
    path: &str,
    buf: &mut Vec<u8>,
) -> Result<(), WriteError> {
    let changed = |actual| WriteError::SourceChanged {
        path: format!("/{path}"),
        expected: size,
        actual,
    };
    match src {
        Source::Bytes(b) => o.put(&b),
        Source::Writer { mut write, .. } => {
            let start = o.pos;
            let mut lim = Limited {
                o,
                left: size,
                over: false,
            };
            let r = write(&mut lim);
            let over = lim.over;
            let got = o.pos - start;
            if over {
                return Err(changed(size + 1));
            }
            r.map_err(|source| WriteError::Io {
                path: PathBuf::from(format!("/{path}")),
                op: "writer source",
                error: source,
            })?;
            if got != size {
                return Err(changed(got));
            }
            Ok(())
        }
        Source::File { path: disk, .. } => copy_file(o, &disk, size, buf, changed),
    }
}

fn open_nofollow(p: &Path) -> io::Result<File> {
    let mut oo = std::fs::OpenOptions::new();
    oo.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        oo.custom_flags(libc::O_NOFOLLOW);
    }
    oo.open(p)
}

fn copy_file(
    o: &mut Out<'_>,
    disk: &Path,
    size: u64,
    buf: &mut Vec<u8>,
    changed: impl Fn(u64) -> WriteError,
) -> Result<(), WriteError> {
    let io = |op| {
        move |source| WriteError::Io {
            path: disk.to_path_buf(),
            op,
            error: source,
        }
    };
    let mut f = open_nofollow(disk).map_err(io("open"))?;
    let md = f.metadata().map_err(io("fstat"))?;
    if !md.is_file() {
        return Err(WriteError::Unsupported {
            path: disk.into(),
            kind: "non-regular file",
        });
    }
    if md.len() != size {
        return Err(changed(md.len()));
    }
    let mut copied = 0u64;
    #[cfg(target_os = "linux")]
    if let Some(out_file) = o.file {
        o.w.flush().map_err(|e| o.err(e))?;
        while copied < size {
            let want = (size - copied).min(1 << 30) as usize;
            match rustix::fs::copy_file_range(&f, None, out_file, None, want) {
                Ok(0) => return Err(changed(copied)),
                Ok(n) => {
                    copied += n as u64;
                    o.pos += n as u64;
                    o.report(false);
                }
                Err(_) if copied == 0 => break,
                Err(e) => return Err(io("copy_file_range")(e.into())),
            }
        }
    }
    if copied < size {
        if buf.len() < BUF {
            buf.resize(BUF, 0);
        }
        while copied < size {
            let want = (size - copied).min(buf.len() as u64) as usize;
            let n = match f.read(&mut buf[..want]) {
                Ok(0) => return Err(changed(copied)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("read")(e)),
            };
            o.put(&buf[..n])?;
            copied += n as u64;
            o.report(false);
        }
    }
    let now = f.metadata().map_err(io("fstat"))?.len();
    if now != size {
        return Err(changed(now));
    }
    Ok(())
}

pub(crate) fn write_file(b: IsoBuilder, path: &Path) -> Result<u64, WriteError> {
    let io = |p: &Path, op| {
        let p = p.to_path_buf();
        move |source| WriteError::Io {
            path: p,
            op,
            error: source,
        }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| WriteError::Io {
            path: path.into(),
            op: "output name",
            error: io::Error::new(io::ErrorKind::InvalidInput, "no file name"),
        })?
        .to_string_lossy()
        .into_owned();
    let (tmp, file) = {
        let mut k = 0u32;
        loop {
            let t = dir.join(format!(".{name}.{}.{k}.tmp", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&t)
            {
                Ok(f) => break (t, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && k < 1000 => k += 1,
                Err(e) => return Err(io(&t, "create")(e)),
            }
        }
    };
    let result = (|| {
        check_options(&b.options)?;
        let layout = Layout::compute(&b)?;
        #[cfg(target_os = "linux")]
        {
            // Best effort: one contiguous allocation, and ENOSPC before anything is copied.
            let size = layout.total_sectors * SECTOR;
            if let Err(e) =
                rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size)
            {
                if e == rustix::io::Errno::NOSPC {
                    return Err(io(&tmp, "fallocate")(e.into()));
                }
            }
        }
        let mut w = &file;
        let n = write(b, &mut w, Some(&file), Some(layout))?;
        std::fs::rename(&tmp, path).map_err(io(path, "rename"))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
