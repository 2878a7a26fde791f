//! AAIP 2.0 (Arbitrary Attribute Interchange Protocol): extended attributes and ACLs recorded
//! by xorriso / libisofs in `AL` System Use entries (`-for_backup`, or `-acl on -xattr any`).
//!
//! The SUSP parser only collects the raw `AL` payloads of a record (slices of the image,
//! continuation areas included); they are decoded here when asked for, through
//! [`DirEntry::xattr`](crate::DirEntry::xattr) and
//! [`DirEntry::attributes`](crate::DirEntry::attributes).
//!
//! One or more `AL` entries form an attribute list of components, names and values in turn,
//! each component split into records of at most 255 bytes. An empty name marks the value as a
//! compact binary ACL (access entries, then after a switch mark the default entries). Names
//! may start with a one-byte namespace shorthand (`0x02` `system.`, `0x03` `user.`, `0x04`
//! `isofs.`, `0x05` `trusted.`, `0x06` `security.`, `0x01` escapes a literal first byte).

use std::fmt;

use smallvec::SmallVec;

use crate::{Error, ErrorKind, Result};

/// One `AL` entry's payload (flags byte and component area) and the image offset of the entry.
pub(crate) type AlPiece<'data> = (u64, &'data [u8]);

/// The raw `AL` entries of one directory record, in recorded order, and the decoding budget.
/// The first entry is kept inline: most records have one (no allocation beyond the box).
#[derive(Clone, Debug)]
pub(crate) struct AlList<'data> {
    pub first: AlPiece<'data>,
    /// The entries after the first (a `Vec`, not a `SmallVec`, keeps `DirEntry` covariant).
    pub more: Vec<AlPiece<'data>>,
    /// [`Limits::max_aaip_bytes`](crate::Limits::max_aaip_bytes) when collected.
    pub max_bytes: u64,
}

impl<'data> AlList<'data> {
    /// A list of one entry.
    pub fn new(first: AlPiece<'data>, max_bytes: u64) -> Self {
        AlList {
            first,
            more: Vec::new(),
            max_bytes,
        }
    }

    /// Appends an entry.
    pub fn push(&mut self, p: AlPiece<'data>) {
        self.more.push(p);
    }

    /// The entries in order.
    pub fn pieces(&self) -> impl Iterator<Item = &AlPiece<'data>> + '_ {
        std::iter::once(&self.first).chain(self.more.iter())
    }
}

/// What is wrong with AAIP data; carried by [`ErrorKind::BadAaip`] with the offset of the `AL`
/// entry where it was found.
///
/// ```
/// use iso_core::{AaipError, ErrorKind};
/// let kind = ErrorKind::BadAaip(AaipError::UnknownAclTag(7));
/// assert_eq!(kind.to_string(), "malformed AAIP attributes: ACL entry with unknown tag type 7");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AaipError {
    /// An `AL` entry has no flags byte.
    #[error("AL entry without a flags byte")]
    EmptyEntry,
    /// A component record runs past the end of its `AL` entry.
    #[error("component record runs past its AL entry")]
    TruncatedComponent,
    /// The attribute list ends inside a component flagged as continued.
    #[error("attribute list ends inside a continued component")]
    UnterminatedComponent,
    /// The last `AL` entry is flagged as continued: the list never ends.
    #[error("last AL entry is flagged as continued: the attribute list never ends")]
    UnterminatedList,
    /// The list ends after a name, with no value for it.
    #[error("attribute list ends with a name that has no value")]
    MissingValue,
    /// More `AL` entries follow the one that ended the list.
    #[error("AL entries follow the end of the attribute list")]
    TrailingEntries,
    /// A name contains a 0 byte.
    #[error("attribute name contains a 0 byte")]
    NulInName,
    /// A name starts with a namespace byte that AAIP 2.0 reserves (0x07 to 0x1F).
    #[error("attribute name starts with reserved byte {0:#04x}")]
    ReservedNamePrefix(u8),
    /// Two ACL attributes (empty names) for one file.
    #[error("two ACL attributes for one file")]
    DuplicateAcl,
    /// An ACL entry's tag type is not one AAIP 2.0 defines for reading (or is
    /// `FUTURE_VERSION`).
    #[error("ACL entry with unknown tag type {0}")]
    UnknownAclTag(u8),
    /// An ACL qualifier runs past the end of the ACL.
    #[error("ACL qualifier runs past the end of the ACL")]
    TruncatedQualifier,
    /// A named user or group ACL entry without a qualifier, or with one longer than 4 bytes.
    #[error("ACL user or group entry without a numeric qualifier of 1 to 4 bytes")]
    BadQualifier,
    /// A `system.posix_acl_*` attribute that is not in the kernel's binary form.
    #[error("system.posix_acl_* value is not a version 2 binary ACL")]
    BadBinaryAcl,
}

