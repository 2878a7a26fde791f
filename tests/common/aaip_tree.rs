//! A source tree with POSIX ACLs and extended attributes (made with `setfacl` and `setfattr`),
//! images of it made by xorriso with AAIP (`-for_backup`, `-acl on -xattr any`), and what
//! `getfacl` / `getfattr` say about a tree: the oracle of the AAIP tests.
//!
//! Shared by two crates through `#[path]`: `tests/aaip.rs` (`isolution-tests`) and
//! `oci-export/tests/cli_aaip.rs`. The caller checks first that `xorriso`, `setfacl`,
//! `getfacl`, `setfattr` and `getfattr` are installed (`tools(&TOOLS)`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tools the AAIP tests need.
pub const TOOLS: [&str; 5] = ["xorriso", "setfacl", "getfacl", "setfattr", "getfattr"];

/// The paths of the tree (below the root) whose attributes are compared. `l` is a symbolic
/// link (no ACL or user attribute on the link itself).
pub const PATHS: [&str; 9] = [
    "f", "plain", "d", "d/sub", "d/big", "d/many", "utf", "ro", "l",
];

/// A 3000-byte value: longer than one `AL` entry, so that it is split into component records
/// over several entries, in a SUSP continuation area.
pub fn big_value() -> Vec<u8> {
    (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect()
}

/// The tree and its temporary directory.
pub struct AaipTree {
    /// Removed when dropped.
    pub dir: tempfile::TempDir,
    /// The source tree, `dir/src`.
    pub src: PathBuf,
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{cmd:?}: {}\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn setfacl(path: &Path, args: &[&str]) {
    run(Command::new("setfacl").args(args).arg(path)).unwrap();
}

fn setfattr(path: &Path, name: &str, value: &str) {
    run(Command::new("setfattr")
        .args(["-n", name, "-v", value])
        .arg(path))
    .unwrap();
}

impl AaipTree {
    /// Makes the tree in a new directory under `base` (a disk file system: the tests pass
    /// `CARGO_TARGET_TMPDIR`). `None`, with a `skipping:` message, when that file system
    /// refuses user extended attributes or ACLs.
    pub fn make(base: &Path) -> Option<AaipTree> {
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("aaip")
            .tempdir_in(base)
            .unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("d/sub")).unwrap();
        let probe = dir.path().join("probe");
        std::fs::write(&probe, b"").unwrap();
        let ok = run(Command::new("setfattr")
            .args(["-n", "user.probe", "-v", "1"])
            .arg(&probe))
        .and_then(|_| run(Command::new("setfacl").args(["-m", "u:1234:r"]).arg(&probe)));
        if let Err(e) = ok {
            eprintln!(
                "skipping: {} does not take user extended attributes and ACLs: {e}",
                base.display()
            );
            return None;
        }
        let w = |p: &str, b: &[u8]| std::fs::write(src.join(p), b).unwrap();
        w("f", b"hello\n");
        w("plain", b"no attributes\n");
        w("d/big", b"big attribute\n");
        w("d/many", b"many attributes\n");
        w("utf", b"text\n");
        w("ro", b"read-only, with an ACL\n");
        std::os::unix::fs::symlink("f", src.join("l")).unwrap();
        let p = |s: &str| src.join(s);
        setfattr(&p("f"), "user.foo", "bar");
        setfattr(&p("f"), "user.bin", "0x00010203ff");
        setfacl(&p("f"), &["-m", "u:1234:rwx,g:4321:r-x"]);
        setfacl(&p("d"), &["-m", "u:2345:rw-"]);
        setfacl(&p("d"), &["-d", "-m", "u:1234:r-x,g:4321:rwx"]);
        setfattr(&p("d"), "user.dir", "on a directory");
        let big = String::from_utf8(big_value()).unwrap();
        setfattr(&p("d/big"), "user.big", &big);
        for i in 0..20 {
            setfattr(
                &p("d/many"),
                &format!("user.k{i:02}"),
                &format!("value {i}"),
            );
        }
        setfattr(&p("utf"), "user.text", "h\u{e9}llo w\u{f6}rld");
        setfacl(&p("ro"), &["-m", "g:4321:r--"]);
        std::fs::set_permissions(p("ro"), std::os::unix::fs::PermissionsExt::from_mode(0o440))
            .unwrap();
        Some(AaipTree { dir, src })
    }

    /// Runs `xorriso ARGS -outdev NAME -map src /` and returns the image's path.
    pub fn master(&self, name: &str, args: &[&str]) -> PathBuf {
        let iso = self.dir.path().join(name);
        run(Command::new("xorriso")
            .args(args)
            .arg("-outdev")
            .arg(&iso)
            .arg("-map")
            .arg(&self.src)
            .arg("/"))
        .unwrap();
        iso
    }
}

/// `getfacl -n -E -c PATH` (numeric ids, no effective-rights comments, no header): the access
/// entries and the default entries (without their `default:` prefix).
pub fn getfacl(path: &Path) -> (Vec<String>, Vec<String>) {
    let out = run(Command::new("getfacl").args(["-n", "-E", "-c"]).arg(path)).unwrap();
    let mut access = Vec::new();
    let mut default = Vec::new();
    for line in out.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        match line.strip_prefix("default:") {
            Some(d) => default.push(d.to_string()),
            None => access.push(line.to_string()),
        }
    }
    (access, default)
}

/// True when `getfacl` entries say no more than the mode bits.
pub fn is_minimal(entries: &[String]) -> bool {
    entries.len() <= 3
}

/// `getfattr -d -m - -e hex PATH`, without the `system.posix_acl_*` attributes (the ACLs):
/// name -> lowercase hex of the value.
pub fn getfattr(path: &Path) -> BTreeMap<String, String> {
    let out = run(Command::new("getfattr")
        .args(["-h", "-d", "-m", "-", "-e", "hex", "--absolute-names"])
        .arg(path))
    .unwrap();
    out.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(n, _)| !n.starts_with("system.posix_acl_"))
        .map(|(n, v)| {
            let v = v.strip_prefix("0x").unwrap_or(v).to_ascii_lowercase();
            (n.to_string(), v)
        })
        .collect()
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
