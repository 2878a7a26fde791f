//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use iso_core::Namespace;

/// Read MetalK8s Solution ISOs (ISO 9660 with Rock Ridge, Joliet, El Torito) as files:
/// no mount, no root, every byte checked.
/// What `--version` prints: the crate's version, then the commit and its date when `.ci/release`
/// built it (it sets `ISOLUTION_VERSION` to `0.1.0 (commit 0123456789ab, 2026-12-07)`). An
/// `option_env!`, not a build script asking git: any other build (`cargo install`, the
/// package check, which has no `.git`) just says `0.1.0`.
pub const VERSION: &str = match option_env!("ISOLUTION_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

#[derive(Parser, Debug)]
#[command(name = "isolution", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// `defer`: each subcommand's arguments are built only when that subcommand is the one run
// (or its help is shown), not the whole tree at every start: a third of the instructions of
// `isolution --version` went to building every subcommand's arguments.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Volume descriptors, extensions present, sizes and warnings.
    Info(InfoArgs),
    /// Verify the MD5 checksums xorriso records (-md5 on): tags, session, every file.
    /// Exits 1 on any mismatch, and when the image records no MD5 (as xorriso -check_md5).
    Check(CheckArgs),
    /// List entries recursively, paths relative to the root, directories ending in `/`.
    Ls(LsArgs),
    /// Write a file's bytes (or every file's, or a boot image's) to stdout.
    Cat(CatArgs),
    /// Extract files, directories, symlinks and hard links, safely, into DEST.
    Extract(ExtractArgs),
    /// A Solution's name, version, images (tags, digests, media types, sizes), CRDs, roles.
    Inspect(InspectArgs),
    /// Check a Solution archive the way MetalK8s reads it, and more strictly.
    Validate(ValidateArgs),
    /// Print the registry-config.inc.j2 the archive's image tree implies.
    RegistryConfig(InspectArgs),
    /// Verify a Solution ISO's signature and every file against a public key from outside it.
    Verify(VerifyArgs),
    /// Print the SHA256SUMS of a Solution source tree, to sign before mastering.
    Sums(SumsArgs),
    /// Export a Solution's images to an OCI image layout, straight from the ISO.
    Export(ExportArgs),
    /// Serve the images of Solution ISOs as a read-only registry (<name>-<version>/<image>).
    Serve(ServeArgs),
    /// Push a Solution's images to a registry as <prefix>/<image>:<tag>.
    Push(PushArgs),
    /// Import the Solutions of a solutions.yaml into a registry (validate, verify, push, prune).
    Import(ImportArgs),
    /// Build a Solution ISO from a source tree and images: Docker v2s2 layout, shared blobs
    /// stored once, registry-config.inc.j2, SHA256SUMS (signed with --sign); reproducible
    /// with SOURCE_DATE_EPOCH. Checks the result as `validate --strict` would (a tag packed as
    /// a multi-platform list is only noted: --platform packs one platform).
    Pack(PackArgs),
    /// Check MetalK8s configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the Kubernetes objects that deploy a Solution's CRDs and Operator, as MetalK8s
    /// deploys them, as one YAML stream for `kubectl apply -f -`.
    Render(RenderArgs),
    /// What changes when a cluster moves from OLD to NEW: CRDs, images, operator, RBAC.
    /// Exits 1 when something breaking is found.
    UpgradePlan(UpgradePlanArgs),
    /// Write shell completions and man pages generated from these definitions into DIR (for
    /// release archives and packagers).
    #[command(hide = true)]
    GenerateDocs(GenerateDocsArgs),
}

