//! The parsers of signature material and checksum lists: minisign/signify public keys and
//! signature files, allowed_signers files, SSH signatures and SHA256SUMS. The first byte picks
//! the parser; verification runs against fixed keys (the seeds' signatures are by them). Invariant: no panic, no hang.
#![no_main]

use iso_core::solution::signature::{
    parse_allowed_signers, parse_minisign_key, verify_minisign, verify_sshsig,
};
use iso_core::solution::sums::parse_sums;
use libfuzzer_sys::fuzz_target;

const MINISIGN_PUB: &str = "untrusted comment: minisign public key
RWRey8sejUjYL7PuAqbB5Uz6G6/Kb94e86yRitnEP3Js+MLcBtiLVfd4
";
const ALLOWED: &str =
    "rel@x ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMsuET/J4Hk7RfCbuPO7EF9w/Aj3FNLPGiIYIl6Eb+mM
";

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 5 {
        0 => {
            let _ = parse_minisign_key(&text);
        }
        1 => {
            let _ = parse_allowed_signers(&text);
        }
        2 => {
            if let Ok(k) = parse_minisign_key(MINISIGN_PUB) {
                let _ = verify_minisign(&k, &text, &[b"message"]);
            }
        }
        3 => {
            if let Ok(s) = parse_allowed_signers(ALLOWED) {
                let _ = verify_sshsig(
                    &s,
                    "release@example",
                    "metalk8s-solution",
                    &text,
                    &[b"message"],
                );
            }
        }
        _ => {
            let _ = parse_sums(&text);
        }
    }
});
