//! `isolution info`.

use std::io::Write;

use iso_core::{BootCatalog, VolumeInfo};
use serde::Serialize;

use crate::args::InfoArgs;
use crate::util;
use crate::Outcome;

#[derive(Serialize)]
struct Info<'a> {
    file: String,
    image_bytes: u64,
    block_size: u32,
    volume_bytes: u64,
    namespaces: Vec<&'static str>,
    default_namespace: &'static str,
    primary: &'a VolumeInfo,
    joliet: Option<&'a VolumeInfo>,
    enhanced: Option<&'a VolumeInfo>,
    rock_ridge: Option<&'a iso_core::iso9660::RockRidgeInfo>,
    volume_descriptors: &'a [iso_core::iso9660::VolumeDescriptor],
    el_torito: Option<BootCatalog>,
    el_torito_error: Option<String>,
    /// Partition tables, HFS+ and UDF found beside the ISO 9660 trees.
    layout: iso_core::iso9660::Layout,
    warnings: Vec<String>,
    /// The MD5 checksums xorriso recorded (`-md5 on`); absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    md5: Option<iso_core::Md5Tags>,
    /// The UDF volume, when the image holds a readable one; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    udf_volume: Option<UdfSummary>,
}

/// What `info` says of a readable UDF volume.
#[derive(Serialize)]
struct UdfSummary {
    /// `"1.02"`, `"2.60"`...: the domain's revision, else the integrity descriptor's maximum
    /// writing revision; `null` when neither says.
    revision: Option<String>,
    /// `2` for NSR02, `3` for NSR03.
    nsr: u8,
    volume_id: String,
    logical_volume_id: String,
    file_set_id: String,
    block_size: u32,
    anchor_sector: u32,
    /// Partition maps: number, first sector, length in blocks, kind.
    partitions: Vec<UdfPartitionSummary>,
    /// Entries under the root (files, directories, links); `null` when the walk fails.
    entries: Option<u64>,
    /// True when UDF is the default tree because the ISO 9660 side is a stub.
    default: bool,
}

#[derive(Serialize)]
struct UdfPartitionSummary {
    number: u16,
    start: u32,
    blocks: u32,
    kind: &'static str,
}

fn revision_string(r: u16) -> String {
    format!("{}.{:02x}", r >> 8, r & 0xff)
}

/// The UDF volume's summary; `None` without a readable UDF volume.
fn udf_summary(image: &iso_core::Image<'_>) -> Option<UdfSummary> {
    if !image.has_udf() {
        return None;
    }
    let vol = image.udf().ok()??;
    let i = vol.info();
    let entries = vol.walk().ok().and_then(|w| {
        let mut n = 0u64;
        for item in w {
            item.ok()?;
            n += 1;
        }
        Some(n)
    });
    Some(UdfSummary {
        revision: i
            .revision
            .or(i.integrity_revisions.map(|r| r.2))
            .map(revision_string),
        nsr: i.nsr,
        volume_id: i.volume_id.clone(),
        logical_volume_id: i.logical_volume_id.clone(),
        file_set_id: i.file_set_id.clone(),
        block_size: i.block_size,
        anchor_sector: i.anchor_sector,
        partitions: i
            .partitions
            .iter()
            .map(|p| UdfPartitionSummary {
                number: p.number,
                start: p.start,
                blocks: p.blocks,
                kind: match p.kind {
                    iso_core::udf::UdfPartitionKind::Physical => "physical",
                    iso_core::udf::UdfPartitionKind::Metadata { mirror: false } => "metadata",
                    iso_core::udf::UdfPartitionKind::Metadata { mirror: true } => {
                        "metadata (mirror)"
                    }
                },
            })
            .collect(),
        entries,
        default: image.udf_is_default(),
    })
}

/// Writes the line about the UDF volume.
fn write_udf(out: &mut impl Write, u: &UdfSummary) -> anyhow::Result<()> {
    let parts: Vec<String> = u
        .partitions
        .iter()
        .map(|p| {
            format!(
                "partition {} at sector {} ({} blocks, {})",
                p.number, p.start, p.blocks, p.kind
            )
        })
        .collect();
    write!(
        out,
        "UDF volume:        revision {} (NSR0{}), volume id {:?}, {}",
        u.revision.as_deref().unwrap_or("unknown"),
        u.nsr,
        u.volume_id,
        parts.join(", ")
    )?;
    match u.entries {
        Some(n) => writeln!(out, ", {n} entries")?,
        None => writeln!(out, ", tree unreadable")?,
    }
    if u.default {
        writeln!(
            out,
            "                   the ISO 9660 side is a stub: UDF is the default tree"
        )?;
    }
    Ok(())
}

