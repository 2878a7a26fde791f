//! Names of the primary (ISO 9660) and Joliet trees, made from Rock Ridge (POSIX) names.
//!
//! Primary names follow genisoimage 1.1.11 with `-l -iso-level 3` (its `iso9660_file_length`):
//! up to 31 characters, upper case, one dot (the last one, or the one before a trailing dot),
//! other dots and characters outside the d-characters (`A-Z 0-9 _`, with `-`, `#`, `~`
//! translated) become `_`, a leading dot becomes `_`, `.tar.gz` becomes `.tgz`, and files get
//! a dot when they have none and the version `;1`. Each byte of a multi-byte UTF-8 character
//! becomes one `_`, as in genisoimage. Names that end up equal in one directory are made
//! unique deterministically (see [`unique`]).

use std::collections::HashSet;

/// The longest primary name genisoimage makes with `-l` (ECMA-119 allows 31 with level 2+).
const NAMELEN: usize = 31;

/// The primary identifier of `name` (a file's ends with `;1`, a directory's has none).
pub(crate) fn primary(name: &str, dir: bool) -> Vec<u8> {
    let mut src: Vec<u8> = name.as_bytes().to_vec();
    // The dot used for the extension: the last one, unless followed by nothing or `~`.
    let mut last_dot = src.iter().rposition(|&c| c == b'.');
    if let Some(d) = last_dot {
        if matches!(src.get(d + 1), None | Some(b'~')) {
            last_dot = src[..d].iter().rposition(|&c| c == b'.').or(Some(d));
        }
    }
    let ochars_after_dot = last_dot.map_or(0, |d| src.len() - d);
    let mut before_dot = NAMELEN;
    let mut after_dot = NAMELEN - 1;
    if !dir {
        if ochars_after_dot > NAMELEN / 2 + 1 {
            before_dot = NAMELEN / 2;
            after_dot = ochars_after_dot;
        } else {
            before_dot -= ochars_after_dot;
            after_dot = ochars_after_dot;
        }
    }
    let mut out: Vec<u8> = Vec::with_capacity(NAMELEN + 3);
    let (mut chars_before, mut chars_after) = (0usize, 0usize);
    let mut current = 0usize;
    let mut seen_dot = false;
    let mut ignore = false;
    let mut i = 0usize;
    while i < src.len() {
        if ignore || current >= NAMELEN {
            i += 1;
            continue;
        }
        let c = src[i];
        if c == b'.' {
            if &src[i..] == b".tar.gz" || &src[i..] == b".ps.gz" {
                let repl: &[u8] = if &src[i..] == b".tar.gz" {
                    b".tgz"
                } else {
                    b".psz"
                };
                src.truncate(i);
                src.extend_from_slice(repl);
                last_dot = Some(i);
            }
            if chars_before == 0 {
                chars_before += 1;
                out.push(b'_');
            } else if Some(i) == last_dot {
                if seen_dot {
                    ignore = true;
                    continue;
                }
                out.push(b'.');
                seen_dot = true;
            } else if chars_before < before_dot {
                chars_before += 1;
                out.push(b'_');
            }
        } else {
            let take = if seen_dot {
                chars_after < after_dot && {
                    chars_after += 1;
                    true
                }
            } else {
                chars_before < before_dot && {
                    chars_before += 1;
                    true
                }
            };
            if !take {
                i += 1;
                continue;
            }
            let c = if c & 0x80 != 0 {
                b'_'
            } else {
                c.to_ascii_uppercase()
            };
            let c = match c {
                b'A'..=b'Z' | b'0'..=b'9' | b'_' => c,
                // Printable characters genisoimage keeps (outside the d-characters, but
                // every reader takes them): what its switch does not list.
                b'\t' | b'+' | b'=' | b'%' | b':' | b';' | b'.' | b',' | b' ' | b'/' | b'"'
                | b'[' | b']' | b'>' | b'<' | b'|' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')'
                | b'*' | b'?' | b'@' | b'\\' | b'^' | b'`' | b'{' | b'}' | b'#' | b'-' | b'~' => {
                    b'_'
                }
                0..=31 | 127 => b'_',
                c => c,
            };
            out.push(c);
        }
        current += 1;
        i += 1;
    }
    if !dir {
        if !seen_dot {
            if chars_before >= NAMELEN - 1 {
                out.pop();
            }
            out.push(b'.');
        }
        out.extend_from_slice(b";1");
    }
    out
}