#[derive(Args, Debug)]
pub struct GenerateDocsArgs {
    /// Gets `completions/` (isolution.bash, _isolution, isolution.fish) and `man/man1/`.
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// The Solution ISO to deploy.
    pub iso: PathBuf,
    /// The environment namespace (required unless --crds-only).
    #[arg(long, required_unless_present = "crds_only")]
    pub namespace: Option<String>,
    /// Registry host in image references and in the OperatorConfig endpoints.
    #[arg(long, default_value = oci_export::deploy::render::DEFAULT_REGISTRY)]
    pub registry: String,
    /// Mount the `<name>-cert` Secret at /cert in the operator (for webhooks).
    #[arg(long)]
    pub webhook: bool,
    /// Only the CRDs (what MetalK8s applies when a version is activated).
    #[arg(long, conflicts_with = "no_crds")]
    pub crds_only: bool,
    /// Everything but the CRDs (what MetalK8s applies in an environment namespace).
    #[arg(long)]
    pub no_crds: bool,
    /// Another imported version of the Solution, listed in the OperatorConfig as MetalK8s
    /// lists every imported version; repeatable.
    #[arg(long = "available", value_name = "ISO")]
    pub available: Vec<PathBuf>,
    /// Value of the metalk8s.scality.com/version label (MetalK8s writes its own version).
    #[arg(long, default_value = "unknown")]
    pub metalk8s_version: String,
    /// Print the objects as one JSON list instead of YAML.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct UpgradePlanArgs {
    /// The version deployed now.
    pub old: PathBuf,
    /// The version to move to.
    pub new: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PackArgs {
    /// The source tree: manifest.yaml (or --name and --version), operator/deploy/..., anything
    /// else to ship. Optional when --name, --version and --image say everything.
    pub src: Option<PathBuf>,
    /// The ISO to write (replaced only once complete).
    #[arg(long, short = 'o', value_name = "SOLUTION.iso")]
    pub output: PathBuf,
    /// An image to add: [NAME:TAG=]oci:DIR[:REF], oci-archive:FILE[:REF],
    /// docker-archive:FILE[:REF], dir:DIR, or docker://HOST[:PORT]/PATH/NAME[:TAG][@sha256:...]
    /// (a registry, spelt as skopeo spells it: downloaded with the credentials and time limits
    /// of the registry flags below, checked against its digests, into a private temporary
    /// directory removed once the ISO is written; its name is the last path component, its
    /// tag the tag, unless NAME:TAG= comes first). Repeatable. OCI manifests are converted to
    /// Docker v2 schema 2 as `skopeo copy --format v2s2` converts them; a multi-platform image
    /// (OCI index or Docker manifest list) is kept with every platform, as `skopeo copy --all
    /// --format v2s2` writes it (a Docker manifest list, each platform as <hex>.manifest.json;
    /// MetalK8s's registry serves no list: the check notes it, see --platform).
    #[arg(long = "image", value_name = "REF")]
    pub images: Vec<String>,
    /// Pack one platform of every multi-platform image: each OCI index or Docker manifest
    /// list is reduced to that platform's manifest, packed as a single Docker v2 schema 2
    /// image (what MetalK8s's registry serves), as `skopeo copy --override-os OS
    /// --override-arch ARCH [--override-variant VARIANT] --format v2s2` chooses and writes it
    /// (arm64 also takes an arm64/v8 entry; arm/v7 takes v6 and v5). A list without that
    /// platform is refused, naming the ones it has. Single-platform images are packed as
    /// they are (one whose configuration says another platform is noted).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// docker:// images: --tls-verify=false speaks plain HTTP to HOST:PORT and accepts
    /// invalid TLS certificates, as --insecure (registries on 127.0.0.1 and localhost are
    /// spoken to in plain HTTP anyway).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: bool,
    /// docker:// images: plain HTTP for HOST:PORT, and invalid TLS certificates accepted, as
    /// `push --insecure`.
    #[arg(long)]
    pub insecure: bool,
    /// docker:// images: blobs downloaded at once.
    #[arg(long, value_name = "N", default_value = "4", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Credentials and time limits for docker:// images (as push's).
    #[command(flatten)]
    pub access: crate::push::RegistryAccess,
    /// Write manifest.yaml with this name (the source tree must not have one).
    #[arg(long, requires = "version")]
    pub name: Option<String>,
    /// The Solution version for the written manifest.yaml.
    #[arg(long, requires = "name")]
    pub version: Option<String>,
    /// The display name for the written manifest.yaml (default: the name).
    #[arg(long, requires = "name")]
    pub display_name: Option<String>,
    /// The volume id (default: "<display name> <version>", as MetalK8s's example).
    #[arg(long, value_name = "ID")]
    pub volume_id: Option<String>,
    /// Sign SHA256SUMS with this secret key, told apart by its contents: a minisign secret
    /// key (writes SHA256SUMS.minisig) or an OpenSSH Ed25519 private key (writes
    /// SHA256SUMS.sig, as `ssh-keygen -Y sign -n metalk8s-solution`; check it with `verify
    /// --allowed-signers`).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// The file holding the secret key's password or passphrase (first line), for an
    /// encrypted key.
    #[arg(long, value_name = "FILE", requires = "sign")]
    pub password_file: Option<PathBuf>,
    /// Do not check the written ISO (by default it is validated as `validate --strict`
    /// would, without re-hashing the blobs, which were hashed as they were written, and the
    /// signature is verified over the SHA256SUMS read back).
    #[arg(long, conflicts_with = "full_check")]
    pub no_check: bool,
    /// Check by re-reading every byte of the written ISO: `verify` (each file against
    /// SHA256SUMS) when signed, every blob against its digest otherwise.
    #[arg(long)]
    pub full_check: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Never show a progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a solutions.yaml (SolutionsConfiguration) and every archive it lists.
    Check(ConfigCheckArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The Solution ISO.
    pub iso: PathBuf,
    /// A minisign or signify public key file.
    #[arg(
        long,
        conflicts_with = "allowed_signers",
        required_unless_present = "allowed_signers"
    )]
    pub key: Option<PathBuf>,
    /// An allowed_signers file (ssh-keygen's format), for SSH signatures.
    #[arg(long, requires = "identity")]
    pub allowed_signers: Option<PathBuf>,
    /// The identity (principal) the SSH signer must be allowed as.
    #[arg(long, requires = "allowed_signers")]
    pub identity: Option<String>,
    /// Also verify this detached signature over the whole ISO file.
    #[arg(long, value_name = "SIG")]
    pub detached: Option<PathBuf>,
    /// With --detached: check only the detached signature (not SHA256SUMS inside).
    #[arg(long, requires = "detached")]
    pub detached_only: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The Solution ISO.
    pub iso: PathBuf,
    /// Destination OCI layout directory (created, or completed if it exists).
    #[arg(long, value_name = "DIR", required_unless_present_any = ["oci_archive", "docker_archive"], conflicts_with_all = ["oci_archive", "docker_archive"])]
    pub oci: Option<PathBuf>,
    /// Destination tar file of an OCI layout (`skopeo copy oci-archive:FILE:REF ...`).
    #[arg(long, value_name = "FILE", conflicts_with = "docker_archive")]
    pub oci_archive: Option<PathBuf>,
    /// Destination tar file in the `docker load` format.
    #[arg(long, value_name = "FILE")]
    pub docker_archive: Option<PathBuf>,
    /// Rewrite Docker manifests to OCI media types (new manifest digests, printed).
    #[arg(long, requires = "oci")]
    pub oci_media_types: bool,
    /// For --oci into an existing layout: count a blob file already there as present when
    /// its size is right, without re-reading it to check its digest (by default each is
    /// re-hashed, and a wrong one replaced and reported).
    #[arg(long, requires = "oci")]
    pub trust_existing: bool,
    /// For --docker-archive: the platform to take from multi-platform tags
    /// (OS/ARCH[/VARIANT], e.g. linux/arm64). Without it such tags are refused.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", requires = "docker_archive")]
    pub platform: Option<String>,
    /// Only this image (NAME:TAG); repeatable. Default: every image.
    #[arg(long = "image", value_name = "NAME:TAG")]
    pub images: Vec<String>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Never show a progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Go on with an archive `isolution validate` refuses (an error among its findings,
    /// blobs not hashed); its errors are still printed on stderr. Without it, such an
    /// archive is refused with exit 1.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The Solution ISOs.
    #[arg(required = true)]
    pub isos: Vec<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub addr: String,
    /// Most requests handled at once (others wait).
    #[arg(long, default_value_t = 256)]
    pub max_requests: usize,
    /// Most connections open at once; when full, the connection idle the longest is closed to
    /// make room (the open-files limit is raised to fit, up to its hard limit).
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds for a request's header to arrive whole (a connection that sends nothing, or
    /// part of a header, is closed then).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub header_timeout: f64,
    /// Seconds a keep-alive connection may wait for its next request, and a client may take
    /// no byte of a response.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub idle_timeout: f64,
    /// Seconds to let connections finish after SIGTERM or SIGINT (a second signal stops at
    /// once).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub grace: f64,
    /// When blobs are checked against their digest: `lazy`, each before its first byte is
    /// sent; `start`, all before serving. A blob that fails is answered with 500.
    #[arg(long, default_value = "lazy", value_parser = ["lazy", "start"])]
    pub verify_blobs: String,
    /// No log line per request.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Serve an archive `isolution validate` refuses (an error among its findings,
    /// blobs not hashed); its errors are still printed on stderr. Without it, such an
    /// archive is refused with exit 1.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The Solution ISO.
    pub iso: PathBuf,
    /// Registry: a URL (http://127.0.0.1:5000) or host:port (https unless --insecure).
    #[arg(long)]
    pub registry: String,
    /// Repository prefix (default <name>-<version>, as MetalK8s names it).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Plain HTTP for host:port, and accept invalid TLS certificates.
    #[arg(long)]
    pub insecure: bool,
    /// Credentials and time limits.
    #[command(flatten)]
    pub access: crate::push::RegistryAccess,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Blobs larger than this many bytes are uploaded in chunks of this size.
    #[arg(long, default_value_t = 64 << 20)]
    pub chunk_size: usize,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
    /// Never show a progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Push an archive `isolution validate` refuses (an error among its findings,
    /// blobs not hashed); its errors are still printed on stderr. Without it, such an
    /// archive is refused with exit 1.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The solutions.yaml (SolutionsConfiguration).
    pub config: PathBuf,
    /// Registry: a URL or host:port (https unless --insecure).
    #[arg(long)]
    pub registry: String,
    /// Plain HTTP for host:port, and accept invalid TLS certificates.
    #[arg(long)]
    pub insecure: bool,
    /// Credentials and time limits.
    #[command(flatten)]
    pub access: crate::push::RegistryAccess,
    /// Delete the repositories of Solutions no longer listed (never an active one).
    #[arg(long)]
    pub prune: bool,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Verify every archive against this minisign/signify key first.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Do not hash blobs while validating.
    #[arg(long)]
    pub no_digests: bool,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SumsArgs {
    /// The Solution source tree (the directory you will master).
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The Solution ISO.
    pub iso: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The Solution ISO.
    pub iso: PathBuf,
    /// Print one JSON object (the report).
    #[arg(long)]
    pub json: bool,
    /// Warnings fail too (exit 1).
    #[arg(long)]
    pub strict: bool,
    /// Do not hash blobs (presence and sizes are still checked).
    #[arg(long)]
    pub no_digests: bool,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Args, Debug)]
pub struct ConfigCheckArgs {
    /// The solutions.yaml file.
    pub config: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Warnings fail too (exit 1).
    #[arg(long)]
    pub strict: bool,
    /// Do not hash the archives' blobs.
    #[arg(long)]
    pub no_digests: bool,
}

// Options shared by the commands that read a tree. (A plain comment: a doc comment here
// would become the `--help` summary of every command that flattens it, as subcommands are
// deferred.)
#[derive(Args, Debug, Clone)]
pub struct TreeArgs {
    /// Tree to read: rr (Rock Ridge), joliet, iso1999, primary or udf. Default: the best present
    /// (Rock Ridge, then Joliet, then ISO 9660:1999, then primary; UDF when the ISO 9660 side
    /// is a stub).
    #[arg(long, short = 'n', value_parser = parse_ns)]
    pub namespace: Option<Namespace>,
}

fn parse_ns(s: &str) -> Result<Namespace, String> {
    s.parse()
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The ISO image.
    pub iso: PathBuf,
    /// Print one JSON object: every item checked, with its status.
    #[arg(long)]
    pub json: bool,
    /// Print every item checked, not only the failures.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Never show a progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The ISO image.
    pub iso: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// The ISO image.
    pub iso: PathBuf,
    /// Directory (or file) to list; default the root.
    pub path: Option<String>,
    /// Long format: type and mode, links, owner, size, modification time, link target.
    #[arg(short = 'l', long = "long")]
    pub long: bool,
    /// One JSON object per line.
    #[arg(long, conflicts_with = "long")]
    pub json: bool,
    #[command(flatten)]
    pub tree: TreeArgs,
}

#[derive(Args, Debug)]
pub struct CatArgs {
    /// The ISO image.
    pub iso: PathBuf,
    /// Files to write, in order.
    #[arg(required_unless_present_any = ["all", "boot"])]
    pub paths: Vec<String>,
    /// Every regular file of the tree, in walk order (hard links once each).
    #[arg(long, conflicts_with_all = ["paths", "boot"])]
    pub all: bool,
    /// The El Torito boot image of catalog entry N (0 is the initial entry).
    #[arg(long, value_name = "N", conflicts_with = "paths")]
    pub boot: Option<usize>,
    #[command(flatten)]
    pub tree: TreeArgs,
}

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The ISO image.
    pub iso: PathBuf,
    /// Destination directory (created if missing).
    pub dest: PathBuf,
    /// Files or directories to extract; default everything.
    pub paths: Vec<String>,
    /// Do not apply recorded permission bits.
    #[arg(long)]
    pub no_modes: bool,
    /// Do not apply recorded modification times.
    #[arg(long)]
    pub no_times: bool,
    /// Refuse to write more than this many bytes of file content in all.
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
    /// Restore extended attributes recorded with AAIP (xorriso `-xattr`); those the
    /// destination refuses are reported per file, and the exit status is 1.
    #[arg(long)]
    pub xattrs: bool,
    /// Restore ACLs recorded with AAIP (xorriso `-acl on`), as `system.posix_acl_access` and
    /// `system.posix_acl_default`; refusals are reported as for `--xattrs`.
    #[arg(long)]
    pub acls: bool,
    /// Never show a progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tree: TreeArgs,
}
