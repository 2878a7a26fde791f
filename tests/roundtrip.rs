//! Round trips through real mastering tools: proptest generates small file trees (deep nesting,
//! odd names, symlinks, hard links, modes, files from empty to a few MB), writes them to a
//! temporary directory, masters an image with genisoimage or xorriso, and checks that the
//! reader gives the tree back.
//!
//! Rock Ridge namespace, for every image: the set of paths (directories included) equals the
//! source's; each entry's type, `mode() & 0o7777`, size and bytes (through `Image::reader` and
//! `Image::contents`) match `lstat`/the file; symlink targets match `readlink`; regular files'
//! `nlink()` matches; and the entries sharing a `file_id()` are exactly the source's hard-link
//! (inode) groups. Joliet namespace, where the tool writes one: every source file whose name
//! components fit the tool's Joliet name limit is found at the same path with the same bytes.
//!
//! Each tool/option set is its own proptest (12 cases by default; `ROUNDTRIP_CASES=n`
//! overrides, `ROUNDTRIP_SHRINK_ITERS=n` bounds shrinking, `ROUNDTRIP_STATS=1` prints what
//! each case exercised, with `--nocapture`). A missing tool skips its tests with a message.
//! A tool run that hangs is killed after `TOOL_TIMEOUT`. Failure messages name the command
//! and every path that differed, with the image's Rock Ridge listing; proptest then prints
//! the minimal tree.
//!
//! Neither tool alters modes (no `-r`), so modes are compared as they are. What the tools
//! do differently from the source is handled where it is checked, each with a comment: the
//! `rr_moved` directory of genisoimage, trailing slashes of symlink targets, Joliet's name
//! and path limits and character substitutions, genisoimage's trouble with long symlinks
//! and with characters beyond U+FFFF in Joliet, and xorriso writing nothing for an empty
//! tree.

use isolution_tests::mastering::{GENISO_R, GENISO_RJ, XORRISO, XORRISO_MKISOFS};
use isolution_tests::roundtrip::{config, round_trip};
use isolution_tests::tree::tree;
use proptest::prelude::*;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn genisoimage_rock_ridge_joliet(nodes in tree(&GENISO_RJ)) {
        round_trip(&GENISO_RJ, &nodes)?;
    }

    #[test]
    fn genisoimage_rock_ridge(nodes in tree(&GENISO_R)) {
        round_trip(&GENISO_R, &nodes)?;
    }

    #[test]
    fn xorriso_native(nodes in tree(&XORRISO)) {
        round_trip(&XORRISO, &nodes)?;
    }

    #[test]
    fn xorriso_as_mkisofs(nodes in tree(&XORRISO_MKISOFS)) {
        round_trip(&XORRISO_MKISOFS, &nodes)?;
    }
}
