//! Round trips through real mastering tools: proptest generates small file trees (deep nesting,
//! odd names, symlinks, hard links, modes, files from empty to a few MB), writes them to a
//! temporary directory, masters an image with genisoimage or xorriso, and checks that the
//! reader gives the tree back.
//!
//! Rock Ridge namespace, for every image: the set of paths (directories included) equals the
//! source's; each entry's type, `mode() & 0o7777`, size and bytes (through `Image::reader` and
//! `Image::contents`) match `lstat`/the file; symlink targets match `readlink`; regular files'
//! `nlink()` matches; and the entries sharing a `file_id()` are exactly the source's hard-link
//! (inode) groups. Joliet namespace, where the tool writes one: every source file whose name
//! components fit the tool's Joliet name limit is found at the same path with the same bytes.
//!
//! Each tool/option set is its own proptest (12 cases by default; `ROUNDTRIP_CASES=n`
//! overrides, `ROUNDTRIP_SHRINK_ITERS=n` bounds shrinking, `ROUNDTRIP_STATS=1` prints what
//! each case exercised, with `--nocapture`). A missing tool skips its tests with a message.
//! A tool run that hangs is killed after [`TOOL_TIMEOUT`]. Failure messages name the command
//! and every path that differed, with the image's Rock Ridge listing; proptest then prints
//! the minimal tree.
//!
//! Neither tool alters modes (no `-r`), so modes are compared as they are. What the tools
//! do differently from the source is handled where it is checked, each with a comment: the
//! `rr_moved` directory of genisoimage, trailing slashes of symlink targets, Joliet's name
//! and path limits and character substitutions, genisoimage's trouble with long symlinks
//! and with characters beyond U+FFFF in Joliet, and xorriso writing nothing for an empty
//! tree.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use iso_core::{DirEntry, EntryKind, FileId, Image, Namespace};
use isolution_tests::listing;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------
// The tree description.

const FILE_MODES: [u32; 4] = [0o644, 0o600, 0o755, 0o444];
const DIR_MODES: [u32; 2] = [0o755, 0o700];
/// Budget for the bytes of one tree, so a case stays fast.
const MAX_TREE_BYTES: usize = 4_000_000;
/// Longest relative path generated (Linux allows 4095 for the whole path; keep well inside).
const MAX_PATH_BYTES: usize = 2_000;

/// One node of a generated tree, parents before children. Paths are relative to the tree's
/// root, `/`-separated.
#[derive(Clone, Debug)]
enum Node {
    Dir {
        path: String,
        mode: u32,
    },
    File {
        path: String,
        size: usize,
        seed: u64,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
    /// A second name for the file at `to` (created earlier).
    HardLink {
        path: String,
        to: String,
    },
    /// A file with given bytes (not generated: for the fixed cases at the end).
    Bytes {
        path: String,
        bytes: Vec<u8>,
    },
}

impl Node {
    fn path(&self) -> &str {
        match self {
            Node::Dir { path, .. }
            | Node::File { path, .. }
            | Node::Symlink { path, .. }
            | Node::HardLink { path, .. }
            | Node::Bytes { path, .. } => path,
        }
    }
}

/// What proptest generates and shrinks; [`resolve`] turns it into nodes. Indices pick among
/// what exists so far, so any shrunk value still resolves to a valid tree.
#[derive(Clone, Debug)]
struct RawName {
    style: u8,
    long_len: usize,
    fill: u8,
}

#[derive(Clone, Debug)]
enum RawTarget {
    /// A relative path (`../` up to the root, then down) to an existing node.
    ToNode(Index),
    Dangling(u8),
    Absolute(u8),
    Dots(u8),
    /// A long relative target, spanning several `SL` components and records.
    Long(usize),
    Unicode,
}

#[derive(Clone, Debug)]
enum RawKind {
    Dir(Index),
    File(usize, u64, Index),
    Symlink(RawTarget),
    HardLink(Index),
}

#[derive(Clone, Debug)]
struct RawNode {
    parent: Index,
    name: RawName,
    kind: RawKind,
}

fn raw_name() -> impl Strategy<Value = RawName> {
    (0u8..11, 100usize..=200, 0u8..4).prop_map(|(style, long_len, fill)| RawName {
        style,
        long_len,
        fill,
    })
}

fn file_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => Just(0usize),
        4 => 1usize..=4096,
        // A block multiple, one byte short of it, or one byte over.
        1 => (1usize..=150, 0usize..3).prop_map(|(k, d)| k * 2048 + d - 1),
        3 => 4097usize..=300_000,
        1 => 2_000_000usize..=3_000_000,
    ]
}

