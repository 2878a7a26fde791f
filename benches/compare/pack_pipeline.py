#!/usr/bin/env python3
"""Side-by-side: `isolution pack` of a Solution from OCI layouts against the genisoimage
pipeline a packager runs today for the same Solution (issue 17), both timed in one run, runs
interleaved round-robin, page cache warm, medians and the ratio. Also `genisoimage` alone on the
already-prepared tree, for the issue's second bar (pack within 1.5x of mastering alone).

    python3 benches/compare/pack_pipeline.py [--images 5] [--mib 100] [--runs 3]
                                             [--workdir DIR] [--isolution PATH] [--build]

The Solution: IMAGES images of MIB MiB each (four layers of random bytes behind a gzip header,
"gzip-looking": nothing here decompresses them), written as skopeo `dir:` copies (Docker v2s2)
and turned into OCI layouts by `skopeo copy dir:... oci:LAYOUT:1.0.0`; a source tree
(manifest.yaml, operator/deploy/role.yaml and a CRD); an unencrypted minisign key
(`minisign -G -W`). Built once, cached in WORKDIR/v1-i<images>-m<mib>/.

The pipeline, timed as one (a fresh staging copy of the source tree each run):
  1. `skopeo copy --format v2s2 oci:LAYOUT:1.0.0 dir:STAGE/images/NAME/1.0.0` per image;
  2. `hardlink -c STAGE/images`;
  3. registry-config.inc.j2: MetalK8s's generator (static-container-registry.py, with
     --omit-constants when it has it) when METALK8S_STATIC_CONTAINER_REGISTRY names it; else the
     output of `isolution registry-config` on a first ISO, computed once outside the timed
     region and copied in (the generator is then free for the pipeline: the ratio is low);
  4. `sha256sum` of every file into SHA256SUMS (BSD tags, as pack writes them), and
     `minisign -S` of it (the sums are shipped in the ISO, so before mastering);
  5. `genisoimage -quiet -R -J -joliet-long -l -iso-level 3 -uid 0 -gid 0 -input-charset utf-8
     -output-charset utf-8 -V 'Bench 1.0.0' -o OUT STAGE`.
`isolution pack SRC -o OUT --image NAME:1.0.0=oci:LAYOUT:1.0.0 ... --sign KEY -q` with
SOURCE_DATE_EPOCH set: the same Solution in one command, checked as `validate --strict` (blobs
were hashed as they were written) and its signature verified over the SHA256SUMS read back,
as it does by default; `--full-check` re-reads and hashes every byte, `--no-check` shows the
check's share.

Targets (issue 17): pack at least 5x faster than the pipeline; pack within 1.5x of genisoimage
mastering the prepared tree. Exit status 0 when the measurements ran (read the verdicts), 2 when
setup or a sanity check failed.
"""
import argparse, gzip, hashlib, json, os, shutil, statistics, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSION = 1  # bump to rebuild cached inputs
PACK_TARGET = 5.0
MASTER_TARGET = 1.5
SDE = "1700000000"
V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
GENISO_FLAGS = ["-quiet", "-R", "-J", "-joliet-long", "-l", "-iso-level", "3", "-uid", "0",
                "-gid", "0", "-input-charset", "utf-8", "-output-charset", "utf-8",
                "-V", "Bench 1.0.0"]


def die(msg):
    print(f"pack_pipeline: {msg}", file=sys.stderr)
    sys.exit(2)


def sh(*argv, **kw):
    r = subprocess.run([str(a) for a in argv], stdout=kw.pop("stdout", subprocess.DEVNULL),
                       stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        die(f"{' '.join(map(str, argv))} failed: {r.stderr.decode(errors='replace')}")
    return r


def default_isolution(build: bool) -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    exe = target / "release" / "isolution"
    if build or not exe.exists():
        print("building the release binary (cargo build --release -p oci-export --features cli)",
              file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "-p", "oci-export", "--features", "cli"],
                       cwd=REPO, check=True)
    return exe


