//! `registry-config.inc.j2`: the nginx fragment MetalK8s renders and includes verbatim into its
//! registry server. We regenerate what the image tree implies, with the semantics of
//! MetalK8s's generator run with `--name-prefix '{{ repository }}' --server-root
//! '{{ registry_root }}' --omit-constants`, and compare block by block.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::images::{media, ContainerImage, ManifestKind};
use super::{Finding, Rule};

const PATH: &str = "registry-config.inc.j2";

/// The configuration the image tree implies, byte for byte what MetalK8s's generator
/// (`buildchain/static-container-registry/static-container-registry.py`, `create_config`)
/// writes when run with `--name-prefix '{{ repository }}' --server-root '{{ registry_root }}'
/// --omit-constants` on the `images/` tree: each item starts with a newline and ends with
/// one, so the text starts with an empty line and has no empty line at its end. Only Docker
/// v2s2 images are served (the generator's `find_images` skips the others). Empty when no
/// image is served.
pub fn generate_registry_config(images: &[ContainerImage]) -> String {
    let served: Vec<(&str, &str, &str)> = images
        .iter()
        .filter(|i| i.kind == ManifestKind::DockerV2S2 && i.manifest_digest.is_some())
        .map(|i| (i.name.as_str(), i.tag.as_str(), i.manifest_digest_str()))
        .collect();
    registry_config_for(&served)
}

/// [`generate_registry_config`] for `(name, tag, manifest digest)` triples of Docker v2 schema 2
/// images: what a tool writing a Solution (`isolution pack`) generates before the tree exists.
///
/// ```
/// let text = iso_core::solution::registry_config_for(&[("web", "1.0", "sha256:ab")]);
/// assert!(text.starts_with("\nlocation = /v2/{{ repository }}/web/tags/list {"));
/// assert!(text.contains("add_header 'Docker-Content-Digest' 'sha256:ab';"));
/// ```
pub fn registry_config_for(images: &[(&str, &str, &str)]) -> String {
    let mut by_name: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for &(name, tag, digest) in images {
        by_name.entry(name).or_default().push((tag, digest));
    }
    let mut out = String::new();
    for (name, mut tags) in by_name {
        tags.sort_by(|a, b| a.0.cmp(b.0));
        let tag_list: Vec<String> = tags.iter().map(|t| py_json_str(t.0)).collect();
        let _ = write!(
            out,
            "\nlocation = /v2/{{{{ repository }}}}/{name}/tags/list {{\n    types {{ }} default_type \"application/json\";\n    return 200 '{{\"name\": {}, \"tags\": [{}]}}';\n}}\n",
            py_json_str(name),
            tag_list.join(", ")
        );
        let mut served = BTreeSet::new();
        for &(tag, digest) in &tags {
            let body = format!(
                "    alias {{{{ registry_root }}}}/{name}/{tag}/;\n    types {{ }} default_type \"{}\";\n    add_header 'Docker-Content-Digest' '{digest}';\n    try_files manifest.json =404;\n    error_page 404 @404_tag;\n",
                media::DOCKER_V2S2,
            );
            let _ = write!(
                out,
                "\nlocation = \"/v2/{{{{ repository }}}}/{name}/manifests/{tag}\" {{\n{body}}}\n"
            );
            if served.insert(digest) {
                let _ = write!(
                    out,
                    "\nlocation = \"/v2/{{{{ repository }}}}/{name}/manifests/{digest}\" {{\n{body}}}\n"
                );
            } else {
                let _ = write!(out, "\n# Digest for \"{name}:{tag}\" already served\n");
            }
        }
        let tries: Vec<String> = tags.iter().map(|t| format!("{}/$1", t.0)).collect();
        let _ = write!(
            out,
            "\nlocation ~ \"/v2/{{{{ repository }}}}/{name}/blobs/sha256:([a-f0-9]{{64}})\" {{\n    alias {{{{ registry_root }}}}/{name}/;\n    try_files {} =404;\n}}\n",
            tries.join(" ")
        );
    }
    out
}

/// A string as Python's `json.dumps` writes it (`ensure_ascii`): what the generator puts in
/// the tags list's JSON payload.
fn py_json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

/// Reports Jinja syntax other than the two placeholders the generator writes. MetalK8s
/// renders the file with Salt's Jinja before including it (`salt/metalk8s/solutions/
/// available.sls`, `file.managed` with `template: jinja`): an expression there runs on the
/// Salt minion with every `salt` function at hand, and Jinja reads nginx comments too, so
/// the block comparison (which skips comments) cannot be the only check.
pub(crate) fn jinja(text: &str, findings: &mut Vec<Finding>) {
    const ALLOWED: [&str; 2] = ["{{ repository }}", "{{ registry_root }}"];
    let mut rest = text;
    let mut offending = Vec::new();
    while let Some(i) = rest.find(['{']) {
        let tail = &rest[i..];
        if let Some(ok) = ALLOWED.iter().find(|a| tail.starts_with(**a)) {
            rest = &tail[ok.len()..];
            continue;
        }
        if tail.starts_with("{{") || tail.starts_with("{%") || tail.starts_with("{#") {
            let line = text[..text.len() - tail.len()].matches('\n').count() + 1;
            let snippet: String = tail.chars().take(40).take_while(|c| *c != '\n').collect();
            offending.push(format!("line {line}: {snippet:?}"));
        }
        rest = &tail[1..];
    }
    if !offending.is_empty() {
        findings.push(Finding::new(
            Rule::RegistryConfigJinja,
            PATH,
            format!(
                "Jinja syntax other than {{{{ repository }}}} and {{{{ registry_root }}}}, which \
                 MetalK8s renders with Salt's Jinja (salt functions included) before including \
                 the file: {}",
                offending.join(", ")
            ),
        ));
    }
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

    // The tags-list payload is Python's json.dumps (buildchain/static-container-registry/
    // static-container-registry.py, create_config). Expected text from
    // python3 -c 'import json; print(json.dumps("\u00e9\"\\\x7f\x01\t\U0001F600"))'.
    #[test]
    fn json_strings_are_written_as_python_writes_them() {
        assert_eq!(py_json_str("1.0.2"), "\"1.0.2\"");
        assert_eq!(
            py_json_str("\u{e9}\"\\\u{7f}\u{1}\t\u{1F600}"),
            r#""\u00e9\"\\\u007f\u0001\t\ud83d\ude00""#
        );
    }

    // MetalK8s renders the file with Jinja (salt/metalk8s/solutions/available.sls, state
    // "Expose container images for Solution ...": file.managed, template: jinja), comments
    // included; only the generator's two placeholders may be there.
    #[test]
    fn jinja_other_than_the_placeholders_is_reported() {
        let mut f = Vec::new();
        jinja(
            "location = /v2/{{ repository }}/a { alias {{ registry_root }}/a/; }\n",
            &mut f,
        );
        jinja("location ~ \"x([a-f0-9]{64})\" { types { } y; }\n", &mut f);
        assert!(f.is_empty(), "{f:?}");
        jinja(
            "# {{ salt['cmd.run']('id') }}\n{% if 1 %}{# x #}\n{{repository}}\n",
            &mut f,
        );
        let [one] = f.as_slice() else { panic!("{f:?}") };
        assert_eq!(one.rule, Rule::RegistryConfigJinja);
        assert!(one.message.contains("line 1:"), "{}", one.message);
        assert!(one.message.contains("line 3:"), "{}", one.message);
    }

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