/// The attributes of one entry, decoded from its AAIP `AL` entries.
///
/// ```no_run
/// # fn main() -> iso_core::Result<()> {
/// # let file = iso_core::IsoFile::open("backup.iso")?;
/// # let image = file.image()?;
/// let entry = image.lookup(iso_core::Namespace::RockRidge, "etc/passwd")?;
/// if let Some(attrs) = entry.attributes()? {
///     for x in &attrs.xattrs {
///         println!("{}={:?}", x.name_lossy(), x.value);
///     }
///     if let Some(acl) = &attrs.access_acl {
///         println!("{acl}"); // getfacl text: user::rw- ...
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Attributes {
    /// The extended attributes a user sees, in recorded order: everything but the internal
    /// `isofs.*` ones and the `system.posix_acl_access` / `system.posix_acl_default` copies of
    /// the ACLs (xorriso `-xattr any` records those besides the AAIP ACL; they are the
    /// [`access_acl`](Self::access_acl) and [`default_acl`](Self::default_acl) below).
    pub xattrs: Vec<Xattr>,
    /// The access ACL, when one is recorded.
    pub access_acl: Option<Acl>,
    /// The default ACL of a directory, when one is recorded.
    pub default_acl: Option<Acl>,
}

impl Attributes {
    /// True when `ls -l` should mark the entry with `+`: an access ACL beyond the mode bits, a
    /// default ACL, or any user-visible extended attribute.
    ///
    /// ```
    /// use iso_core::{Acl, AclEntry, AclTag, Attributes};
    /// let minimal = Acl { entries: vec![
    ///     AclEntry { tag: AclTag::UserObj, qualifier: None, perms: 6 },
    ///     AclEntry { tag: AclTag::GroupObj, qualifier: None, perms: 4 },
    ///     AclEntry { tag: AclTag::Other, qualifier: None, perms: 4 },
    /// ]};
    /// let attrs = Attributes { access_acl: Some(minimal), ..Attributes::default() };
    /// assert!(!attrs.is_extended());
    /// ```
    pub fn is_extended(&self) -> bool {
        !self.xattrs.is_empty()
            || self.default_acl.is_some()
            || self.access_acl.as_ref().is_some_and(|a| !a.is_minimal())
    }
}

/// One extended attribute: its full name (`user.foo`) and value, both raw bytes.
///
/// ```
/// let x = iso_core::Xattr { name: b"user.foo".to_vec(), value: b"bar".to_vec() };
/// assert_eq!(x.name_lossy(), "user.foo");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Xattr {
    /// Full name, namespace included (`user.foo`, `trusted.x`, `security.selinux`).
    pub name: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

impl Xattr {
    /// The name as text, invalid UTF-8 replaced.
    ///
    /// ```
    /// let x = iso_core::Xattr { name: b"user.\xff".to_vec(), value: vec![] };
    /// assert_eq!(x.name_lossy(), "user.\u{fffd}");
    /// ```
    pub fn name_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }
}

/// The tag of an ACL entry (POSIX.1e), as `getfacl` names it.
///
/// ```
/// assert_eq!(iso_core::AclTag::GroupObj.to_string(), "group");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AclTag {
    /// The owning user (`user::`).
    UserObj,
    /// A user named by its id (`user:1000:`).
    User,
    /// The owning group (`group::`).
    GroupObj,
    /// A group named by its id (`group:100:`).
    Group,
    /// The mask of named entries and the owning group (`mask::`).
    Mask,
    /// Everybody else (`other::`).
    Other,
}

