//! `registry-config.inc.j2`: the nginx fragment MetalK8s renders and includes verbatim into its
//! registry server. We regenerate what the image tree implies, with the semantics of
//! MetalK8s's generator run with `--name-prefix '{{ repository }}' --server-root
//! '{{ registry_root }}' --omit-constants`, and compare block by block.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::images::{media, ContainerImage, ManifestKind};
use super::{Finding, Rule};

const PATH: &str = "registry-config.inc.j2";

/// The configuration the image tree implies: only Docker v2s2 images are served (as
/// MetalK8s's generator skips the others).
pub fn generate_registry_config(images: &[ContainerImage]) -> String {
    let mut by_name: BTreeMap<&str, Vec<&ContainerImage>> = BTreeMap::new();
    for i in images {
        if i.kind == ManifestKind::DockerV2S2 && i.manifest_digest.is_some() {
            by_name.entry(&i.name).or_default().push(i);
        }
    }
    let mut out = String::new();
    for (name, mut tags) in by_name {
        tags.sort_by(|a, b| a.tag.cmp(&b.tag));
        let tag_list: Vec<String> = tags.iter().map(|t| format!("\"{}\"", t.tag)).collect();
        let _ = write!(
            out,
            "location = /v2/{{{{ repository }}}}/{name}/tags/list {{\n    types {{ }} default_type \"application/json\";\n    return 200 '{{\"name\": \"{name}\", \"tags\": [{}]}}';\n}}\n\n",
            tag_list.join(", ")
        );
        let mut served = BTreeSet::new();
        for t in &tags {
            let body = format!(
                "    alias {{{{ registry_root }}}}/{name}/{tag}/;\n    types {{ }} default_type \"{}\";\n    add_header 'Docker-Content-Digest' '{}';\n    try_files manifest.json =404;\n    error_page 404 @404_tag;\n",
                media::DOCKER_V2S2,
                t.manifest_digest_str(),
                tag = t.tag
            );
            let _ = write!(
                out,
                "location = \"/v2/{{{{ repository }}}}/{name}/manifests/{}\" {{\n{body}}}\n\n",
                t.tag
            );
            if served.insert(t.manifest_digest_str()) {
                let _ = write!(
                    out,
                    "location = \"/v2/{{{{ repository }}}}/{name}/manifests/{}\" {{\n{body}}}\n\n",
                    t.manifest_digest_str()
                );
            } else {
                let _ = write!(out, "# Digest for \"{name}:{}\" already served\n\n", t.tag);
            }
        }
        let tries: Vec<String> = tags.iter().map(|t| format!("{}/$1", t.tag)).collect();
        let _ = write!(
            out,
            "location ~ \"/v2/{{{{ repository }}}}/{name}/blobs/sha256:([a-f0-9]{{64}})\" {{\n    alias {{{{ registry_root }}}}/{name}/;\n    try_files {} =404;\n}}\n\n",
            tries.join(" ")
        );
    }
    out
}

/// A top-level item of an nginx fragment: a block (header and body lines, whitespace
/// normalised) or a stray directive.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Item {
    header: String,
    body: Vec<String>,
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a fragment into top-level items, comments dropped. Braces inside quotes are
/// respected; a fragment that does not balance yields a final unterminated item.
fn items(text: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    let mut header: Option<String> = None;
    let mut body: Vec<String> = Vec::new();
    let (mut sq, mut dq) = (false, false);
    for line in text.lines() {
        let mut l = line.trim();
        if !sq && !dq && l.starts_with('#') {
            continue;
        }
        if let Some(i) = comment_start(l) {
            l = l[..i].trim_end();
        }
        for c in l.chars() {
            match c {
                '\'' if !dq => sq = !sq,
                '"' if !sq => dq = !dq,
                '{' if !sq && !dq => {
                    if depth == 0 {
                        header = Some(norm(&cur));
                        cur.clear();
                        depth = 1;
                        continue;
                    }
                    depth += 1;
                }
                '}' if !sq && !dq && depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        if !cur.trim().is_empty() {
                            body.push(norm(&cur));
                        }
                        cur.clear();
                        out.push(Item {
                            header: header.take().unwrap_or_default(),
                            body: std::mem::take(&mut body),
                        });
                        continue;
                    }
                }
                ';' if !sq && !dq && depth == 0 => {
                    cur.push(';');
                    out.push(Item {
                        header: norm(&cur),
                        body: Vec::new(),
                    });
                    cur.clear();
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        if depth > 0 && !cur.trim().is_empty() {
            body.push(norm(&cur));
            cur.clear();
        } else {
            cur.push(' ');
        }
    }
    if depth > 0 || !cur.trim().is_empty() {
        out.push(Item {
            header: norm(&format!("{} {}", header.unwrap_or_default(), cur)),
            body,
        });
    }
    out
}

fn comment_start(l: &str) -> Option<usize> {
    let (mut sq, mut dq) = (false, false);
    for (i, c) in l.char_indices() {
        match c {
            '\'' if !dq => sq = !sq,
            '"' if !sq => dq = !dq,
            '#' if !sq && !dq => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_constant(header: &str) -> bool {
    matches!(
        header,
        "location = /v2" | "location = /v2/" | "location @404_tag"
    )
}

/// Compares the archive's fragment with the regenerated one.
pub(crate) fn compare(images: &[ContainerImage], actual: &str, findings: &mut Vec<Finding>) {
    let expected = items(&generate_registry_config(images));
    let got = items(actual);
    let want: BTreeSet<&Item> = expected.iter().collect();
    let have: BTreeSet<&Item> = got.iter().collect();
    let mut constants = Vec::new();
    for item in got.iter().filter(|i| !want.contains(i)) {
        if is_constant(&item.header) {
            constants.push(item.header.clone());
            continue;
        }
        let changed = expected.iter().any(|e| e.header == item.header);
        findings.push(Finding::new(
            Rule::RegistryConfigExtra,
            PATH,
            if changed {
                format!(
                    "{:?} differs from what the image tree implies: {}",
                    item.header,
                    item.body.join(" ")
                )
            } else {
                format!(
                    "unexpected nginx configuration {:?} {}",
                    item.header,
                    item.body.join(" ")
                )
            },
        ));
    }
    if !constants.is_empty() {
        findings.push(Finding::new(
            Rule::RegistryConfigConstants,
            PATH,
            format!("holds the constant blocks {} that MetalK8s already defines: generate with --omit-constants", constants.join(", ")),
        ));
    }
    for item in expected.iter().filter(|i| !have.contains(i)) {
        if got.iter().any(|g| g.header == item.header) {
            continue; // reported as differing above
        }
        findings.push(Finding::new(
            Rule::RegistryConfigMissing,
            PATH,
            format!("lacks {:?}: that image or tag is not served", item.header),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_and_strays() {
        let t = "location = /a {\n  x 1;\n  types { } y;\n}\n# c\nlocation /b { alias /etc/; }\nserver_tokens off;\n";
        let it = items(t);
        assert_eq!(it.len(), 3, "{it:?}");
        assert_eq!(it[0].header, "location = /a");
        assert_eq!(it[1].header, "location /b");
        assert_eq!(it[1].body, ["alias /etc/;"]);
        assert_eq!(it[2].header, "server_tokens off;");
        let it = items("location ~ \"x{64}\" { a; }\nlocation /c {");
        assert_eq!(it[0].header, "location ~ \"x{64}\"");
        assert_eq!(it.len(), 2);
    }
}
