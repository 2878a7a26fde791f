//! The file trees the round trips through mastering tools generate (`tests/roundtrip.rs`):
//! what proptest generates and shrinks ([`tree`]), the nodes it resolves to ([`Node`]), and
//! writing them to disk ([`write_tree`]).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;

use crate::mastering::Tool;

const FILE_MODES: [u32; 4] = [0o644, 0o600, 0o755, 0o444];
const DIR_MODES: [u32; 2] = [0o755, 0o700];
/// Budget for the bytes of one tree, so a case stays fast.
const MAX_TREE_BYTES: usize = 4_000_000;
/// Longest relative path generated (Linux allows 4095 for the whole path; keep well inside).
const MAX_PATH_BYTES: usize = 2_000;

/// One node of a generated tree, parents before children. Paths are relative to the tree's
/// root, `/`-separated.
#[derive(Clone, Debug)]
pub enum Node {
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
    pub fn path(&self) -> &str {
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
pub fn tree(tool: &'static Tool) -> impl Strategy<Value = Vec<Node>> {
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

pub fn join(dir: &str, name: &str) -> String {
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
pub fn content(seed: u64, size: usize) -> Vec<u8> {
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
pub fn write_tree(root: &Path, nodes: &[Node]) -> std::io::Result<()> {
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
