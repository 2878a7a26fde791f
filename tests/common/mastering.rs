//! The mastering tools of the round trips (`tests/roundtrip.rs`): genisoimage and xorriso with
//! their option sets ([`Tool`]), and a mastering run that is killed when it hangs
//! ([`master`]).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Tool {
    /// The command as shown in messages (`SRC`/`ISO` stand for the paths).
    pub label: &'static str,
    pub program: &'static str,
    pub args: fn(&Path, &Path) -> Vec<String>,
    /// Longest Joliet name (UTF-16 units) the options allow, when the image has Joliet.
    pub joliet_max: Option<usize>,
    /// The tool relocates directories 8 levels below the root (ISO 9660 allows 8 levels
    /// counting the root) into a top-level `rr_moved`.
    pub relocates: bool,
    /// Generate names within the Basic Multilingual Plane only. genisoimage's Joliet is
    /// UCS-2: a name ends at its first character beyond U+FFFF (`emoji😀1🎉` becomes
    /// `emoji`), and when two names of a directory end up equal it aborts with "Incorrectly
    /// encoded string ... Possibly creating an invalid Joliet extension".
    pub bmp_only: bool,
    /// Longest symlink target generated. genisoimage 1.1.11 mishandles `SL` entries that
    /// do not fit in the directory record: with a 200-byte target and a 100-byte name, or a
    /// 300-byte target and a short name, it loops forever; in other cases it writes an `SL`
    /// longer than 255 bytes into the continuation area, its length byte wrapped (so the
    /// target is garbage to any reader). Up to 180 bytes always worked with 200-byte names.
    pub max_link: usize,
    /// libisofs leaves out of the Joliet tree (with a WARNING) whatever has a Joliet path
    /// longer than 240 bytes, counted as 1 + the sum over components of 1 + 2 × UTF-16
    /// units (`-compliance joliet_long_paths` lifts it): those files are not compared.
    pub joliet_path_max: Option<usize>,
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// `options` (split at spaces), then the ISO's and the source's paths (mkisofs style).
fn options_iso_src(options: &str, iso: &Path, src: &Path) -> Vec<String> {
    let mut a: Vec<String> = options.split_whitespace().map(str::to_string).collect();
    a.push(s(iso));
    a.push(s(src));
    a
}

// genisoimage shares one extent among a file's hard links thanks to `-cache-inodes`, its
// default on Linux; it records `PX` modes and link counts as `lstat` gives them.
pub const GENISO_RJ: Tool = Tool {
    label: "genisoimage -quiet -R -J -joliet-long -iso-level 3 -o ISO SRC",
    program: "genisoimage",
    args: |src, iso| options_iso_src("-quiet -R -J -joliet-long -iso-level 3 -o", iso, src),
    joliet_max: Some(103),
    relocates: true,
    bmp_only: true,
    max_link: 150,
    joliet_path_max: None,
};

pub const GENISO_R: Tool = Tool {
    label: "genisoimage -quiet -R -o ISO SRC",
    program: "genisoimage",
    args: |src, iso| options_iso_src("-quiet -R -o", iso, src),
    joliet_max: None,
    relocates: true,
    bmp_only: false,
    max_link: 150,
    joliet_path_max: None,
};

pub const XORRISO: Tool = Tool {
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

pub const XORRISO_MKISOFS: Tool = Tool {
    label: "xorriso -report_about SORRY -as mkisofs -quiet -R -J -o ISO SRC",
    program: "xorriso",
    args: |src, iso| options_iso_src("-report_about SORRY -as mkisofs -quiet -R -J -o", iso, src),
    joliet_max: Some(64),
    relocates: false,
    bmp_only: false,
    max_link: 4000,
    joliet_path_max: Some(240),
};

/// How long one mastering run may take before it counts as hung (and is killed).
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(15);

pub fn master(tool: &Tool, src: &Path, iso: &Path, log: &Path) -> Result<(), String> {
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
