//! Debian's `docker-registry` (distribution) on 127.0.0.1 with a config written here, for the
//! push and import tests.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{tool, Daemon};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `docker-registry` on 127.0.0.1, stopped when dropped.
pub struct Registry {
    _daemon: Daemon,
    /// `127.0.0.1:<port>`.
    pub addr: String,
}

/// Starts `docker-registry` on `port` with its storage under `root` (deletion allowed) and
/// `auth` (YAML lines under `auth:`, or none); `None` (the test skips) when it is not
/// installed.
pub fn start_registry(root: &Path, port: u16, auth: Option<&str>) -> Option<Registry> {
    if !tool("docker-registry") {
        return None;
    }
    let cfg = root.join("config.yml");
    let auth = auth.map(|a| format!("auth:\n{a}")).unwrap_or_default();
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog: {{ level: warn }}\nstorage:\n  filesystem: {{ rootdirectory: {} }}\n  delete: {{ enabled: true }}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
            root.join("data").display()
        ),
    )
    .unwrap();
    let daemon = Daemon::quiet(Command::new("docker-registry").arg("serve").arg(&cfg));
    let addr = format!("127.0.0.1:{port}");
    let t = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "docker-registry did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Registry {
        _daemon: daemon,
        addr,
    })
}