impl AclTag {
    /// The kernel's `ACL_*` tag value, as in `system.posix_acl_access`.
    fn kernel(self) -> u16 {
        match self {
            AclTag::UserObj => 0x01,
            AclTag::User => 0x02,
            AclTag::GroupObj => 0x04,
            AclTag::Group => 0x08,
            AclTag::Mask => 0x10,
            AclTag::Other => 0x20,
        }
    }
}

impl fmt::Display for AclTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AclTag::UserObj | AclTag::User => "user",
            AclTag::GroupObj | AclTag::Group => "group",
            AclTag::Mask => "mask",
            AclTag::Other => "other",
        })
    }
}

/// One ACL entry: a tag, the numeric user or group id of [`AclTag::User`] and
/// [`AclTag::Group`] entries, and permission bits (4 read, 2 write, 1 execute).
///
/// Qualifiers are numeric: AAIP records ids, and this reader does not map them to names
/// (AAIP's optional `TRANSLATE` entries are skipped).
///
/// ```
/// use iso_core::{AclEntry, AclTag};
/// let e = AclEntry { tag: AclTag::User, qualifier: Some(1000), perms: 0o6 };
/// assert_eq!(e.to_string(), "user:1000:rw-");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AclEntry {
    /// Whom the entry is for.
    pub tag: AclTag,
    /// The user or group id, for [`AclTag::User`] and [`AclTag::Group`].
    pub qualifier: Option<u32>,
    /// Permission bits: 4 read, 2 write, 1 execute.
    pub perms: u8,
}

impl fmt::Display for AclEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.tag)?;
        if let Some(q) = self.qualifier {
            write!(f, "{q}")?;
        }
        let bit = |b: u8, c: char| if self.perms & b != 0 { c } else { '-' };
        write!(f, ":{}{}{}", bit(4, 'r'), bit(2, 'w'), bit(1, 'x'))
    }
}

/// A POSIX ACL: its entries in recorded order.
///
/// `Display` writes the `getfacl` / `setfacl --set-file` text form, one entry a line with no
/// final newline; `{:#}` writes the short comma-separated form that `setfacl --set` takes.
///
/// ```
/// use iso_core::{Acl, AclEntry, AclTag};
/// let acl = Acl { entries: vec![
///     AclEntry { tag: AclTag::UserObj, qualifier: None, perms: 6 },
///     AclEntry { tag: AclTag::User, qualifier: Some(1234), perms: 7 },
///     AclEntry { tag: AclTag::GroupObj, qualifier: None, perms: 4 },
///     AclEntry { tag: AclTag::Mask, qualifier: None, perms: 7 },
///     AclEntry { tag: AclTag::Other, qualifier: None, perms: 4 },
/// ]};
/// assert_eq!(acl.to_string(), "user::rw-\nuser:1234:rwx\ngroup::r--\nmask::rwx\nother::r--");
/// assert_eq!(format!("{acl:#}"), "user::rw-,user:1234:rwx,group::r--,mask::rwx,other::r--");
/// assert!(!acl.is_minimal());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Acl {
    /// The entries.
    pub entries: Vec<AclEntry>,
}

impl Acl {
    /// True when the ACL says no more than the mode bits: only the owning user, the owning
    /// group and other.
    ///
    /// ```
    /// assert!(iso_core::Acl::default().is_minimal());
    /// ```
    pub fn is_minimal(&self) -> bool {
        self.entries
            .iter()
            .all(|e| matches!(e.tag, AclTag::UserObj | AclTag::GroupObj | AclTag::Other))
    }