def gzip_looking(n: int) -> bytes:
    # A real gzip member header (and trailer) around random bytes.
    head = gzip.compress(b"", mtime=0)[:10]
    return head + os.urandom(n - 18) + os.urandom(8)


def build_inputs(work: Path, images: int, mib: int):
    """Source tree, OCI layouts, a minisign key; cached."""
    root = work / f"v{VERSION}-i{images}-m{mib}"
    stamp = root / "built"
    names = [f"bench-{i}" for i in range(images)]
    if stamp.exists():
        return root, names
    shutil.rmtree(root, ignore_errors=True)
    (root / "dirs").mkdir(parents=True)
    (root / "layouts").mkdir()
    layer = mib * 1024 * 1024 // 4
    for i, name in enumerate(names):
        d = root / "dirs" / name
        d.mkdir()
        layers = []
        for _ in range(4):
            data = gzip_looking(layer)
            h = hashlib.sha256(data).hexdigest()
            (d / h).write_bytes(data)
            layers.append({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                           "size": len(data), "digest": "sha256:" + h})
        cfg = json.dumps({
            "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
            "config": {"Entrypoint": [f"/usr/bin/{name}"], "Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers",
                       "diff_ids": ["sha256:" + hashlib.sha256(os.urandom(8)).hexdigest()
                                    for _ in layers]},
        }, separators=(",", ":")).encode()
        ch = hashlib.sha256(cfg).hexdigest()
        (d / ch).write_bytes(cfg)
        m = {"schemaVersion": 2, "mediaType": V2S2,
             "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                        "size": len(cfg), "digest": "sha256:" + ch},
             "layers": layers}
        (d / "manifest.json").write_text(json.dumps(m, separators=(",", ":")))
        (d / "version").write_text("Directory Transport Version: 1.1\n")
        sh("skopeo", "--insecure-policy", "copy", "--quiet", f"dir:{d}",
           f"oci:{root / 'layouts' / name}:1.0.0")
        print(f"  layout {name}: {mib} MiB", file=sys.stderr)
    shutil.rmtree(root / "dirs")
    src = root / "src"
    (src / "operator" / "deploy" / "crds").mkdir(parents=True)
    (src / "manifest.yaml").write_text(
        "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n"
        "  annotations:\n    solutions.metalk8s.scality.com/display-name: Bench\n  name: bench\n"
        "annotations:\n  solutions.metalk8s.scality.com/display-name: Bench\nspec:\n  images:\n"
        + "".join(f"  - {n}:1.0.0\n" for n in names)
        + "  operator:\n    image:\n      name: bench-0\n      tag: 1.0.0\n"
        "  version: \"1.0.0\"\n")
    (src / "operator" / "deploy" / "role.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: bench-operator\n"
        "rules:\n- apiGroups: [bench.example.com]\n  resources: ['*']\n  verbs: ['*']\n")
    (src / "operator" / "deploy" / "crds" / "bench.example.com_things_crd.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n"
        "  name: things.bench.example.com\nspec:\n  group: bench.example.com\n  names:\n"
        "    kind: Thing\n    listKind: ThingList\n    plural: things\n    singular: thing\n"
        "  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n"
        "    schema:\n      openAPIV3Schema:\n        type: object\n")
    sh("minisign", "-G", "-W", "-f", "-s", root / "bench.key", "-p", root / "bench.pub")
    stamp.touch()
    return root, names


