"""Type stubs of the native module ``isolution._native`` (re-exported by ``isolution``)."""

import os
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Literal, TypedDict, final

from ._io import ImageFile
from ._report import ValidationReport

__all__ = [
    "BootCatalog",
    "BootEntry",
    "ContainerImage",
    "DeployError",
    "Descriptor",
    "Entry",
    "ExportError",
    "Finding",
    "FormatError",
    "Image",
    "IsolutionError",
    "LimitExceeded",
    "PackError",
    "PlatformManifest",
    "RegistryError",
    "RenderWarning",
    "SignatureError",
    "Solution",
    "SolutionsConfig",
    "ValidationError",
    "_NativeFile",
    "_Views",
    "__version__",
    "load_solutions_config",
    "open",
    "pack",
]

__version__: str

_Namespace = Literal["rr", "joliet", "iso1999", "primary", "udf"]
_EntryType = Literal["file", "dir", "symlink", "block-device", "char-device", "fifo", "socket"]
_Path = str | os.PathLike[str]
_Progress = Callable[[int, int], object]

class _LayoutWarning(TypedDict):
    offset: int
    message: str

class _MbrEntry(TypedDict):
    number: int
    bootable: bool
    kind: int
    start: int
    sectors: int

class _Mbr(TypedDict):
    disk_signature: int
    entries: list[_MbrEntry]

class _GptEntry(TypedDict):
    number: int
    type_guid: str
    guid: str
    first_lba: int
    last_lba: int
    attributes: int
    name: str

class _GptBackup(TypedDict):
    lba: int
    header_crc_ok: bool
    entries_crc_ok: bool
    entries_lba: int
    matches_primary: bool

class _Gpt(TypedDict):
    sector_size: Literal[512, 2048, 4096]
    header_lba: int
    disk_guid: str
    backup_lba: int
    first_usable_lba: int
    last_usable_lba: int
    entries_lba: int
    entry_count: int
    entry_size: int
    header_crc_ok: bool
    entries_crc_ok: bool
    backup: _GptBackup | None
    entries: list[_GptEntry]

class _Layout(TypedDict):
    """``Image.layout``: what the image holds beside its ISO 9660 trees."""
    mbr: _Mbr | None
    gpt: _Gpt | None
    apm: dict[str, Any] | None
    hfsplus: list[dict[str, Any]]
    udf: dict[str, Any] | None
    sessions: list[dict[str, Any]]
    warnings: list[_LayoutWarning]

class _Md5Tag(TypedDict):
    kind: Literal["rlsb32", "superblock", "tree", "session"]
    lba: int
    range_start: int
    range_size: int
    next: int | None
    session_start: int | None
    md5: str

class _BadMd5Tag(TypedDict):
    kind: Literal["rlsb32", "superblock", "tree", "session"] | None
    lba: int
    error: str

class _ChecksumArray(TypedDict):
    start: int
    end: int
    count: int
    item_size: int
    algorithm: str

class _Md5Tags(TypedDict):
    """``Image.md5_tags``: the MD5 checksums xorriso recorded (``-md5 on``)."""
    tags: list[_Md5Tag]
    bad_tags: list[_BadMd5Tag]
    checksum_array: _ChecksumArray | None
    checksum_array_error: str | None

class _Md5Check(TypedDict):
    item: Literal[
        "rlsb32",
        "superblock",
        "tree",
        "session",
        "unknown-tag",
        "session-checksum",
        "checksum-array",
        "files",
        "file",
    ]
    path: str | None
    status: Literal["ok", "mismatch", "unreadable"]
    offset: int
    range: list[int] | None
    recorded: str | None
    computed: str | None
    error: str | None

class _Md5Report(TypedDict):
    """``Image.check_md5()``: what ``isolution check --json`` prints."""
    ok: bool
    md5_recorded: bool
    summary: str
    bytes: int
    checks: list[_Md5Check]

class IsolutionError(Exception):
    """Base class of the errors raised by isolution."""

class FormatError(IsolutionError):
    """The image is not ISO 9660, or is malformed."""
    offset: int | None
    path: str | None

class LimitExceeded(IsolutionError):
    """A safety budget was exceeded while reading the image."""
    offset: int | None
    path: str | None

class ValidationError(IsolutionError):
    """A Solution failed validation (only with ``check=True``)."""
    findings: ValidationReport

class SignatureError(IsolutionError):
    """A signature did not verify, or a key could not be read."""
    report: dict[str, Any]

class ExportError(IsolutionError):
    """Exporting images failed (a layout, an archive, or a push)."""

