//! The UDF tree of an image (`namespace="udf"`): walk, listdir, stat, read, as for the
//! ISO 9660 trees, through `iso_core::udf` (contents are slices of the mapping; `read`
//! copies them into one `bytes`).

use iso_core::udf::{UdfEntry, UdfVolume};
use iso_core::{EntryKind, Error, ErrorKind};

use crate::entries::Entry;
use crate::{components, NotFile};

/// The UDF volume of `img`, or the error `ls -n udf` gives on an image without one.
pub(crate) fn volume<'d>(img: &iso_core::Image<'d>) -> Result<UdfVolume<'d>, NotFile> {
    img.udf()?
        .ok_or_else(|| NotFile::Iso(Error::new(ErrorKind::NoNamespace(iso_core::Namespace::Udf))))
}

fn target(v: &UdfVolume<'_>, e: &UdfEntry) -> Option<String> {
    e.is_symlink().then(|| v.symlink_target(e).ok()).flatten()
}

/// The entry at `path` (cleaned), as an `Entry`.
pub(crate) fn stat(img: &iso_core::Image<'_>, path: &str) -> Result<Entry, NotFile> {
    let v = volume(img)?;
    let clean = components(path).join("/");
    let e = v.lookup(&clean)?;
    Ok(Entry::from_udf(&clean, &e, target(&v, &e)))
}

/// Every entry below `path`, parents first, as the walk gives them.
pub(crate) fn walk(img: &iso_core::Image<'_>, path: &str) -> Result<Vec<Entry>, NotFile> {
    let v = volume(img)?;
    let prefix = components(path).join("/");
    if !prefix.is_empty() && !v.lookup(&prefix)?.is_dir() {
        return Err(NotFile::Iso(
            Error::new(ErrorKind::NotADirectory).with_path(prefix),
        ));
    }
    let mut out = Vec::new();
    for item in v.walk()? {
        let w = item?;
        let below = prefix.is_empty()
            || w.path
                .strip_prefix(prefix.as_str())
                .is_some_and(|r| r.starts_with('/'));
        if below {
            out.push(Entry::from_udf(&w.path, &w.entry, target(&v, &w.entry)));
        }
    }
    Ok(out)
}

/// The names in directory `path`.
pub(crate) fn listdir(img: &iso_core::Image<'_>, path: &str) -> Result<Vec<String>, NotFile> {
    let v = volume(img)?;
    let clean = components(path).join("/");
    let dir = v.lookup(&clean)?;
    if !dir.is_dir() {
        return Err(NotFile::Iso(
            Error::new(ErrorKind::NotADirectory).with_path(clean),
        ));
    }
    let mut names = Vec::new();
    for e in v.read_dir(&dir)? {
        names.push(e?.name);
    }
    Ok(names)
}

/// The bytes of the regular file at `path`.
pub(crate) fn read(img: &iso_core::Image<'_>, path: &str) -> Result<Vec<u8>, NotFile> {
    let v = volume(img)?;
    let clean = components(path).join("/");
    let e = v.lookup(&clean)?;
    check_file(&e, &clean)?;
    Ok(v.contents(&e)?.to_vec())
}

