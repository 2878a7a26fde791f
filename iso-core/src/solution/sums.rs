//! `SHA256SUMS`: BSD tag lines (`SHA256 (path) = hex`) and GNU lines (`hex  path`), with the
//! backslash escapes both tools use for names holding `\` or a newline.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The file names that sign the list and are not in it.
pub const SUMS: &str = "SHA256SUMS";
/// minisign / signify signature of [`SUMS`].
pub const SUMS_MINISIG: &str = "SHA256SUMS.minisig";
/// SSH signature of [`SUMS`].
pub const SUMS_SSHSIG: &str = "SHA256SUMS.sig";

/// A parsed checksum list: path (relative, no leading `./`) to SHA-256.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sums {
    /// Entries, by path.
    pub entries: BTreeMap<String, [u8; 32]>,
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    hex::decode_to_slice(s.to_ascii_lowercase(), &mut out).ok()?;
    Some(out)
}

fn normalise(p: &str) -> String {
    p.trim_start_matches("./").to_string()
}

/// Why [`parse_sums`] refused a `SHA256SUMS` text. Each names its line (from 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SumsError {
    /// A line that is neither a BSD tag line nor a GNU line with a SHA-256 digest.
    #[error("line {line}: not a SHA-256 checksum line: {text:?}")]
    BadLine {
        /// The line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// A path that is empty or climbs out of the tree (`..`).
    #[error("line {line}: unsafe path {path:?}")]
    UnsafePath {
        /// The line number.
        line: usize,
        /// The path (unescaped, without a leading `./`).
        path: String,
    },
    /// A path listed a second time.
    #[error("line {line}: {path:?} is listed twice")]
    Duplicate {
        /// The line number of the second listing.
        line: usize,
        /// The path.
        path: String,
    },
}

/// Parses a `SHA256SUMS` text. Errors name the line.
pub fn parse_sums(text: &str) -> Result<Sums, SumsError> {
    let mut sums = Sums::default();
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let (escaped, line) = match raw.strip_prefix('\\') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let bad = || SumsError::BadLine {
            line: line_no,
            text: raw.to_string(),
        };
        let (path, digest) = if let Some(rest) = line.strip_prefix("SHA256 (") {
            let (p, h) = rest.rsplit_once(") = ").ok_or_else(bad)?;
            (p, h)
        } else {
            let (h, rest) = line.split_once(' ').ok_or_else(bad)?;
            let p = rest
                .strip_prefix(' ')
                .or_else(|| rest.strip_prefix('*'))
                .ok_or_else(bad)?;
            (p, h)
        };
        let digest = hex32(digest.trim_end()).ok_or_else(bad)?;
        let path = if escaped {
            unescape(path).ok_or_else(bad)?
        } else {
            path.to_string()
        };
        let path = normalise(&path);
        if path.is_empty() || path.split('/').any(|c| c == "..") {
            return Err(SumsError::UnsafePath {
                line: line_no,
                path,
            });
        }
        if sums.entries.insert(path.clone(), digest).is_some() {
            return Err(SumsError::Duplicate {
                line: line_no,
                path,
            });
        }
    }
    Ok(sums)
}

fn escape_name(p: &str) -> (bool, String) {
    if p.contains(['\\', '\n', '\r']) {
        (
            true,
            p.replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('\r', "\\r"),
        )
    } else {
        (false, p.to_string())
    }
}

/// Renders BSD tag lines, sorted by path.
pub fn render_sums(sums: &Sums) -> String {
    let mut out = String::new();
    for (p, d) in &sums.entries {
        let (esc, name) = escape_name(p);
        if esc {
            out.push('\\');
        }
        out.push_str(&format!("SHA256 ({name}) = {}\n", hex::encode(d)));
    }
    out
}

/// The `SHA256SUMS` of a Solution source tree before it is mastered: every regular file except
/// the list and its signatures. Symbolic links and special files are refused (a signed archive
/// should hold only files and directories).
pub fn sums_for_dir(root: &Path) -> std::io::Result<Sums> {
    let mut sums = Sums::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let ty = e.file_type()?;
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/");
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                if [SUMS, SUMS_MINISIG, SUMS_SSHSIG].contains(&rel.as_str()) {
                    continue;
                }
                let mut h = Sha256::new();
                let mut f = std::fs::File::open(&path)?;
                std::io::copy(&mut f, &mut h)?;
                sums.entries.insert(rel, h.finalize().into());
            } else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{}: not a regular file or directory", path.display()),
                ));
            }
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_and_escapes() {
        let d = "a".repeat(64);
        let text = format!("SHA256 (./x/y) = {d}\n{d}  z\n{d} *bin\n\\{d}  we\\\\ird\n\\SHA256 (new\\nline) = {d}\n");
        let s = parse_sums(&text).unwrap();
        let keys: Vec<&str> = s.entries.keys().map(String::as_str).collect();
        assert_eq!(keys, ["bin", "new\nline", "we\\ird", "x/y", "z"]);
        let again = parse_sums(&render_sums(&s)).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn bad_lines() {
        let d = "a".repeat(64);
        assert!(parse_sums("SHA256 (x) = 12").is_err());
        assert!(parse_sums(&format!("{d} x")).is_err());
        assert_eq!(
            parse_sums(&format!("{d}  x\n{d}  x\n")).unwrap_err(),
            SumsError::Duplicate {
                line: 2,
                path: "x".into()
            }
        );
        let unsafe_path = parse_sums(&format!("{d}  ../x\n")).unwrap_err();
        assert_eq!(unsafe_path.to_string(), "line 1: unsafe path \"../x\"");
        assert_eq!(
            parse_sums("MD5 (x) = 00").unwrap_err().to_string(),
            "line 1: not a SHA-256 checksum line: \"MD5 (x) = 00\""
        );
    }
}