fn raw_target() -> impl Strategy<Value = RawTarget> {
    prop_oneof![
        4 => any::<Index>().prop_map(RawTarget::ToNode),
        1 => any::<u8>().prop_map(RawTarget::Dangling),
        1 => any::<u8>().prop_map(RawTarget::Absolute),
        1 => any::<u8>().prop_map(RawTarget::Dots),
        1 => (100usize..=400).prop_map(RawTarget::Long),
        1 => Just(RawTarget::Unicode),
    ]
}

fn raw_kind() -> impl Strategy<Value = RawKind> {
    prop_oneof![
        5 => (file_size(), any::<u64>(), any::<Index>())
            .prop_map(|(s, seed, m)| RawKind::File(s, seed, m)),
        3 => any::<Index>().prop_map(RawKind::Dir),
        2 => raw_target().prop_map(RawKind::Symlink),
        2 => any::<Index>().prop_map(RawKind::HardLink),
    ]
}

fn raw_node() -> impl Strategy<Value = RawNode> {
    (any::<Index>(), raw_name(), raw_kind()).prop_map(|(parent, name, kind)| RawNode {
        parent,
        name,
        kind,
    })
}

/// The trees: an optional chain of 8 to 11 nested directories (deeper than ISO 9660's 8
/// levels, so genisoimage relocates into `rr_moved`), then up to 24 nodes placed anywhere,
/// then sometimes a wide directory (20 to 80 more small files in one directory, so that
/// directory records span several blocks).
fn tree(tool: &'static Tool) -> impl Strategy<Value = Vec<Node>> {
    let chain = prop_oneof![
        1 => Just(Vec::new()),
        2 => prop::collection::vec((raw_name(), any::<Index>()), 8..=11),
    ];
    let wide = prop_oneof![
        3 => Just(None),
        1 => (any::<Index>(), prop::collection::vec(raw_name(), 20..=80)).prop_map(Some),
    ];
    (chain, prop::collection::vec(raw_node(), 0..=24), wide)
        .prop_map(move |(c, n, w)| resolve(&c, &n, w.as_ref(), tool))
}

