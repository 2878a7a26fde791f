//! The small genuine images the adversarial tests patch, each made once per test process by
//! genisoimage (and mkzftree for zisofs), and [`need!`](crate::need) to get one or skip.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Runs genisoimage with `args` over a source tree made by `make` (in `s/`); `None` when
/// genisoimage is not installed.
pub fn build(make: impl FnOnce(&Path), args: &[&str]) -> Option<Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("s");
    std::fs::create_dir(&src).unwrap();
    make(&src);
    let out = tmp.path().join("x.iso");
    let res = Command::new("genisoimage")
        .arg("-quiet")
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output();
    let res = match res {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("genisoimage: {e}"),
    };
    assert!(
        res.status.success(),
        "genisoimage {args:?}: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    Some(std::fs::read(out).unwrap())
}

pub fn put_file(p: &Path, rel: &str, data: &[u8]) {
    let p = p.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// The long Rock Ridge names of `E/` (200 bytes: their `NM` continues in a `CE` area).
pub fn long_name(i: usize) -> String {
    format!("{i}{}", "L".repeat(199))
}

/// `A/B/C/deep.txt`, `A/f.txt`, `E/` (three files with 200-byte names and four symlinks with
/// 180-byte targets, all using `CE`), `empty`, `link -> A/f.txt`, `top.txt`; `-R -J`.
pub fn main_iso() -> Option<&'static [u8]> {
    static IMG: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    IMG.get_or_init(|| {
        build(
            |s| {
                put_file(s, "A/B/C/deep.txt", b"deep\n");
                put_file(s, "A/f.txt", b"hello\n");
                put_file(s, "top.txt", b"top\n");
                put_file(s, "empty", b"");
                std::os::unix::fs::symlink("A/f.txt", s.join("link")).unwrap();
                for i in 0..3 {
                    put_file(s, &format!("E/{}", long_name(i)), &b"xx"[..i]);
                }
                for i in 1..=4 {
                    let t = format!("../{}{i}", "T".repeat(180));
                    std::os::unix::fs::symlink(t, s.join(format!("E/sl{i}"))).unwrap();
                }
            },
            &["-R", "-J"],
        )
    })
    .as_deref()
}

/// `d1/.../d9/f.txt`: genisoimage relocates `d8` to `rr_moved` (Rock Ridge `CL`/`PL`/`RE`).
pub fn deep_iso() -> Option<&'static [u8]> {
    static IMG: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    IMG.get_or_init(|| {
        build(
            |s| put_file(s, "d1/d2/d3/d4/d5/d6/d7/d8/d9/f.txt", b"deepest\n"),
            &["-R", "-J"],
        )
    })
    .as_deref()
}

pub fn boot_bytes() -> Vec<u8> {
    (0..2048u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// An El Torito image: no-emulation `boot.img` (2048 bytes), catalog `boot.cat`.
pub fn boot_iso() -> Option<&'static [u8]> {
    static IMG: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    IMG.get_or_init(|| {
        build(
            |s| {
                put_file(s, "boot.img", &boot_bytes());
                put_file(s, "readme.txt", b"hi\n");
            },
            &[
                "-R",
                "-J",
                "-b",
                "boot.img",
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-c",
                "boot.cat",
            ],
        )
    })
    .as_deref()
}

pub fn zisofs_source() -> Vec<u8> {
    (0..5000)
        .flat_map(|i| format!("line {i} of some compressible text\n").into_bytes())
        .collect()
}

/// `big.txt` compressed with mkzftree, imaged with `genisoimage -R -z` (a `ZF` entry).
pub fn zisofs_iso() -> Option<&'static [u8]> {
    static IMG: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    IMG.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let plain = tmp.path().join("plain");
        put_file(&plain, "big.txt", &zisofs_source());
        let packed = tmp.path().join("packed");
        let ok = Command::new("mkzftree")
            .arg(&plain)
            .arg(&packed)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return None;
        }
        build(
            |s| {
                std::fs::copy(packed.join("big.txt"), s.join("big.txt")).unwrap();
            },
            &["-R", "-z"],
        )
    })
    .as_deref()
}

/// The bytes of base image `$f` (a `fn() -> Option<&'static [u8]>` of this module), as a
/// `Vec<u8>`; returns from the test, with the skip message of [`crate::tool`], when a tool it
/// needs (genisoimage unless others are named) is not installed.
#[macro_export]
macro_rules! need {
    ($f:ident) => {
        $crate::need!($f, "genisoimage")
    };
    ($f:ident, $($tool:literal),+) => {
        match $crate::tools(&[$($tool),+]).then($f).flatten() {
            Some(b) => b.to_vec(),
            None => return,
        }
    };
}