/// SHA-256 of a UDF file's parts (zero runs fed as zeros, in 64 KiB pieces).
fn hash_parts(parts: &[iso_core::udf::UdfPart<'_>]) -> [u8; 32] {
    use iso_core::sha256x2::State;
    static ZEROS: [u8; 65536] = [0; 65536];
    let mut st = State::new();
    let mut carry: Vec<u8> = Vec::with_capacity(64);
    let mut feed = |mut d: &[u8]| {
        if !carry.is_empty() {
            let take = (64 - carry.len()).min(d.len());
            carry.extend_from_slice(&d[..take]);
            d = &d[take..];
            if carry.len() == 64 {
                st.update_blocks(&carry);
                carry.clear();
            }
        }
        let n = st.update_blocks(d);
        carry.extend_from_slice(&d[n..]);
    };
    for p in parts {
        match p {
            iso_core::udf::UdfPart::Data(d) => feed(d),
            iso_core::udf::UdfPart::Zeros(n) => {
                let mut left = *n;
                while left > 0 {
                    let k = left.min(ZEROS.len() as u64) as usize;
                    feed(&ZEROS[..k]);
                    left -= k as u64;
                }
            }
        }
    }
    st.finish(&carry)
}

/// `sha256_all` in the UDF tree: every regular file (each path of a hard link), or the files
/// at `paths`, hashed one after the other.
pub(crate) fn sha256_all(
    img: &iso_core::Image<'_>,
    paths: Option<&[String]>,
) -> Result<Vec<(String, [u8; 32])>, NotFile> {
    let v = volume(img)?;
    let mut out = Vec::new();
    each_file(&v, paths, |key, _clean, e| {
        out.push((key, hash_parts(v.contents(e)?.parts())));
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f(key, clean path, entry)` for every regular file of the UDF tree (walk order, each
/// path of a hard link; the key is the path), or for the files at `paths` in the order given
/// (the key is the path as given). The first error, of a lookup, the walk or `f`, ends it.
fn each_file(
    v: &UdfVolume<'_>,
    paths: Option<&[String]>,
    mut f: impl FnMut(String, String, &UdfEntry) -> Result<(), NotFile>,
) -> Result<(), NotFile> {
    match paths {
        Some(paths) => {
            for p in paths {
                let clean = components(p).join("/");
                let e = v.lookup(&clean)?;
                check_file(&e, p)?;
                f(p.clone(), clean, &e)?;
            }
        }
        None => {
            for item in v.walk()? {
                let w = item?;
                if matches!(w.entry.kind, Some(EntryKind::File) | None) {
                    f(w.path.clone(), w.path, &w.entry)?;
                }
            }
        }
    }
    Ok(())
}

/// The stored pieces of file `e` (found at `clean`): `(offset, length)` in the image. A
/// sparse file (zero runs) is refused: only stored bytes can be handed out as ranges.
fn entry_ranges(
    img: &iso_core::Image<'_>,
    v: &UdfVolume<'_>,
    e: &UdfEntry,
    clean: &str,
) -> Result<Vec<(usize, usize)>, NotFile> {
    let base = img.data().as_ptr() as usize;
    let end = base + img.data().len();
    let mut out = Vec::new();
    for p in v.contents(e).map_err(|err| err.with_path(clean))?.parts() {
        match p {
            iso_core::udf::UdfPart::Data(d) => {
                let at = d.as_ptr() as usize;
                if at < base || at + d.len() > end {
                    return Err(NotFile::Iso(
                        Error::new(ErrorKind::BadUdf("file data outside the image"))
                            .with_path(clean),
                    ));
                }
                out.push((at - base, d.len()));
            }
            iso_core::udf::UdfPart::Zeros(_) => {
                return Err(NotFile::Iso(
                    Error::new(ErrorKind::Unsupported(
                        "a sparse UDF file as stored ranges (read() gives its bytes)",
                    ))
                    .with_path(clean),
                ))
            }
        }
    }
    Ok(out)
}

fn check_file(e: &UdfEntry, clean: &str) -> Result<(), NotFile> {
    match e.kind {
        Some(EntryKind::File) | None => Ok(()),
        Some(EntryKind::Directory) => Err(NotFile::Dir(clean.to_string())),
        Some(k) => Err(NotFile::Other(
            clean.to_string(),
            crate::entries::kind_str(k),
        )),
    }
}

/// Where the regular file at `path` is stored (see [`entry_ranges`]), and its size.
pub(crate) fn ranges(
    img: &iso_core::Image<'_>,
    path: &str,
) -> Result<(Vec<(usize, usize)>, u64), NotFile> {
    let v = volume(img)?;
    let clean = components(path).join("/");
    let e = v.lookup(&clean)?;
    check_file(&e, &clean)?;
    Ok((entry_ranges(img, &v, &e, &clean)?, e.size))
}

/// `views()` in the UDF tree: every regular file (walk order), or the files at `paths`, with
/// where their bytes are.
pub(crate) fn locs(
    img: &iso_core::Image<'_>,
    paths: Option<&[String]>,
) -> Result<Vec<(String, String, crate::entries::Loc)>, NotFile> {
    let v = volume(img)?;
    let loc = |r: Vec<(usize, usize)>| match r.as_slice() {
        [] => crate::entries::Loc::One(0, 0),
        [one] => crate::entries::Loc::One(one.0, one.1),
        _ => crate::entries::Loc::Many(r.into()),
    };
    let mut out = Vec::new();
    each_file(&v, paths, |key, clean, e| {
        let r = entry_ranges(img, &v, e, &clean)?;
        out.push((key, clean, loc(r)));
        Ok(())
    })?;
    Ok(out)
}