class DeployError(IsolutionError):
    """The archive cannot be deployed the way MetalK8s deploys it."""
    path: str

class RenderWarning(UserWarning):
    """Something rendered but worth a look."""

class PackError(IsolutionError): ...

class RegistryError(ExportError):
    """A push failed at the registry (an error answer, or unreachable)."""
    method: str
    url: str
    status: int | None
    body: str | None

@final
class Entry:
    """One entry of an image, in one namespace (plain data, like ``tarfile.TarInfo``)."""
    @property
    def path(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> _EntryType: ...
    @property
    def size(self) -> int: ...
    @property
    def mode(self) -> int: ...
    @property
    def mtime(self) -> float | None: ...
    @property
    def nlink(self) -> int | None: ...
    @property
    def uid(self) -> int | None: ...
    @property
    def gid(self) -> int | None: ...
    @property
    def target(self) -> str | None: ...
    @property
    def device(self) -> tuple[int, int] | None: ...
    @property
    def extents(self) -> list[tuple[int, int]]: ...
    @property
    def file_id(self) -> tuple[int, int] | None: ...
    @property
    def hidden(self) -> bool: ...
    @property
    def record_offset(self) -> int: ...
    @property
    def namespace(self) -> _Namespace: ...
    @property
    def xattrs(self) -> dict[str, bytes]:
        """AAIP extended attributes (xorriso ``-xattr``, ``-for_backup``), full name to value;
        ``isofs.*`` and the ``system.posix_acl_*`` copies of the ACLs are left out."""
    @property
    def acl(self) -> str | None:
        """The AAIP access ACL in ``getfacl`` text form (numeric ids, one entry a line)."""
    @property
    def default_acl(self) -> str | None:
        """A directory's AAIP default ACL in ``getfacl`` text form, without ``default:``."""
    def is_dir(self) -> bool: ...
    def is_file(self) -> bool: ...
    def is_symlink(self) -> bool: ...

@final
class Image:
    """An ISO 9660 image; a context manager. Safe to share between threads."""
    def __new__(
        cls,
        path: _Path,
        *,
        in_memory: bool = False,
        max_depth: int | None = None,
        max_entries: int | None = None,
        max_directories: int | None = None,
        max_name_bytes: int | None = None,
        max_path_bytes: int | None = None,
        max_susp_bytes: int | None = None,
        max_extents_per_file: int | None = None,
    ) -> Image: ...
    @staticmethod
    def from_bytes(
        data: bytes | bytearray | memoryview,
        *,
        max_depth: int | None = None,
        max_entries: int | None = None,
        max_directories: int | None = None,
        max_name_bytes: int | None = None,
        max_path_bytes: int | None = None,
        max_susp_bytes: int | None = None,
        max_extents_per_file: int | None = None,
    ) -> Image: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Image: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
    @property
    def path(self) -> Path | None: ...
    @property
    def size(self) -> int: ...
    @property
    def namespace(self) -> _Namespace: ...
    @property
    def namespaces(self) -> list[_Namespace]: ...
    @property
    def volume(self) -> dict[str, Any]: ...
    def walk(self, path: str = "", *, namespace: _Namespace | None = None) -> list[Entry]: ...
    def listdir(self, path: str = "", *, namespace: _Namespace | None = None) -> list[str]: ...
    def stat(self, path: str, *, namespace: _Namespace | None = None) -> Entry: ...
    def exists(self, path: str, *, namespace: _Namespace | None = None) -> bool: ...
    def read(self, path: str, *, namespace: _Namespace | None = None) -> bytes: ...
    def view(self, path: str, *, namespace: _Namespace | None = None) -> memoryview:
        """A read-only memoryview of the file: zero-copy (a slice of a ``mmap`` of the image)
        for a file stored as one range; a view of a copy for a zisofs file (inflated), a
        multi-extent file in separate places and an ``in_memory`` image. Raises as ``read``."""
    def sha256_all(
        self,
        namespace: _Namespace | None = None,
        *,
        threads: int | None = None,
        paths: Iterable[str] | None = None,
    ) -> dict[str, str]:
        """SHA-256 of every regular file (or of ``paths``): path -> lower-case hex digest, as
        ``hashlib.sha256(image.read(path)).hexdigest()``; hashed in Rust on every core (or
        ``threads``) with the GIL released, straight from the mapping."""
    def views(
        self, namespace: _Namespace | None = None, *, paths: Iterable[str] | None = None
    ) -> _Views:
        """``(path, memoryview)`` for every regular file (or ``paths``), each as ``view``."""
    def open(
        self, path: str, mode: Literal["rb", "r"] = "rb", *, namespace: _Namespace | None = None
    ) -> ImageFile: ...
    @property
    def boot_catalog(self) -> BootCatalog | None: ...
    @property
    def layout(self) -> _Layout: ...
    @property
    def md5_tags(self) -> _Md5Tags | None:
        """The MD5 checksums xorriso recorded (tags, checksum array), or None."""
    def check_md5(self) -> _Md5Report:
        """Verify every MD5 xorriso recorded: tags, session, each file."""
    def read_boot(self, index: int = 0) -> bytes: ...
    @property
    def solution(self) -> Solution: ...

@final
class BootEntry:
    """One entry of an El Torito boot catalog (plain data)."""
    @property
    def index(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def bootable(self) -> bool: ...
    @property
    def platform(self) -> int: ...
    @property
    def emulation(
        self,
    ) -> Literal["no-emulation", "floppy-1.2m", "floppy-1.44m", "floppy-2.88m", "hard-disk", "unknown"]: ...
    @property
    def media_type(self) -> int: ...
    @property
    def load_segment(self) -> int: ...
    @property
    def system_type(self) -> int: ...
    @property
    def sector_count(self) -> int: ...
    @property
    def load_rba(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def section_id(self) -> str | None: ...

@final
class BootCatalog:
    """An El Torito boot catalog (``Image.boot_catalog``)."""
    @property
    def lba(self) -> int: ...
    @property
    def platform(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def checksum_ok(self) -> bool: ...
    @property
    def entries(self) -> list[BootEntry]: ...
    def __len__(self) -> int: ...

@final
class _Views(Iterator[tuple[str, memoryview]]):
    """What ``Image.views()`` returns; ``len()`` is the number of files left."""
    def __iter__(self) -> _Views: ...
    def __next__(self) -> tuple[str, memoryview]: ...
    def __len__(self) -> int: ...

@final
class _NativeFile:
    def read(self, size: int = -1) -> bytes: ...
    def seek(self, offset: int, whence: int = 0) -> int: ...
    def tell(self) -> int: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def size(self) -> int: ...

@final
class Finding:
    """A validation finding."""
    @property
    def rule(self) -> str: ...
    @property
    def severity(self) -> Literal["error", "warning", "info"]: ...
    @property
    def path(self) -> str: ...
    @property
    def message(self) -> str: ...
    def __hash__(self) -> int: ...

@final
class Descriptor:
    """A content descriptor."""
    @property
    def digest(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def media_type(self) -> str: ...

@final
class PlatformManifest:
    """One per-platform manifest of a manifest list or OCI index."""
    @property
    def platform(self) -> str: ...
    @property
    def manifest(self) -> Descriptor: ...
    @property
    def kind(self) -> str: ...
    @property
    def config(self) -> Descriptor | None: ...
    @property
    def layers(self) -> list[Descriptor]: ...

@final
class ContainerImage:
    """One image tag of a Solution."""
    @property
    def name(self) -> str: ...
    @property
    def tag(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def media_type(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def config(self) -> Descriptor | None: ...
    @property
    def layers(self) -> list[Descriptor]: ...
    @property
    def children(self) -> list[Descriptor]: ...
    @property
    def platforms(self) -> list[PlatformManifest]: ...
    @property
    def version_file(self) -> str | None: ...
    @property
    def blob_bytes(self) -> int: ...

@final
class Solution:
    """A MetalK8s Solution archive (``Image.solution``)."""
    @property
    def name(self) -> str | None: ...
    @property
    def version(self) -> str | None: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def id(self) -> str | None: ...
    @property
    def volume_id(self) -> str: ...
    @property
    def namespace(self) -> _Namespace: ...
    @property
    def operator_image(self) -> tuple[str, str] | None: ...
    @property
    def crds(self) -> list[str]: ...
    @property
    def roles(self) -> list[tuple[str, str]]: ...
    @property
    def images(self) -> list[ContainerImage]: ...
    @property
    def findings(self) -> list[Finding]: ...
    @property
    def manifest(self) -> dict[str, Any] | None: ...
    def validate(
        self, *, strict: bool = False, digests: bool = True, threads: int = 0, check: bool = False
    ) -> ValidationReport: ...
    def verify(
        self,
        key: _Path | bytes | None = None,
        allowed_signers: _Path | bytes | None = None,
        identity: str | None = None,
        *,
        detached: _Path | bytes | None = None,
        threads: int = 0,
    ) -> dict[str, Any]: ...
    def export_oci(
        self,
        dest: _Path,
        images: Iterable[str | tuple[str, str]] | None = None,
        progress: _Progress | None = None,
        *,
        oci_media_types: bool = False,
        trust_existing: bool = False,
        check: bool = True,
    ) -> dict[str, Any]: ...
    def export_docker_archive(
        self,
        dest: _Path,
        images: Iterable[str | tuple[str, str]] | None = None,
        progress: _Progress | None = None,
        *,
        platform: str | None = None,
        check: bool = True,
    ) -> dict[str, Any]: ...
    def export_oci_archive(
        self,
        dest: _Path,
        images: Iterable[str | tuple[str, str]] | None = None,
        progress: _Progress | None = None,
        *,
        check: bool = True,
    ) -> dict[str, Any]: ...
    def push(
        self,
        registry: str,
        *,
        prefix: str | None = None,
        insecure: bool = False,
        credentials: tuple[str, str] | None = None,
        concurrency: int = 4,
        progress: _Progress | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        timeout: float = 600.0,
        authfile: _Path | None = None,
        check: bool = True,
    ) -> dict[str, Any]: ...
    def registry_config(self) -> str: ...
    def render(
        self,
        namespace: str | None = None,
        *,
        components: Literal["all", "crds", "environment"] = "all",
        registry: str | None = None,
        webhook: bool = False,
        available: list[Solution] | None = None,
        metalk8s_version: str = "unknown",
    ) -> str: ...
    def render_objects(
        self,
        namespace: str | None = None,
        *,
        components: Literal["all", "crds", "environment"] = "all",
        registry: str | None = None,
        webhook: bool = False,
        available: list[Solution] | None = None,
        metalk8s_version: str = "unknown",
    ) -> list[dict[str, Any]]: ...
    def upgrade_plan(self, new: Solution) -> dict[str, Any]: ...

@final
class SolutionsConfig:
    """A MetalK8s ``solutions.yaml``."""
    @property
    def path(self) -> Path: ...
    @property
    def api_version(self) -> str | None: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def archives(self) -> list[str]: ...
    @property
    def active(self) -> dict[str, str]: ...
    def check(
        self, *, strict: bool = False, digests: bool = True, threads: int = 0, check: bool = False
    ) -> ValidationReport: ...

def open(
    path: _Path,
    *,
    in_memory: bool = False,
    max_depth: int | None = None,
    max_entries: int | None = None,
    max_directories: int | None = None,
    max_name_bytes: int | None = None,
    max_path_bytes: int | None = None,
    max_susp_bytes: int | None = None,
    max_extents_per_file: int | None = None,
) -> Image: ...
def load_solutions_config(path: _Path) -> SolutionsConfig: ...
def pack(
    output: _Path,
    src: _Path | None = None,
    *,
    images: Iterable[str] | None = None,
    name: str | None = None,
    version: str | None = None,
    display_name: str | None = None,
    volume_id: str | None = None,
    sign: _Path | None = None,
    password: str | bytes | None = None,
    source_date_epoch: int | None = None,
    progress: Callable[[int, int], object] | None = None,
    platform: str | None = None,
) -> dict[str, Any]:
    """Build a Solution ISO at ``output``, as ``isolution pack`` does; its report as a dict.

    ``platform``: ``"OS/ARCH[/VARIANT]"`` (e.g. ``"linux/arm64"``), as ``pack --platform``:
    every multi-platform image (OCI index, Docker manifest list) is reduced to that platform's
    manifest and packed as a single Docker v2 schema 2 image (what MetalK8s's registry
    serves), as ``skopeo copy --override-arch ARCH --format v2s2`` chooses and writes it
    (``arm64`` also takes an ``arm64/v8`` entry); its report entry has ``platform`` and
    ``from_list``. A list without that platform raises ``PackError`` naming the platforms it
    has; a malformed value raises ``ValueError``. Single-platform images are packed as they
    are (one whose configuration says another platform gets ``platform_mismatch`` and a line
    in the report's ``notes``). Without it, lists are kept with every platform.

    ``sign``: a secret key file to sign ``SHA256SUMS`` with (``password`` for an encrypted
    one), told apart by its contents: a minisign secret key (writes ``SHA256SUMS.minisig``) or
    an OpenSSH Ed25519 private key, unencrypted or passphrase-protected (writes
    ``SHA256SUMS.sig``, as ``ssh-keygen -Y sign -n metalk8s-solution``). The report's
    ``signed_by`` is the minisign key id or the SSH key's ``SHA256:`` fingerprint, and
    ``signature_scheme`` is ``"minisign"`` or ``"ssh"``. Other SSH key types, public keys and
    a wrong password raise ``PackError``."""
    ...