/// Builds a name that is unique in the whole tree (it embeds `i`) in one of several styles:
/// plain, dotted, spaces, accents, CJK, emoji, leading dot, and long (100 to 200 bytes,
/// ASCII or multi-byte filler). With `bmp_only`, characters beyond U+FFFF become `☃`.
fn make_name(n: &RawName, i: usize, bmp_only: bool) -> String {
    let name = match n.style {
        0 => format!("f{i}"),
        1 => format!("a{i}.b.c"),
        2 => format!("name with spaces {i}.txt"),
        3 => format!("café{i}.é"),
        4 => format!("日本語{i}"),
        5 => format!("emoji😀{i}🎉"),
        6 => format!(".hidden{i}"),
        7 => format!("v{i}.tar.gz"),
        // Characters Joliet does not allow (`* : ; ? \` and controls), quotes, a trailing dot.
        8 => format!(" odd;{i}*?:\\\t\n\"'x."),
        _ => {
            let fill: &[&str] = match n.fill {
                0 => &["abcdefgh", "."],
                1 => &["é"],
                2 => &["日本"],
                _ => &["a b", ".", "é", "日", "😀"],
            };
            let mut s = format!("L{i}-");
            'outer: loop {
                for piece in fill {
                    if s.len() + piece.len() > n.long_len {
                        break 'outer;
                    }
                    s.push_str(piece);
                }
            }
            while s.len() < n.long_len {
                s.push('x');
            }
            s
        }
    };
    if bmp_only {
        name.chars()
            .map(|c| if u32::from(c) > 0xFFFF { '☃' } else { c })
            .collect()
    } else {
        name
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Resolves the raw description into nodes, within what `tool` handles (see
/// [`Tool::bmp_only`] and [`Tool::max_link`]).
fn resolve(
    chain: &[(RawName, Index)],
    raw: &[RawNode],
    wide: Option<&(Index, Vec<RawName>)>,
    tool: &Tool,
) -> Vec<Node> {
    let bmp_only = tool.bmp_only;
    let mut nodes = Vec::new();
    // Directories nodes can go into; "" is the root.
    let mut dirs = vec![String::new()];
    let mut files: Vec<String> = Vec::new();
    let mut total = 0usize;
    let mut parent = String::new();
    for (k, (n, mode)) in chain.iter().enumerate() {
        let mut name = make_name(n, 1000 + k, bmp_only);
        if parent.len() + name.len() > MAX_PATH_BYTES / 2 {
            name = format!("c{k}");
        }
        let path = join(&parent, &name);
        nodes.push(Node::Dir {
            path: path.clone(),
            mode: *mode.get(&DIR_MODES),
        });
        dirs.push(path.clone());
        parent = path;
    }
    for (i, r) in raw.iter().enumerate() {
        let dir = r.parent.get(&dirs).clone();
        let mut name = make_name(&r.name, i, bmp_only);
        if dir.len() + name.len() + 1 > MAX_PATH_BYTES {
            name = format!("s{i}");
        }
        let path = join(&dir, &name);
        match &r.kind {
            RawKind::Dir(m) => {
                nodes.push(Node::Dir {
                    path: path.clone(),
                    mode: *m.get(&DIR_MODES),
                });
                dirs.push(path);
            }
            RawKind::File(size, seed, m) => {
                let mut size = *size;
                if total + size > MAX_TREE_BYTES {
                    size %= 100_000;
                }
                total += size;
                nodes.push(Node::File {
                    path: path.clone(),
                    size,
                    seed: *seed,
                    mode: *m.get(&FILE_MODES),
                });
                files.push(path);
            }
            RawKind::HardLink(to) => {
                // No file yet: nothing to link to, so no node.
                if !files.is_empty() {
                    nodes.push(Node::HardLink {
                        path,
                        to: to.get(&files).clone(),
                    });
                }
            }
            RawKind::Symlink(t) => {
                let target = match t {
                    RawTarget::ToNode(ix) if !nodes.is_empty() => {
                        let to = ix.get(&nodes).path().to_string();
                        let up = if dir.is_empty() {
                            0
                        } else {
                            dir.split('/').count()
                        };
                        let t = format!("{}{to}", "../".repeat(up));
                        if t.len() <= tool.max_link {
                            t
                        } else {
                            // Too long for the tool: the target's own name, beside the link.
                            let last = to.rsplit('/').next().unwrap_or_default();
                            if last.len() <= tool.max_link {
                                last.to_string()
                            } else {
                                format!("capped{i}")
                            }
                        }
                    }
                    RawTarget::ToNode(_) => "nothing-yet".to_string(),
                    RawTarget::Dangling(k) => format!("missing{k}/file.txt"),
                    RawTarget::Absolute(k) => {
                        ["/", "/etc/passwd", "/nonexistent/deep/path.bin", "/tmp"]
                            [usize::from(*k) % 4]
                            .to_string()
                    }
                    RawTarget::Dots(k) => [".", "..", "./self", "../..", "a/./b/../c", "../"]
                        [usize::from(*k) % 6]
                        .to_string(),
                    RawTarget::Long(len) => {
                        let len = (*len).min(tool.max_link.saturating_sub(20));
                        let mut s = String::new();
                        let mut c = 0;
                        while s.len() < len {
                            s.push_str(&format!("component-{c}/"));
                            c += 1;
                        }
                        s.push_str("end");
                        s
                    }
                    RawTarget::Unicode => "日本/é/😀 x.y".to_string(),
                };
                nodes.push(Node::Symlink { path, target });
            }
        }
    }
    if let Some((ix, names)) = wide {
        let dir = ix.get(&dirs).clone();
        for (k, n) in names.iter().enumerate() {
            let mut name = make_name(n, 2000 + k, bmp_only);
            if dir.len() + name.len() + 1 > MAX_PATH_BYTES {
                name = format!("w{k}");
            }
            nodes.push(Node::File {
                path: join(&dir, &name),
                size: k % 5,
                seed: k as u64,
                mode: FILE_MODES[k % FILE_MODES.len()],
            });
        }
    }
    nodes
}

/// Deterministic bytes from a seed (splitmix64).
fn content(seed: u64, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + 8);
    let mut s = seed;
    while v.len() < size {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        v.extend_from_slice(&z.to_le_bytes());
    }
    v.truncate(size);
    v
}

/// Writes the tree under `root`, then sets modes (files first, then directories deepest
/// first; the tests run as root, so a 0700 or 0444 entry stays readable to the tools).
fn write_tree(root: &Path, nodes: &[Node]) -> std::io::Result<()> {
    std::fs::create_dir(root)?;
    for n in nodes {
        let p = root.join(n.path());
        match n {
            Node::Dir { .. } => std::fs::create_dir(&p)?,
            Node::File { size, seed, .. } => std::fs::write(&p, content(*seed, *size))?,
            Node::Symlink { target, .. } => std::os::unix::fs::symlink(target, &p)?,
            Node::HardLink { to, .. } => std::fs::hard_link(root.join(to), &p)?,
            Node::Bytes { bytes, .. } => std::fs::write(&p, bytes)?,
        }
    }
    let set =
        |p: &Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    for n in nodes {
        if let Node::File { path, mode, .. } = n {
            set(&root.join(path), *mode)?;
        }
    }
    for n in nodes.iter().rev() {
        if let Node::Dir { path, mode } = n {
            set(&root.join(path), *mode)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The source as the file system has it (the ground truth: lstat, readlink, inodes).

struct Src {
    kind: EntryKind,
    mode: u32,
    size: u64,
    nlink: u64,
    ino: (u64, u64),
    target: Option<String>,
    abs: PathBuf,
}

fn scan(root: &Path) -> BTreeMap<String, Src> {
    fn go(dir: &Path, rel: &str, out: &mut BTreeMap<String, Src>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e
                .file_name()
                .into_string()
                .expect("generated names are UTF-8");
            let path = join(rel, &name);
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let ft = md.file_type();
            let kind = if ft.is_dir() {
                EntryKind::Directory
            } else if ft.is_symlink() {
                EntryKind::Symlink
            } else {
                EntryKind::File
            };
            let target = ft.is_symlink().then(|| {
                std::fs::read_link(e.path())
                    .unwrap()
                    .into_os_string()
                    .into_string()
                    .unwrap()
            });
            out.insert(
                path.clone(),
                Src {
                    kind,
                    mode: md.mode() & 0o7777,
                    size: md.len(),
                    nlink: md.nlink(),
                    ino: (md.dev(), md.ino()),
                    target,
                    abs: e.path(),
                },
            );
            if ft.is_dir() {
                go(&e.path(), &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    go(root, "", &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// The tools.

struct Tool {
    /// The command as shown in messages (`SRC`/`ISO` stand for the paths).
    label: &'static str,
    program: &'static str,
    args: fn(&Path, &Path) -> Vec<String>,
    /// Longest Joliet name (UTF-16 units) the options allow, when the image has Joliet.
    joliet_max: Option<usize>,
    /// The tool relocates directories 8 levels below the root (ISO 9660 allows 8 levels
    /// counting the root) into a top-level `rr_moved`.
    relocates: bool,
    /// Generate names within the Basic Multilingual Plane only. genisoimage's Joliet is
    /// UCS-2: a name ends at its first character beyond U+FFFF (`emoji😀1🎉` becomes
    /// `emoji`), and when two names of a directory end up equal it aborts with "Incorrectly
    /// encoded string ... Possibly creating an invalid Joliet extension".
    bmp_only: bool,
    /// Longest symlink target generated. genisoimage 1.1.11 mishandles `SL` entries that
    /// do not fit in the directory record: with a 200-byte target and a 100-byte name, or a
    /// 300-byte target and a short name, it loops forever; in other cases it writes an `SL`
    /// longer than 255 bytes into the continuation area, its length byte wrapped (so the
    /// target is garbage to any reader). Up to 180 bytes always worked with 200-byte names.
    max_link: usize,
    /// libisofs leaves out of the Joliet tree (with a WARNING) whatever has a Joliet path
    /// longer than 240 bytes, counted as 1 + the sum over components of 1 + 2 × UTF-16
    /// units (`-compliance joliet_long_paths` lifts it): those files are not compared.
    joliet_path_max: Option<usize>,
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

// genisoimage shares one extent among a file's hard links thanks to `-cache-inodes`, its
// default on Linux; it records `PX` modes and link counts as `lstat` gives them.
const GENISO_RJ: Tool = Tool {
    label: "genisoimage -quiet -R -J -joliet-long -iso-level 3 -o ISO SRC",
    program: "genisoimage",
    args: |src, iso| {
        let mut a: Vec<String> = [
            "-quiet",
            "-R",
            "-J",
            "-joliet-long",
            "-iso-level",
            "3",
            "-o",
        ]
        .map(String::from)
        .into();
        a.push(s(iso));
        a.push(s(src));
        a
    },
    joliet_max: Some(103),
    relocates: true,
    bmp_only: true,
    max_link: 150,
    joliet_path_max: None,
};

const GENISO_R: Tool = Tool {
    label: "genisoimage -quiet -R -o ISO SRC",
    program: "genisoimage",
    args: |src, iso| vec!["-quiet".into(), "-R".into(), "-o".into(), s(iso), s(src)],
    joliet_max: None,
    relocates: true,
    bmp_only: false,
    max_link: 150,
    joliet_path_max: None,
};

const XORRISO: Tool = Tool {
    label: "xorriso -report_about SORRY -outdev ISO -hardlinks on -joliet on -map SRC /",
    program: "xorriso",
    args: |src, iso| {
        let mut a: Vec<String> = vec!["-report_about".into(), "SORRY".into(), "-outdev".into()];
        a.push(s(iso));
        a.extend(["-hardlinks", "on", "-joliet", "on", "-map"].map(String::from));
        a.push(s(src));
        a.push("/".into());
        a
    },
    // xorriso's default Joliet names are at most 64 UTF-16 units (`-compliance
    // joliet_long_names` would allow 103).
    joliet_max: Some(64),
    // xorriso's default `-compliance` includes `deep_paths`: no relocation.
    relocates: false,
    bmp_only: false,
    max_link: 4000,
    joliet_path_max: Some(240),
};

const XORRISO_MKISOFS: Tool = Tool {
    label: "xorriso -report_about SORRY -as mkisofs -quiet -R -J -o ISO SRC",
    program: "xorriso",
    args: |src, iso| {
        let mut a: Vec<String> = [
            "-report_about",
            "SORRY",
            "-as",
            "mkisofs",
            "-quiet",
            "-R",
            "-J",
            "-o",
        ]
        .map(String::from)
        .into();
        a.push(s(iso));
        a.push(s(src));
        a
    },
    joliet_max: Some(64),
    relocates: false,
    bmp_only: false,
    max_link: 4000,
    joliet_path_max: Some(240),
};

fn have(program: &'static str) -> bool {
    static GENISO: OnceLock<bool> = OnceLock::new();
    static XORR: OnceLock<bool> = OnceLock::new();
    let cell = if program == "genisoimage" {
        &GENISO
    } else {
        &XORR
    };
    *cell.get_or_init(|| {
        let ok = Command::new(program)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIP: {program} is not installed; its round-trip tests do nothing");
        }
        ok
    })
}

/// How long one mastering run may take before it counts as hung (and is killed).
const TOOL_TIMEOUT: Duration = Duration::from_secs(15);

fn master(tool: &Tool, src: &Path, iso: &Path, log: &Path) -> Result<(), String> {
    let out = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(tool.program)
        .args((tool.args)(src, iso))
        // Both tools convert names to Joliet (UCS-2/UTF-16) from the locale's charset, and
        // with no UTF-8 locale they take the UTF-8 bytes as ISO-8859-1; pin the locale.
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("[{}] cannot run: {e}", tool.label))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if start.elapsed() > TOOL_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "[{}] still running after {TOOL_TIMEOUT:?}: killed (hung?)",
                    tool.label
                ));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    if !status.success() {
        return Err(format!(
            "[{}] exited with {status}:\n{}",
            tool.label,
            std::fs::read_to_string(log).unwrap_or_default()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The checks.

fn read_via_reader(image: &Image<'_>, e: &DirEntry<'_>) -> Result<Vec<u8>, String> {
    let mut r = image.reader(e).map_err(|e| format!("reader: {e}"))?;
    let mut v = Vec::new();
    r.read_to_end(&mut v).map_err(|e| format!("read: {e}"))?;
    Ok(v)
}

fn compare_bytes(
    errs: &mut Vec<String>,
    ns: &str,
    path: &str,
    image: &Image<'_>,
    e: &DirEntry<'_>,
    want: &[u8],
) {
    match read_via_reader(image, e) {
        Ok(got) if got == want => {}
        Ok(got) => errs.push(format!(
            "{ns} {path:?}: reader gave {} bytes differing from the source's {} (first \
             difference at byte {})",
            got.len(),
            want.len(),
            got.iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()))
        )),
        Err(m) => errs.push(format!("{ns} {path:?}: {m}")),
    }
    match image.contents(e) {
        Ok(c) if c.to_vec() == want => {}
        Ok(c) => errs.push(format!(
            "{ns} {path:?}: contents() gave {} bytes differing from the source's {}",
            c.len(),
            want.len()
        )),
        Err(m) => errs.push(format!("{ns} {path:?}: contents(): {m}")),
    }
}

fn walk_map<'d>(
    image: &Image<'d>,
    ns: Namespace,
    errs: &mut Vec<String>,
) -> BTreeMap<String, DirEntry<'d>> {
    let mut map = BTreeMap::new();
    let walk = match image.walk(ns) {
        Ok(w) => w,
        Err(e) => {
            errs.push(format!("{ns}: walk: {e}"));
            return map;
        }
    };
    for item in walk {
        match item {
            Ok(w) => {
                let comps = w.path.split('/').count() as u32;
                if w.depth != comps {
                    errs.push(format!(
                        "{ns} {:?}: depth {} but {comps} path components",
                        w.path, w.depth
                    ));
                }
                if map.insert(w.path.clone(), w.entry).is_some() {
                    errs.push(format!("{ns} {:?}: yielded twice", w.path));
                }
            }
            Err(e) => {
                errs.push(format!("{ns}: walk failed: {e}"));
                break;
            }
        }
    }
    map
}

fn check_image(tool: &Tool, src: &BTreeMap<String, Src>, data: &[u8]) -> Result<(), String> {
    let image = Image::parse(data).map_err(|e| format!("parse: {e}"))?;
    let mut errs = Vec::new();
    let src_bytes = |path: &str| std::fs::read(&src[path].abs).unwrap();

    // Rock Ridge.
    let ns = Namespace::RockRidge;
    let mut rr = walk_map(&image, ns, &mut errs);
    if tool.relocates && !src.contains_key("rr_moved") {
        // genisoimage quirk: directories 8 levels below the root move to a top-level `rr_moved`
        // directory (mode 0555) that stays visible in the Rock Ridge tree (the Linux kernel
        // shows it too; `-hide-rr-moved` would only rename it `.rr_moved`). The moved
        // directories themselves carry `RE` and the reader hides them, so it is empty.
        rr.remove("rr_moved");
        // Directories 8 levels down (and whatever is under them) are the moved ones; they
        // are reached through their `CL` placeholders.
        let deep = src
            .iter()
            .any(|(p, s)| s.kind == EntryKind::Directory && p.split('/').count() >= 8);
        let relocated = rr.values().filter(|e| e.is_relocated()).count();
        if deep != (relocated > 0) {
            errs.push(format!(
                "{ns}: {relocated} relocated (CL) directories, but the source {} directories \
                 8 levels deep",
                if deep { "has" } else { "has no" }
            ));
        }
    }
    let rr_paths: BTreeSet<&str> = rr.keys().map(String::as_str).collect();
    let src_paths: BTreeSet<&str> = src.keys().map(String::as_str).collect();
    for p in src_paths.difference(&rr_paths) {
        errs.push(format!("{ns} {p:?}: in the source, missing from the image"));
    }
    for p in rr_paths.difference(&src_paths) {
        errs.push(format!("{ns} {p:?}: in the image, not in the source"));
    }
    let mut img_groups: BTreeMap<FileId, BTreeSet<&str>> = BTreeMap::new();
    let mut src_groups: BTreeMap<(u64, u64), BTreeSet<&str>> = BTreeMap::new();
    for (path, want) in src {
        if want.kind == EntryKind::File && want.size > 0 {
            src_groups.entry(want.ino).or_default().insert(path);
        }
        let Some(e) = rr.get(path) else { continue };
        if let Some(id) = e.file_id() {
            img_groups.entry(id).or_default().insert(path);
        }
        if e.kind() != want.kind {
            errs.push(format!(
                "{ns} {path:?}: kind {:?}, source has {:?}",
                e.kind(),
                want.kind
            ));
            continue;
        }
        if e.mode() & 0o7777 != want.mode {
            errs.push(format!(
                "{ns} {path:?}: mode {:#o}, source has {:#o}",
                e.mode() & 0o7777,
                want.mode
            ));
        }
        match want.kind {
            EntryKind::File => {
                if e.size() != want.size {
                    errs.push(format!(
                        "{ns} {path:?}: size {}, source has {}",
                        e.size(),
                        want.size
                    ));
                }
                if e.nlink() != Some(want.nlink as u32) {
                    errs.push(format!(
                        "{ns} {path:?}: nlink {:?}, source has {}",
                        e.nlink(),
                        want.nlink
                    ));
                }
                compare_bytes(&mut errs, "Rock Ridge", path, &image, e, &src_bytes(path));
            }
            EntryKind::Symlink => {
                // Rock Ridge `SL` has no component for a trailing slash, and both tools drop
                // it: `../` is recorded as `..`, `x/` as `x`, `/tmp/` as `/tmp`.
                let want_target = want.target.as_deref().map(|t| {
                    let t2 = t.trim_end_matches('/');
                    if t2.is_empty() && !t.is_empty() {
                        "/"
                    } else {
                        t2
                    }
                });
                if e.symlink_target() != want_target {
                    errs.push(format!(
                        "{ns} {path:?}: symlink target {:?}, readlink gives {:?}",
                        e.symlink_target(),
                        want.target
                    ));
                }
            }
            _ => {}
        }
    }
    let img_sets: BTreeSet<&BTreeSet<&str>> = img_groups.values().collect();
    let src_sets: BTreeSet<&BTreeSet<&str>> = src_groups.values().collect();
    for g in src_sets.difference(&img_sets) {
        errs.push(format!(
            "{ns}: source inode group {g:?} is not one file_id group in the image"
        ));
    }
    for g in img_sets.difference(&src_sets) {
        errs.push(format!(
            "{ns}: image file_id group {g:?} is not one inode group in the source"
        ));
    }

    // Joliet.
    let mut joliet_compared = 0;
    if let Some(max) = tool.joliet_max {
        let ns = Namespace::Joliet;
        let jol = walk_map(&image, ns, &mut errs);
        // Both tools write `_` for the characters Joliet does not allow (`* : ; ? \` and
        // controls). xorriso (libisofs) also writes `_` for each character beyond U+FFFF
        // (Joliet is UCS-2 there too: `emoji😀1🎉` is `emoji_1_`); genisoimage trees have
        // none (see `Tool::bmp_only`).
        let joliet_path = |p: &str| -> String {
            p.chars()
                .map(|c| match c {
                    '*' | ':' | ';' | '?' | '\\' => '_',
                    c if u32::from(c) < 0x20 || u32::from(c) > 0xFFFF => '_',
                    c => c,
                })
                .collect()
        };
        // Longer names are truncated (and possibly mangled), longer paths left out (see
        // `Tool::joliet_path_max`): not compared.
        let fits = |p: &str| {
            let units = |c: &str| c.encode_utf16().count();
            let path_len = 1 + p.split('/').map(|c| 1 + 2 * units(c)).sum::<usize>();
            p.split('/').all(|c| units(c) <= max)
                && match tool.joliet_path_max {
                    Some(m) => path_len <= m,
                    None => true,
                }
        };
        for (path, want) in src {
            let jpath = joliet_path(path);
            if want.kind != EntryKind::File || !fits(&jpath) {
                continue;
            }
            joliet_compared += 1;
            match jol.get(&jpath) {
                None => errs.push(format!("{ns} {path:?}: source file missing from the image")),
                Some(e) if e.kind() != EntryKind::File => {
                    errs.push(format!("{ns} {path:?}: kind {:?}, not a file", e.kind()))
                }
                Some(e) => compare_bytes(&mut errs, "Joliet", path, &image, e, &src_bytes(path)),
            }
        }
    }

    if std::env::var_os("ROUNDTRIP_STATS").is_some() {
        eprintln!(
            "[{}] {} entries, {} relocated, {} symlinks, {} hard-link groups, {} of {} files \
             compared in Joliet",
            tool.label,
            rr.len(),
            rr.values().filter(|e| e.is_relocated()).count(),
            rr.values().filter(|e| e.is_symlink()).count(),
            img_groups.values().filter(|g| g.len() > 1).count(),
            joliet_compared,
            src.values().filter(|s| s.kind == EntryKind::File).count(),
        );
    }
    if errs.is_empty() {
        return Ok(());
    }
    let mut msg = format!("{} difference(s):\n  {}", errs.len(), errs.join("\n  "));
    if let Ok(lines) = listing(&image, Namespace::RockRidge) {
        msg.push_str("\nRock Ridge listing of the image:\n  ");
        let n = lines.len();
        msg.push_str(&lines.into_iter().take(80).collect::<Vec<_>>().join("\n  "));
        if n > 80 {
            msg.push_str(&format!("\n  ... ({} more)", n - 80));
        }
    }
    Err(msg)
}

fn round_trip(tool: &Tool, nodes: &[Node]) -> Result<(), TestCaseError> {
    if !have(tool.program) {
        return Ok(());
    }
    let tmp = tempfile::tempdir().map_err(|e| TestCaseError::fail(format!("tempdir: {e}")))?;
    let src_dir = tmp.path().join("src");
    let iso = tmp.path().join("x.iso");
    write_tree(&src_dir, nodes)
        .map_err(|e| TestCaseError::fail(format!("writing the tree: {e}")))?;
    let src = scan(&src_dir);
    master(tool, &src_dir, &iso, &tmp.path().join("tool.log")).map_err(TestCaseError::fail)?;
    if src.is_empty() && !iso.exists() {
        // xorriso quirk: `-as mkisofs` with an empty source directory has no change to
        // commit, so it writes no image at all, and exits 0.
        return Ok(());
    }
    let data = std::fs::read(&iso)
        .map_err(|e| TestCaseError::fail(format!("[{}] reading the image: {e}", tool.label)))?;
    check_image(tool, &src, &data).map_err(|m| TestCaseError::fail(format!("[{}] {m}", tool.label)))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("ROUNDTRIP_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12),
        // No regression files written beside the sources.
        failure_persistence: None,
        max_shrink_iters: std::env::var("ROUNDTRIP_SHRINK_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(400),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn genisoimage_rock_ridge_joliet(nodes in tree(&GENISO_RJ)) {
        round_trip(&GENISO_RJ, &nodes)?;
    }

    #[test]
    fn genisoimage_rock_ridge(nodes in tree(&GENISO_R)) {
        round_trip(&GENISO_R, &nodes)?;
    }

    #[test]
    fn xorriso_native(nodes in tree(&XORRISO)) {
        round_trip(&XORRISO, &nodes)?;
    }

    #[test]
    fn xorriso_as_mkisofs(nodes in tree(&XORRISO_MKISOFS)) {
        round_trip(&XORRISO_MKISOFS, &nodes)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases.

/// A zlib stream of `data` in stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// A well-formed zisofs v1 file (one 32 KiB block) whose content is `data`.
fn zisofs_file(data: &[u8]) -> Vec<u8> {
    assert!(data.len() <= 1 << 15);
    let block = zlib_stored(data);
    let mut f = vec![0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(&[4, 15, 0, 0]);
    let first = 16 + 2 * 4;
    f.extend_from_slice(&(first as u32).to_le_bytes());
    f.extend_from_slice(&((first + block.len()) as u32).to_le_bytes());
    f.extend_from_slice(&block);
    f
}

/// Plain files that merely look like zisofs, mastered without compression (no `-z`, no
/// `-zisofs`): their bytes must come back as stored in every namespace. `stored.zisofs` is
/// what `mkzftree` writes (a well-formed zisofs stream, kept compressed on purpose);
/// `magic.bin` only starts with the 8-byte zisofs magic.
///
/// This fails while the reader guesses compression in the Joliet tree of a Rock Ridge image
/// from the zisofs magic alone (`looks_compressed` in `iso-core/src/iso9660/contents.rs`):
/// through Joliet, `stored.zisofs` comes back inflated (different bytes, more than `size()`
/// says) and `magic.bin` fails to read, while Rock Ridge gives both right.
#[test]
fn plain_files_that_look_like_zisofs() {
    let text = b"this is the uncompressed text\n".repeat(100);
    let mut magic = vec![0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];
    magic.extend(content(7, 5000));
    let nodes = vec![
        Node::Bytes {
            path: "stored.zisofs".into(),
            bytes: zisofs_file(&text),
        },
        Node::Bytes {
            path: "magic.bin".into(),
            bytes: magic,
        },
    ];
    let mut failures = Vec::new();
    for tool in [&GENISO_RJ, &XORRISO] {
        if let Err(e) = round_trip(tool, &nodes) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