def sums_and_sign(stage: Path, key: Path):
    """sha256sum of every file (BSD tags, sorted as pack sorts: by path bytes), then minisign."""
    files = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file())
    out = subprocess.run(["sha256sum", "--tag", *files], cwd=stage, check=True,
                         stdout=subprocess.PIPE).stdout
    (stage / "SHA256SUMS").write_bytes(out)
    sh("minisign", "-S", "-s", key, "-m", stage / "SHA256SUMS")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--mib", type=int, default=100, help="MiB of layers per image")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/isolution-pack-bench")
    ap.add_argument("--isolution")
    ap.add_argument("--build", action="store_true")
    a = ap.parse_args()
    for t in ("skopeo", "hardlink", "genisoimage", "sha256sum", "minisign"):
        if not shutil.which(t):
            die(f"{t} is not installed")
    ours = Path(a.isolution) if a.isolution else default_isolution(a.build)
    work = Path(a.workdir)
    print(f"inputs: {a.images} images x {a.mib} MiB in {work}", file=sys.stderr)
    inputs, names = build_inputs(work, a.images, a.mib)
    key, pub = inputs / "bench.key", inputs / "bench.pub"
    layouts = inputs / "layouts"
    scratch = work / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    stage, pipe_iso, pack_iso, master_iso = (scratch / "stage", scratch / "pipeline.iso",
                                             scratch / "pack.iso", scratch / "master.iso")
    generator = os.environ.get("METALK8S_STATIC_CONTAINER_REGISTRY")
    omit = generator and "omit-constants" in Path(generator).read_text()
    cached_config = scratch / "registry-config.inc.j2"

    def registry_config():
        if generator:
            argv = ["python3", generator, "--name-prefix", "{{ repository }}",
                    "--server-root", "{{ registry_root }}", *(["--omit-constants"] if omit else []),
                    str(stage / "images")]
            with open(stage / "registry-config.inc.j2", "wb") as f:
                subprocess.run(argv, check=True, stdout=f, stderr=subprocess.DEVNULL)
        else:
            shutil.copyfile(cached_config, stage / "registry-config.inc.j2")

    def pipeline():
        shutil.copytree(inputs / "src", stage)
        for n in names:
            (stage / "images" / n).mkdir(parents=True)
            sh("skopeo", "--insecure-policy", "copy", "--quiet", "--format", "v2s2",
               f"oci:{layouts / n}:1.0.0", f"dir:{stage / 'images' / n / '1.0.0'}")
        sh("hardlink", "-c", stage / "images")
        registry_config()
        sums_and_sign(stage, key)
        sh("genisoimage", *GENISO_FLAGS, "-o", pipe_iso, stage)

    image_args = [x for n in names for x in ("--image", f"{n}:1.0.0=oci:{layouts / n}:1.0.0")]
    env = dict(os.environ, SOURCE_DATE_EPOCH=SDE)

    def pack(*extra):
        return lambda: sh(ours, "pack", "-q", inputs / "src", "-o", pack_iso, *image_args,
                          "--sign", key, *extra, env=env)

    def master():
        sh("genisoimage", *GENISO_FLAGS, "-o", master_iso, stage)

    def clean():
        for p in (pipe_iso, pack_iso, master_iso):
            p.unlink(missing_ok=True)

    # Untimed: the registry config the fallback copies in, from a first pipeline ISO.
    if not generator:
        shutil.copytree(inputs / "src", stage)
        for n in names:
            (stage / "images" / n).mkdir(parents=True)
            sh("skopeo", "--insecure-policy", "copy", "--quiet", "--format", "v2s2",
               f"oci:{layouts / n}:1.0.0", f"dir:{stage / 'images' / n / '1.0.0'}")
        sh("genisoimage", *GENISO_FLAGS, "-o", pipe_iso, stage)
        cfg = sh(ours, "registry-config", pipe_iso, stdout=subprocess.PIPE).stdout
        cached_config.write_bytes(cfg)
        shutil.rmtree(stage)
        clean()

    rows = {
        "genisoimage pipeline (skopeo, hardlink -c, registry config, sha256sum, minisign, genisoimage)": pipeline,
        "isolution pack (checked, signed)": pack(),
        "isolution pack --no-check (signed)": pack("--no-check"),
        "isolution pack --full-check (signed)": pack("--full-check"),
        "genisoimage alone (the prepared tree)": master,
    }
    times = {k: [] for k in rows}
    # Round-robin: run r of every row, then run r+1; round 0 warms up and is checked.
    for r in range(a.runs + 1):
        for name, fn in rows.items():
            if fn is pipeline:  # a fresh staging tree; the other rows keep the last one
                shutil.rmtree(stage, ignore_errors=True)
            clean()
            t = time.perf_counter()
            fn()
            dt = time.perf_counter() - t
            if r:
                times[name].append(dt)
            print(f"run {r} {name[:40]}: {dt * 1000:.0f} ms", file=sys.stderr)
            if r == 0 and fn is pipeline:
                check_pipeline(ours, pipe_iso, pub)
            if r == 0 and name == "isolution pack (checked, signed)":
                check_pack(ours, pack_iso, pub, stage)
    clean()
    total = sum(p.stat().st_size for p in layouts.rglob("*") if p.is_file())
    med = {k: statistics.median(v) for k, v in times.items()}
    pipe = med[next(iter(rows))]
    packed = med["isolution pack (checked, signed)"]
    alone = med["genisoimage alone (the prepared tree)"]
    print(f"Solution of {a.images} images x {a.mib} MiB ({total / 2**20:.0f} MiB of OCI layouts); "
          f"workdir {work}; median of {a.runs}, interleaved; registry config: "
          f"{'MetalK8s generator ' + generator if generator else 'isolution registry-config, precomputed (free for the pipeline)'}\n")
    print("| Tool | Median (ms) | Min–max (ms) | pipeline / it |")
    print("|---|---|---|---|")
    for name, v in times.items():
        m = med[name]
        print(f"| {name} | {m * 1000:.0f} | {min(v) * 1000:.0f}–{max(v) * 1000:.0f} | {pipe / m:.2f}× |")
    print()
    r = pipe / packed
    print(f"pack vs the genisoimage pipeline: {r:.2f}× faster "
          f"(target ≥ {PACK_TARGET:g}×: {'MET' if r >= PACK_TARGET else 'NOT MET'})")
    r = packed / alone
    print(f"pack / genisoimage alone on the prepared tree: {r:.2f}× "
          f"(target ≤ {MASTER_TARGET:g}×: {'MET' if r <= MASTER_TARGET else 'NOT MET'})")
    nc = med["isolution pack --no-check (signed)"] / alone
    print(f"pack --no-check / genisoimage alone: {nc:.2f}×")