    /// The getfacl text lines, one per entry.
    ///
    /// ```
    /// use iso_core::{Acl, AclEntry, AclTag};
    /// let acl = Acl { entries: vec![AclEntry { tag: AclTag::Other, qualifier: None, perms: 5 }] };
    /// assert_eq!(acl.lines(), ["other::r-x"]);
    /// ```
    pub fn lines(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.to_string()).collect()
    }

    /// The Linux kernel's binary form, the value of the `system.posix_acl_access` and
    /// `system.posix_acl_default` extended attributes: a little-endian version 2 header, then
    /// 8-byte entries (tag, permissions, id) sorted by tag and id, as the kernel requires.
    ///
    /// ```
    /// use iso_core::{Acl, AclEntry, AclTag};
    /// let acl = Acl { entries: vec![AclEntry { tag: AclTag::Other, qualifier: None, perms: 5 }] };
    /// assert_eq!(acl.to_xattr_bytes(), [2, 0, 0, 0, 0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff]);
    /// ```
    pub fn to_xattr_bytes(&self) -> Vec<u8> {
        let mut entries: Vec<(u16, u32, u8)> = self
            .entries
            .iter()
            .map(|e| (e.tag.kernel(), e.qualifier.unwrap_or(u32::MAX), e.perms & 7))
            .collect();
        entries.sort_unstable();
        let mut out = Vec::with_capacity(4 + 8 * entries.len());
        out.extend_from_slice(&2u32.to_le_bytes());
        for (tag, id, perms) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&u16::from(perms).to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
        }
        out
    }

    /// Parses the kernel's binary form (see [`Acl::to_xattr_bytes`]).
    ///
    /// ```
    /// use iso_core::Acl;
    /// let acl = Acl::from_xattr_bytes(&[2, 0, 0, 0, 0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff]).unwrap();
    /// assert_eq!(acl.to_string(), "other::r-x");
    /// assert!(Acl::from_xattr_bytes(&[1, 0, 0, 0]).is_err());
    /// ```
    pub fn from_xattr_bytes(b: &[u8]) -> std::result::Result<Acl, AaipError> {
        let (head, rest) = b.split_at_checked(4).ok_or(AaipError::BadBinaryAcl)?;
        if head != [2, 0, 0, 0] || rest.len() % 8 != 0 {
            return Err(AaipError::BadBinaryAcl);
        }
        let mut entries = Vec::with_capacity(rest.len() / 8);
        for e in rest.chunks_exact(8) {
            let tag = u16::from_le_bytes([e[0], e[1]]);
            let perms = u16::from_le_bytes([e[2], e[3]]);
            let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            let tag = match tag {
                0x01 => AclTag::UserObj,
                0x02 => AclTag::User,
                0x04 => AclTag::GroupObj,
                0x08 => AclTag::Group,
                0x10 => AclTag::Mask,
                0x20 => AclTag::Other,
                t => return Err(AaipError::UnknownAclTag(t.min(255) as u8)),
            };
            let qualifier = matches!(tag, AclTag::User | AclTag::Group).then_some(id);
            entries.push(AclEntry {
                tag,
                qualifier,
                perms: (perms & 7) as u8,
            });
        }
        Ok(Acl { entries })
    }
}

impl fmt::Display for Acl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if f.alternate() { "," } else { "\n" };
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(sep)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The decoded attribute list of one record: names (namespace shorthand expanded) and values,
/// and the AAIP ACL with the offset of the entry where its value starts.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub attrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub acl: Option<(u64, Vec<u8>)>,
}

fn bad(e: AaipError, at: u64) -> Error {
    Error::at(ErrorKind::BadAaip(e), at)
}

