//! Round trips of fixed trees through the mastering tools (see `tests/roundtrip.rs` for what is
//! checked): plain files that merely look like zisofs must come back as stored.

use isolution_tests::mastering::{GENISO_RJ, XORRISO};
use isolution_tests::roundtrip::round_trip;
use isolution_tests::tree::{content, Node};

/// A zlib stream of `data` in stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// A well-formed zisofs v1 file (one 32 KiB block) whose content is `data`.
fn zisofs_file(data: &[u8]) -> Vec<u8> {
    assert!(data.len() <= 1 << 15);
    let block = zlib_stored(data);
    let mut f = vec![0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(&[4, 15, 0, 0]);
    let first = 16 + 2 * 4;
    f.extend_from_slice(&(first as u32).to_le_bytes());
    f.extend_from_slice(&((first + block.len()) as u32).to_le_bytes());
    f.extend_from_slice(&block);
    f
}

/// Plain files that merely look like zisofs, mastered without compression (no `-z`, no
/// `-zisofs`): their bytes must come back as stored in every namespace. `stored.zisofs` is
/// what `mkzftree` writes (a well-formed zisofs stream, kept compressed on purpose);
/// `magic.bin` only starts with the 8-byte zisofs magic.
///
/// This fails while the reader guesses compression in the Joliet tree of a Rock Ridge image
/// from the zisofs magic alone (`looks_compressed` in `iso-core/src/iso9660/contents.rs`):
/// through Joliet, `stored.zisofs` comes back inflated (different bytes, more than `size()`
/// says) and `magic.bin` fails to read, while Rock Ridge gives both right.
#[test]
fn plain_files_that_look_like_zisofs() {
    let text = b"this is the uncompressed text\n".repeat(100);
    let mut magic = vec![0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];
    magic.extend(content(7, 5000));
    let nodes = vec![
        Node::Bytes {
            path: "stored.zisofs".into(),
            bytes: zisofs_file(&text),
        },
        Node::Bytes {
            path: "magic.bin".into(),
            bytes: magic,
        },
    ];
    let mut failures = Vec::new();
    for tool in [&GENISO_RJ, &XORRISO] {
        if let Err(e) = round_trip(tool, &nodes) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