def check_pipeline(ours: Path, iso: Path, pub: Path):
    r = subprocess.run([str(ours), "verify", "--key", str(pub), str(iso)], capture_output=True)
    if r.returncode != 0:
        die(f"the pipeline's ISO does not verify: {r.stdout.decode()} {r.stderr.decode()}")


def check_pack(ours: Path, iso: Path, pub: Path, stage: Path):
    """The packed ISO validates strictly, verifies, and holds what the pipeline staged."""
    for argv in (["validate", "--strict", str(iso)], ["verify", "--key", str(pub), str(iso)]):
        r = subprocess.run([str(ours), *argv], capture_output=True)
        if r.returncode != 0:
            die(f"isolution {' '.join(argv)}: {r.stdout.decode()} {r.stderr.decode()}")
    listed = subprocess.run([str(ours), "ls", str(iso)], check=True, stdout=subprocess.PIPE).stdout
    got = {l.strip("/") for l in listed.decode().splitlines()} - {""}
    want = {str(p.relative_to(stage)) for p in stage.rglob("*")}
    if got != want:
        die(f"pack and the pipeline differ in paths: only pack {sorted(got - want)[:5]}, "
            f"only the pipeline {sorted(want - got)[:5]}")
    for rel in ["registry-config.inc.j2"] + [str(p.relative_to(stage)) for p in stage.glob("images/*/*/manifest.json")]:
        b = subprocess.run([str(ours), "cat", str(iso), rel], check=True, stdout=subprocess.PIPE).stdout
        if b != (stage / rel).read_bytes():
            die(f"{rel}: pack and the pipeline differ")


if __name__ == "__main__":
    main()