/// Decodes the attribute list made of `list`'s `AL` entries.
///
/// The component areas of the entries form one stream: a component record may itself be cut
/// at the end of an entry and go on at the start of the next one (AAIP 2.0's example, and
/// what libisofs writes for long values). The stream is bounded by the budget before it is
/// gathered.
pub(crate) fn decode(list: &AlList<'_>) -> Result<Decoded> {
    // The stream, and where each entry's part of it starts (stream position, image offset).
    let mut stream: Vec<u8> = Vec::new();
    let mut starts: SmallVec<[(usize, u64); 4]> = SmallVec::new();
    let mut ended = false;
    let mut last_at = list.first.0;
    for &(at, d) in list.pieces() {
        if ended {
            return Err(bad(AaipError::TrailingEntries, at));
        }
        let (&flags, area) = d
            .split_first()
            .ok_or_else(|| bad(AaipError::EmptyEntry, at))?;
        let total = (stream.len() + area.len()) as u64;
        if total > list.max_bytes {
            return Err(Error::at(
                ErrorKind::LimitExceeded {
                    limit: "max_aaip_bytes",
                    value: total,
                    max: list.max_bytes,
                },
                at,
            ));
        }
        starts.push((stream.len(), at));
        stream.extend_from_slice(area);
        ended = flags & 1 == 0;
        last_at = at;
    }
    if !ended {
        return Err(bad(AaipError::UnterminatedList, last_at));
    }
    // The image offset of the entry holding stream position `pos`.
    let offset_of = |pos: usize| {
        starts
            .iter()
            .rev()
            .find(|(s, _)| *s <= pos)
            .map_or(list.first.0, |(_, at)| *at)
    };
    let mut out = Decoded::default();
    // The component being assembled, and where it started.
    let mut cur: Vec<u8> = Vec::new();
    let mut cur_at = 0u64;
    let mut cur_open = false;
    let mut name: Option<(u64, Vec<u8>)> = None;
    let mut p = 0usize;
    while p < stream.len() {
        let at = offset_of(p);
        let (Some(&cflags), Some(&clen)) = (stream.get(p), stream.get(p + 1)) else {
            return Err(bad(AaipError::TruncatedComponent, at));
        };
        let bytes = stream
            .get(p + 2..p + 2 + usize::from(clen))
            .ok_or_else(|| bad(AaipError::TruncatedComponent, at))?;
        p += 2 + usize::from(clen);
        if !cur_open {
            cur_at = at;
            cur_open = true;
        }
        cur.extend_from_slice(bytes);
        if cflags & 1 != 0 {
            continue;
        }
        cur_open = false;
        let comp = std::mem::take(&mut cur);
        match name.take() {
            None => name = Some((cur_at, comp)),
            Some((name_at, n)) if n.is_empty() => {
                if out.acl.is_some() {
                    return Err(bad(AaipError::DuplicateAcl, name_at));
                }
                out.acl = Some((cur_at, comp));
            }
            Some((name_at, n)) => out.attrs.push((expand_name(&n, name_at)?, comp)),
        }
    }
    if cur_open {
        return Err(bad(AaipError::UnterminatedComponent, cur_at));
    }
    if let Some((at, _)) = name {
        return Err(bad(AaipError::MissingValue, at));
    }
    Ok(out)
}

/// A recorded name with its namespace shorthand byte expanded.
fn expand_name(n: &[u8], at: u64) -> Result<Vec<u8>> {
    if n.contains(&0) {
        return Err(bad(AaipError::NulInName, at));
    }
    let (prefix, rest): (&[u8], &[u8]) = match n.split_first() {
        Some((&1, rest)) => (b"", rest),
        Some((&2, rest)) => (b"system.", rest),
        Some((&3, rest)) => (b"user.", rest),
        Some((&4, rest)) => (b"isofs.", rest),
        Some((&5, rest)) => (b"trusted.", rest),
        Some((&6, rest)) => (b"security.", rest),
        Some((&b, _)) if b < 0x20 => return Err(bad(AaipError::ReservedNamePrefix(b), at)),
        _ => (b"", n),
    };
    let mut v = Vec::with_capacity(prefix.len() + rest.len());
    v.extend_from_slice(prefix);
    v.extend_from_slice(rest);
    Ok(v)
}