/// The Joliet name of `name`: UTF-16 units with characters beyond U+FFFF, controls and
/// `* / : ; ? \` replaced by `_`, cut at 103 units (`-joliet-long`). No version (`;1`): as
/// genisoimage and xorriso write Joliet names (isoinfo and pycdlib show the suffix when it is
/// there).
pub(crate) fn joliet(name: &str) -> Vec<u16> {
    let mut v: Vec<u16> = name
        .chars()
        .map(|c| match c {
            '*' | '/' | ':' | ';' | '?' | '\\' => u16::from(b'_'),
            c if u32::from(c) < 0x20 => u16::from(b'_'),
            c => u16::try_from(u32::from(c)).unwrap_or(u16::from(b'_')),
        })
        .collect();
    v.truncate(JOLIET_MAX);
    v
}

/// The longest Joliet name (UTF-16 units, version excluded), as genisoimage `-joliet-long`.
pub(crate) const JOLIET_MAX: usize = 103;

const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Makes each name of one directory unique, in the order given (the caller sorts by the Rock
/// Ridge name, so the result does not depend on the order entries were added): the first of
/// equal names keeps it, each later one gets its base (before the extension dot, or before
/// `;1`) cut and ended with a three-character counter `000`, `001`, … `ZZZ`, the first free.
/// `unit` converts an ASCII byte to the name's unit; `max_len` bounds the whole name's
/// length. `false` when no counter is free.
pub(crate) fn unique<T: Copy + Eq + std::hash::Hash>(
    names: &mut [Vec<T>],
    unit: fn(u8) -> T,
    max_len: usize,
) -> bool {
    let mut used: HashSet<Vec<T>> = HashSet::with_capacity(names.len());
    let mut clash = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if !used.insert(n.clone()) {
            clash.push(i);
        }
    }
    for i in clash {
        let n = &names[i];
        let semi = n.iter().rposition(|&c| c == unit(b';')).unwrap_or(n.len());
        let dot = n[..semi]
            .iter()
            .rposition(|&c| c == unit(b'.'))
            .filter(|&d| d > 0)
            .unwrap_or(semi);
        let (base, tail) = (&n[..dot], &n[dot..]);
        // Directories have no `;1`: two units less.
        let versioned = n.ends_with(&[unit(b';'), unit(b'1')]);
        let max_len = if versioned {
            max_len
        } else {
            max_len.saturating_sub(2)
        };
        let keep = max_len
            .saturating_sub(tail.len().min(max_len.saturating_sub(3)))
            .saturating_sub(3)
            .min(base.len());
        let mut found = None;
        for k in 0..36usize.pow(3) {
            let mut cand: Vec<T> = base[..keep].to_vec();
            cand.push(unit(DIGITS[k / 1296]));
            cand.push(unit(DIGITS[(k / 36) % 36]));
            cand.push(unit(DIGITS[k % 36]));
            cand.extend_from_slice(tail);
            if !used.contains(&cand) {
                found = Some(cand);
                break;
            }
        }
        match found {
            Some(c) => {
                used.insert(c.clone());
                names[i] = c;
            }
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(n: &str) -> String {
        String::from_utf8(primary(n, false)).unwrap()
    }

    #[test]
    fn primary_names() {
        assert_eq!(p("manifest.yaml"), "MANIFEST.YAML;1");
        assert_eq!(p("a.b.c"), "A_B.C;1");
        assert_eq!(p("README"), "README.;1");
        assert_eq!(p(".hidden"), "_HIDDEN.;1");
        assert_eq!(p("x.tar.gz"), "X.TGZ;1");
        assert_eq!(String::from_utf8(primary("v1.2", true)).unwrap(), "V1.2");
    }

    #[test]
    fn clashes() {
        let mut v = vec![b"A.;1".to_vec(), b"A.;1".to_vec(), b"A.;1".to_vec()];
        assert!(unique(&mut v, |b| b, 33));
        assert_eq!(v[1], b"A000.;1");
        assert_eq!(v[2], b"A001.;1");
    }
}
