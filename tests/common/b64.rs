//! base64, standard alphabet, padded (the tests crate reads and writes signature files and
//! SSH keys without a base64 crate).

const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encode(b: &[u8]) -> String {
    let mut o = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                o.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// Strict decoding (length a multiple of 4, padding only at the end).
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches(['\r', '\n']).as_bytes();
    if s.len() % 4 != 0 {
        return None;
    }
    let mut o = Vec::with_capacity(s.len() / 4 * 3);
    for (ci, c) in s.chunks(4).enumerate() {
        let last = ci == s.len() / 4 - 1;
        let mut n = 0u32;
        let mut pad = 0;
        for &ch in c {
            let v = if ch == b'=' {
                pad += 1;
                0
            } else {
                if pad > 0 {
                    return None;
                }
                A.iter().position(|&a| a == ch)? as u32
            };
            n = n << 6 | v;
        }
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        o.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(o)
}