/// Decodes the compact AAIP ACL `v` into its access and default ACLs.
pub(crate) fn decode_acl(v: &[u8], at: u64) -> Result<(Option<Acl>, Option<Acl>)> {
    let mut access: Vec<AclEntry> = Vec::new();
    let mut default: Option<Vec<AclEntry>> = None;
    let mut p = 0usize;
    while let Some(&flags) = v.get(p) {
        p += 1;
        let perms = flags & 7;
        let kind = flags >> 4;
        // Qualifier records: a head (length, 0x80 when another record follows), then bytes.
        let mut qual: SmallVec<[u8; 8]> = SmallVec::new();
        let has_qual = flags & 8 != 0;
        if has_qual {
            loop {
                let head = *v
                    .get(p)
                    .ok_or_else(|| bad(AaipError::TruncatedQualifier, at))?;
                let n = usize::from(head & 0x7f);
                let bytes = v
                    .get(p + 1..p + 1 + n)
                    .ok_or_else(|| bad(AaipError::TruncatedQualifier, at))?;
                qual.extend_from_slice(bytes);
                p += 1 + n;
                if head & 0x80 == 0 {
                    break;
                }
            }
        }
        let tag = match kind {
            0 => continue, // TRANSLATE: a name hint, not an entry
            8 => {
                // SWITCH_MARK: what follows is the default ACL.
                default.get_or_insert_with(Vec::new);
                continue;
            }
            1 => AclTag::UserObj,
            3 => AclTag::GroupObj,
            5 => AclTag::Mask,
            6 => AclTag::Other,
            10 => AclTag::User,
            12 => AclTag::Group,
            k => return Err(bad(AaipError::UnknownAclTag(k), at)),
        };
        let qualifier = if matches!(tag, AclTag::User | AclTag::Group) {
            if !has_qual || qual.is_empty() || qual.len() > 4 {
                return Err(bad(AaipError::BadQualifier, at));
            }
            Some(qual.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b)))
        } else {
            None
        };
        let e = AclEntry {
            tag,
            qualifier,
            perms,
        };
        match default.as_mut() {
            Some(d) => d.push(e),
            None => access.push(e),
        }
    }
    let access = (!access.is_empty()).then_some(Acl { entries: access });
    let default = default
        .filter(|d| !d.is_empty())
        .map(|entries| Acl { entries });
    Ok((access, default))
}

/// The value of attribute `name` (`b""` is the AAIP ACL itself).
pub(crate) fn xattr(list: &AlList<'_>, name: &[u8]) -> Result<Option<Vec<u8>>> {
    let d = decode(list)?;
    if name.is_empty() {
        return Ok(d.acl.map(|(_, v)| v));
    }
    Ok(d.attrs.into_iter().find(|(n, _)| n == name).map(|(_, v)| v))
}