pub fn run(a: InfoArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let (el_torito, el_torito_error) = match image.boot_catalog() {
        Ok(c) => (c, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let p = image.primary();
    let info = Info {
        file: a.iso.display().to_string(),
        image_bytes: file.bytes().len() as u64,
        block_size: image.block_size(),
        volume_bytes: u64::from(p.volume_space_blocks) * u64::from(image.block_size()),
        namespaces: image.namespaces().iter().map(|n| n.as_str()).collect(),
        default_namespace: image.default_namespace().as_str(),
        primary: p,
        joliet: image.joliet(),
        enhanced: image.enhanced(),
        rock_ridge: image.rock_ridge(),
        volume_descriptors: image.volume_descriptors(),
        el_torito,
        el_torito_error,
        layout: image.layout(),
        warnings: image.warnings().iter().map(|w| w.to_string()).collect(),
        // `info` describes; `check` verifies: an unreadable root leaves this out.
        md5: image.md5_tags().ok().filter(|t| !t.is_empty()),
        udf_volume: udf_summary(&image),
    };
    let mut out = util::stdout();
    if a.json {
        util::json_line(&mut out, &info)?;
        out.flush()?;
        return Ok(Outcome::Clean);
    }
    write_primary(&mut out, &info)?;
    write_namespaces(&mut out, &info)?;
    write_el_torito(&mut out, &info)?;
    write_layout(&mut out, &info.layout, info.udf_volume.is_some())?;
    if let Some(u) = &info.udf_volume {
        write_udf(&mut out, u)?;
    }
    if let Some(m) = &info.md5 {
        write_md5(&mut out, m)?;
    }
    writeln!(
        out,
        "Namespaces:        {} (default {}{})",
        info.namespaces.join(", "),
        info.default_namespace,
        if info.udf_volume.as_ref().is_some_and(|u| u.default) {
            ": the ISO 9660 side is a stub"
        } else {
            ""
        }
    )?;
    for w in &info.warnings {
        writeln!(out, "warning: {w}")?;
    }
    for w in &info.layout.warnings {
        writeln!(out, "warning: {w}")?;
    }
    out.flush()?;
    Ok(Outcome::Clean)
}

/// Writes the text lines about the file and its primary volume: identifiers, size, dates and
/// the volume descriptors.
fn write_primary(out: &mut impl Write, info: &Info<'_>) -> anyhow::Result<()> {
    let p = info.primary;
    writeln!(
        out,
        "File:              {} ({} bytes)",
        info.file, info.image_bytes
    )?;
    writeln!(out, "Volume id:         {}", p.volume_id)?;
    if !p.volume_set_id.is_empty() {
        writeln!(out, "Volume set id:     {}", p.volume_set_id)?;
    }
    for (label, v) in [
        ("System id:", &p.system_id),
        ("Publisher:", &p.publisher_id),
        ("Preparer:", &p.preparer_id),
        ("Application:", &p.application_id),
    ] {
        if !v.is_empty() {
            writeln!(out, "{label:<18} {v}")?;
        }
    }
    writeln!(
        out,
        "Volume size:       {} blocks of {} bytes ({} bytes)",
        p.volume_space_blocks, info.block_size, info.volume_bytes
    )?;
    if let Some(t) = p.created {
        writeln!(out, "Created:           {t}")?;
    }
    if let Some(t) = p.modified {
        writeln!(out, "Modified:          {t}")?;
    }
    let descriptors: Vec<String> = info
        .volume_descriptors
        .iter()
        .map(|d| format!("{:?}@{}", d.kind, d.sector))
        .collect();
    writeln!(out, "Descriptors:       {}", descriptors.join(", "))?;
    Ok(())
}

/// Writes the text lines saying whether Rock Ridge, Joliet and ISO 9660:1999 are present.
fn write_namespaces(out: &mut impl Write, info: &Info<'_>) -> anyhow::Result<()> {
    match info.rock_ridge {
        Some(rr) => writeln!(
            out,
            "Rock Ridge:        yes, version {} ({}){}",
            rr.version,
            if rr.extensions.is_empty() {
                "no ER".to_string()
            } else {
                rr.extensions.join(", ")
            },
            if rr.has_sp { "" } else { ", no SP" }
        )?,
        None => writeln!(out, "Rock Ridge:        no")?,
    }
    match info.joliet {
        Some(j) => writeln!(
            out,
            "Joliet:            yes, level {} (volume id {:?})",
            j.joliet_level.unwrap_or(0),
            j.volume_id
        )?,
        None => writeln!(out, "Joliet:            no")?,
    }
    writeln!(
        out,
        "ISO 9660:1999:     {}",
        if info.enhanced.is_some() { "yes" } else { "no" }
    )?;
    Ok(())
}

/// Writes the text lines about the El Torito boot catalog: its entries, why it is
/// unreadable, or that there is none.
fn write_el_torito(out: &mut impl Write, info: &Info<'_>) -> anyhow::Result<()> {
    match (&info.el_torito, &info.el_torito_error) {
        (Some(c), _) => {
            writeln!(
                out,
                "El Torito:         catalog at block {}, {} entr{}{}",
                c.lba,
                c.entries.len(),
                if c.entries.len() == 1 { "y" } else { "ies" },
                if c.checksum_ok {
                    ""
                } else {
                    " (bad validation checksum)"
                }
            )?;
            for e in &c.entries {
                writeln!(
                    out,
                    "  [{}] {} platform {:#04x}, {:?}, load segment {:#x}, {} sectors at block {}",
                    e.index,
                    if e.bootable {
                        "bootable"
                    } else {
                        "not bootable"
                    },
                    e.platform,
                    e.emulation,
                    e.load_segment,
                    e.sector_count,
                    e.load_rba
                )?;
            }
        }
        (None, Some(err)) => writeln!(out, "El Torito:         unreadable: {err}")?,
        (None, None) => writeln!(out, "El Torito:         no")?,
    }
    Ok(())
}

/// Writes the lines about xorriso's MD5 checksums: the tags (kind and block), the damaged
/// ones, and the checksum array (`isolution check` verifies them).
fn write_md5(out: &mut impl Write, m: &iso_core::Md5Tags) -> anyhow::Result<()> {
    let tags: Vec<String> = m
        .tags
        .iter()
        .map(|t| format!("{}@{}", t.kind.as_str(), t.lba))
        .collect();
    writeln!(
        out,
        "MD5 tags:          {}",
        if tags.is_empty() {
            "none".to_string()
        } else {
            tags.join(", ")
        }
    )?;
    for b in &m.bad_tags {
        writeln!(out, "  damaged: {}", b.error)?;
    }
    match (&m.checksum_array, &m.checksum_array_error) {
        (Some(ca), _) => writeln!(
            out,
            "MD5 array:         {} at block {}, {}, session blocks {} to {}",
            ca.algorithm,
            ca.end,
            count(ca.files() as usize, "file", "files"),
            ca.start,
            ca.end
        )?,
        (None, Some(e)) => writeln!(out, "MD5 array:         unreadable: {e}")?,
        (None, None) => {}
    }
    Ok(())
}

/// `n` and the noun `one` or `many`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Writes the lines about partition tables, HFS+, sessions and UDF: none when nothing was
/// found.
/// `udf_read`: the UDF volume parses (its tree is read with `-n udf`).
fn write_layout(
    out: &mut impl Write,
    l: &iso_core::iso9660::Layout,
    udf_read: bool,
) -> anyhow::Result<()> {
    if let Some(m) = &l.mbr {
        writeln!(
            out,
            "MBR:               {}, disk signature {:#010x}",
            count(m.entries.len(), "partition", "partitions"),
            m.disk_signature
        )?;
        for e in &m.entries {
            writeln!(
                out,
                "  [{}] {}type {:#04x}, {} sectors at sector {}",
                e.number,
                if e.bootable { "bootable, " } else { "" },
                e.kind,
                e.sectors,
                e.start
            )?;
        }
    }
    if let Some(g) = &l.gpt {
        writeln!(
            out,
            "GPT:               {}, disk GUID {}, {} entries of {} bytes at sector {}{}{}{}{}",
            count(g.entries.len(), "partition", "partitions"),
            g.disk_guid,
            g.entry_count,
            g.entry_size,
            g.entries_lba,
            if g.sector_size == 512 {
                String::new()
            } else {
                format!(", sectors of {} bytes", g.sector_size)
            },
            match &g.backup {
                None => ", no backup header".to_string(),
                Some(b) if b.header_crc_ok && b.entries_crc_ok && b.matches_primary => {
                    format!(", backup at sector {}", b.lba)
                }
                Some(b) => format!(", backup at sector {} damaged or different", b.lba),
            },
            if g.header_crc_ok {
                ""
            } else {
                ", bad header CRC"
            },
            if g.entries_crc_ok {
                ""
            } else {
                ", bad entries CRC"
            }
        )?;
        for e in &g.entries {
            writeln!(
                out,
                "  [{}] {:?} type {}, sectors {} to {}, attributes {:#x}",
                e.number, e.name, e.type_guid, e.first_lba, e.last_lba, e.attributes
            )?;
        }
    }
    if let Some(a) = &l.apm {
        writeln!(
            out,
            "Apple map:         {}, blocks of {} bytes",
            count(a.entries.len(), "partition", "partitions"),
            a.block_size
        )?;
        for e in &a.entries {
            writeln!(
                out,
                "  [{}] {:?} {}, {} blocks at block {}",
                e.number, e.name, e.kind, e.blocks, e.start
            )?;
        }
    }
    for h in &l.hfsplus {
        writeln!(
            out,
            "HFS+:              {} version {} volume at byte {} (its tree is not read)",
            h.signature, h.version, h.offset
        )?;
    }
    if !l.sessions.is_empty() {
        writeln!(out, "Sessions:          {}", l.sessions.len())?;
        for s in &l.sessions {
            writeln!(
                out,
                "  [{}] {} sectors at sector {}, volume id {:?}{}",
                s.number,
                s.sectors,
                s.start,
                s.volume_id,
                if s.current { " (read)" } else { "" }
            )?;
        }
    }
    if let Some(u) = &l.udf {
        let seq: Vec<String> = u
            .descriptors
            .iter()
            .map(|d| format!("{}@{}", d.id, d.sector))
            .collect();
        writeln!(
            out,
            "UDF:               {} ({}; {})",
            u.nsr.as_deref().unwrap_or("no NSR descriptor"),
            seq.join(", "),
            if udf_read {
                "its tree is read with -n udf"
            } else {
                "its tree is not read"
            }
        )?;
    }
    Ok(())
}