/// All attributes, split into user-visible ones and ACLs.
pub(crate) fn attributes(list: &AlList<'_>) -> Result<Attributes> {
    let d = decode(list)?;
    let (mut access_acl, mut default_acl) = match &d.acl {
        Some((at, v)) => decode_acl(v, *at)?,
        None => (None, None),
    };
    let mut xattrs = Vec::new();
    for (name, value) in d.attrs {
        let slot = match name.as_slice() {
            b"system.posix_acl_access" => &mut access_acl,
            b"system.posix_acl_default" => &mut default_acl,
            n if n.starts_with(b"isofs.") => continue,
            _ => {
                xattrs.push(Xattr { name, value });
                continue;
            }
        };
        // A copy of the ACL recorded as a plain attribute (xorriso `-xattr any`): used only
        // when there is no AAIP ACL.
        if d.acl.is_none() && slot.is_none() {
            let at = list.first.0;
            *slot = Some(Acl::from_xattr_bytes(&value).map_err(|e| bad(e, at))?);
        }
    }
    Ok(Attributes {
        xattrs,
        access_acl,
        default_acl,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn list(pieces: &[&'static [u8]]) -> AlList<'static> {
        let mut it = pieces.iter().enumerate().map(|(i, p)| (100 * i as u64, *p));
        let mut l = AlList::new(it.next().unwrap(), crate::Limits::DEFAULT.max_aaip_bytes);
        l.more.extend(it);
        l
    }

    fn aaip_err(r: Result<impl fmt::Debug>) -> (AaipError, u64) {
        let e = r.unwrap_err();
        match e.kind() {
            ErrorKind::BadAaip(k) => (*k, e.offset().unwrap()),
            k => panic!("not a BadAaip error: {k:?}"),
        }
    }

    #[test]
    fn spec_example_split_value_and_two_pairs() {
        // "name" = "long-content" whose second component record is cut after "long-" and
        // goes on in the next entry, then "one" = "more" (AAIP 2.0's example, shortened).
        let a: &'static [u8] = b"\x01\x00\x04name\x00\x0clong-";
        let b: &'static [u8] = b"\x00content\x00\x03one\x00\x04more";
        let d = decode(&list(&[a, b])).unwrap();
        assert_eq!(
            d.attrs,
            vec![
                (b"name".to_vec(), b"long-content".to_vec()),
                (b"one".to_vec(), b"more".to_vec())
            ]
        );
        // The same split in component records flagged as continued.
        let a: &'static [u8] = b"\x01\x00\x04name\x01\x05long-";
        let b: &'static [u8] = b"\x00\x00\x07content\x00\x03one\x00\x04more";
        assert_eq!(decode(&list(&[a, b])).unwrap().attrs, d.attrs);
        // An error in the second entry is at its offset.
        let b: &'static [u8] = b"\x00content\x00\x03one\x00\x09more";
        assert_eq!(
            aaip_err(decode(&list(&[a, b]))),
            (AaipError::TruncatedComponent, 100)
        );
    }

    #[test]
    fn namespaces_and_acl() {
        let l = list(&[
            b"\x00\x00\x04\x03foo\x00\x03bar\x00\x03\x04di\x00\x01x\x00\x00\x00\x0b\x16\xaf\x02\x04\xd2\x34\xcd\x01\x37\x57\x64",
        ]);
        assert_eq!(xattr(&l, b"user.foo").unwrap().unwrap(), b"bar");
        assert_eq!(xattr(&l, b"isofs.di").unwrap().unwrap(), b"x");
        assert_eq!(xattr(&l, b"user.none").unwrap(), None);
        let a = attributes(&l).unwrap();
        assert_eq!(a.xattrs.len(), 1);
        let acl = a.access_acl.unwrap();
        assert_eq!(
            acl.to_string(),
            "user::rw-\nuser:1234:rwx\ngroup::r--\ngroup:55:r-x\nmask::rwx\nother::r--"
        );
        assert!(a.default_acl.is_none());
    }

    #[test]
    fn default_acl_after_switch_mark() {
        let l = list(&[b"\x00\x00\x00\x00\x0b\x17\x35\x65\x81\x17\x35\x57\x65\xaf\x01\x7b"]);
        let a = attributes(&l).unwrap();
        assert_eq!(
            a.access_acl.unwrap().to_string(),
            "user::rwx\ngroup::r-x\nother::r-x"
        );
        assert_eq!(
            a.default_acl.unwrap().to_string(),
            "user::rwx\ngroup::r-x\nmask::rwx\nother::r-x\nuser:123:rwx"
        );
    }

    #[test]
    fn kernel_form_round_trip() {
        let v = b"\x02\x00\x00\x00\x01\x00\x06\x00\xff\xff\xff\xff\x02\x00\x07\x00\xd2\x04\x00\x00\x04\x00\x04\x00\xff\xff\xff\xff\x10\x00\x07\x00\xff\xff\xff\xff\x20\x00\x04\x00\xff\xff\xff\xff";
        let acl = Acl::from_xattr_bytes(v).unwrap();
        assert_eq!(acl.to_xattr_bytes(), v);
        assert_eq!(
            Acl::from_xattr_bytes(&v[..10]),
            Err(AaipError::BadBinaryAcl)
        );
    }

    #[test]
    fn acl_from_posix_xattr_when_no_aaip_acl() {
        let l = list(&[b"\x00\x00\x11\x02posix_acl_access\x00\x0c\x02\x00\x00\x00\x20\x00\x05\x00\xff\xff\xff\xff"]);
        let a = attributes(&l).unwrap();
        assert!(a.xattrs.is_empty());
        assert_eq!(a.access_acl.unwrap().to_string(), "other::r-x");
    }

    #[test]
    fn truncated_component() {
        assert_eq!(
            aaip_err(decode(&list(&[b"\x00\x00\x09abc"]))),
            (AaipError::TruncatedComponent, 0)
        );
        assert_eq!(
            aaip_err(decode(&list(&[b"\x00\x00"]))),
            (AaipError::TruncatedComponent, 0)
        );
        assert_eq!(aaip_err(decode(&list(&[b""]))), (AaipError::EmptyEntry, 0));
    }

    #[test]
    fn lists_and_pairs_that_never_end() {
        // The last entry says it continues.
        let l = list(&[b"\x01\x00\x01a\x00\x01b", b"\x01\x00\x01c\x00\x01d"]);
        assert_eq!(aaip_err(decode(&l)), (AaipError::UnterminatedList, 100));
        // A component flagged continued, then nothing.
        let l = list(&[b"\x00\x00\x01a\x01\x01b"]);
        assert_eq!(aaip_err(decode(&l)), (AaipError::UnterminatedComponent, 0));
        // A name without value.
        let l = list(&[b"\x00\x00\x01a\x00\x01b\x00\x01c"]);
        assert_eq!(aaip_err(decode(&l)), (AaipError::MissingValue, 0));
        // Entries after the end.
        let l = list(&[b"\x00\x00\x01a\x00\x01b", b"\x00\x00\x01c\x00\x01d"]);
        assert_eq!(aaip_err(decode(&l)), (AaipError::TrailingEntries, 100));
        // A component cut at the end of the last entry.
        let l = list(&[b"\x01\x00\x01a\x00\x05b", b"\x00cd"]);
        assert_eq!(aaip_err(decode(&l)), (AaipError::TruncatedComponent, 0));
    }

    #[test]
    fn oversized_continued_attribute_hits_the_budget() {
        // 1000 entries each continuing one 250-byte component: 252,000 bytes.
        let piece: &'static [u8] = Box::leak({
            let mut p = vec![1u8, 1, 250];
            p.extend([b'x'; 250]);
            p.into_boxed_slice()
        });
        let mut l = AlList::new((0, piece), 100_000);
        l.more = (1..1000).map(|i| (i * 256, piece)).collect();
        let e = decode(&l).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::LimitExceeded {
                    limit: "max_aaip_bytes",
                    max: 100_000,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset(), Some(396 * 256)); // 397 areas of 252 bytes
    }

    #[test]
    fn bad_acls() {
        let acl = |v: &[u8]| decode_acl(v, 7).map(|_| ());
        assert_eq!(aaip_err(acl(b"\x27")), (AaipError::UnknownAclTag(2), 7));
        assert_eq!(aaip_err(acl(b"\xf7")), (AaipError::UnknownAclTag(15), 7));
        assert_eq!(
            aaip_err(acl(b"\xaf\x05\x01")),
            (AaipError::TruncatedQualifier, 7)
        );
        assert_eq!(
            aaip_err(acl(b"\xaf\x81\x01")),
            (AaipError::TruncatedQualifier, 7)
        );
        assert_eq!(aaip_err(acl(b"\xa7")), (AaipError::BadQualifier, 7));
        assert_eq!(
            aaip_err(acl(b"\xaf\x05\x01\x02\x03\x04\x05")),
            (AaipError::BadQualifier, 7)
        );
        // A qualifier split over records, and a TRANSLATE entry that is skipped.
        let (a, _) = decode_acl(b"\x08\x05\x00\x00\x00\x00\x01\xaf\x81\x04\x01\xd2", 0).unwrap();
        assert_eq!(a.unwrap().to_string(), "user:1234:rwx");
        let l = list(&[b"\x00\x00\x00\x00\x01\x17\x00\x00\x00\x01\x17"]);
        assert_eq!(aaip_err(decode(&l)), (AaipError::DuplicateAcl, 0));
    }

    #[test]
    fn names() {
        assert_eq!(expand_name(b"\x01\x03x", 0).unwrap(), b"\x03x");
        assert_eq!(expand_name(b"\x05x", 0).unwrap(), b"trusted.x");
        assert_eq!(
            aaip_err(expand_name(b"\x07x", 3)),
            (AaipError::ReservedNamePrefix(7), 3)
        );
        assert_eq!(
            aaip_err(expand_name(b"a\x00", 3)),
            (AaipError::NulInName, 3)
        );
    }
}
