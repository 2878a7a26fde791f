#!/usr/bin/env python3
"""Side-by-side: `isolution validate` (every distinct blob hashed, both cores) against
`openssl dgst -sha256` (SHA-NI, one core: the fastest SHA-256 here) and coreutils `sha256sum`
over the same blob files, in one run, page cache warm. Prints medians and throughputs.

    python3 benches/compare/validate.py [--mib 512] [--runs 5] [--isolution PATH]

The Solution is built here: two images of 4 layers each (random, incompressible), a
Docker v2s2 manifest.json per tag, a second tag hard-linked to the first (as `hardlink -c`
does), manifest.yaml and registry-config.inc.j2 (from `isolution registry-config`), mastered
with the documented genisoimage flags.
"""
import argparse, hashlib, json, os, shutil, statistics, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sh(*a, **kw):
    return subprocess.run(a, check=True, **kw)


def build(work: Path, mib: int, ours: str) -> tuple[Path, list[Path], int]:
    root = work / "root"
    iso = work / "solution.iso"
    stamp = work / f"built-{mib}"
    blobs = sorted(root.glob("images/*/1.0.0/[0-9a-f]*")) if root.exists() else []
    if stamp.exists() and iso.exists():
        return iso, blobs, sum(b.stat().st_size for b in blobs)
    shutil.rmtree(work, ignore_errors=True)
    root.mkdir(parents=True)
    layer = mib * 1024 * 1024 // 8
    total = 0
    blobs = []
    images = ["bench-operator", "bench-server"]
    for n, name in enumerate(images):
        d = root / "images" / name / "1.0.0"
        d.mkdir(parents=True)
        layers = []
        for i in range(4):
            data = os.urandom(layer)
            h = hashlib.sha256(data).hexdigest()
            (d / h).write_bytes(data)
            blobs.append(d / h)
            total += len(data)
            layers.append({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                           "size": len(data), "digest": "sha256:" + h})
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "n": n}).encode()
        ch = hashlib.sha256(cfg).hexdigest()
        (d / ch).write_bytes(cfg)
        m = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                        "size": len(cfg), "digest": "sha256:" + ch},
             "layers": layers}
        (d / "manifest.json").write_text(json.dumps(m))
        (d / "version").write_text("Directory Transport Version: 1.1\n")
        # A second tag, hard-linked: one blob, hashed once.
        t = root / "images" / name / "latest"
        t.mkdir()
        for f in d.iterdir():
            os.link(f, t / f.name)
    (root / "manifest.yaml").write_text(
        "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n"
        "  name: bench\nspec:\n  version: '1.0.0'\n  operator:\n    image: {name: bench-operator, tag: '1.0.0'}\n")
    flags = ["-quiet", "-R", "-J", "-joliet-long", "-l", "-iso-level", "3", "-V", "Bench 1.0.0",
             "-gid", "0", "-uid", "0", "-input-charset", "utf-8", "-output-charset", "utf-8"]
    sh("genisoimage", *flags, "-o", str(iso), str(root))
    cfg = subprocess.run([ours, "registry-config", str(iso)], check=True, stdout=subprocess.PIPE).stdout
    (root / "registry-config.inc.j2").write_bytes(cfg)
    sh("genisoimage", *flags, "-o", str(iso), str(root))
    stamp.touch()
    return iso, blobs, total


def timed(argv, runs):
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm-up
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ts.append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit(f"{argv[0]} failed ({r.returncode}): {r.stderr.decode()[-400:]}")
    return statistics.median(ts), min(ts), max(ts)


def parse_args(doc, mib_help=None):
    """The options of the benchmarks that run on `build`'s Solution: --mib, --runs, --workdir
    and --isolution; `doc` is the script's docstring, whose first line describes it."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--mib", type=int, default=512, help=mib_help)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workdir", default="/tmp/isolution-validate-bench")
    ap.add_argument("--isolution", default=str(REPO / "target/release/isolution"))
    return ap.parse_args()


def main():
    a = parse_args(__doc__, mib_help="MiB of layers (default 512)")
    if not Path(a.isolution).exists():
        sh("cargo", "build", "--release", "-p", "oci-export", cwd=REPO)
    iso, blobs, total = build(Path(a.workdir), a.mib, a.isolution)
    # Correctness first: our validate passes, and reports the bytes it hashed.
    r = subprocess.run([a.isolution, "validate", "--json", str(iso)], stdout=subprocess.PIPE, check=True)
    rep = json.loads(r.stdout)
    assert rep["findings"] == [], rep["findings"]
    subprocess.run(["cat", str(iso), *map(str, blobs)], stdout=subprocess.DEVNULL)
    files = list(map(str, blobs))
    rows = [
        ("isolution validate (2 threads)", [a.isolution, "validate", str(iso)]),
        ("isolution validate --threads 1", [a.isolution, "validate", "--threads", "1", str(iso)]),
        ("openssl dgst -sha256", ["openssl", "dgst", "-sha256", *files]),
        ("sha256sum", ["sha256sum", *files]),
    ]
    res = {name: timed(argv, a.runs) for name, argv in rows}
    ours = res[rows[0][0]][0]
    print(f"Solution of {total / 2**20:.0f} MiB of distinct layers ({rep['hashed_blobs']} distinct blobs, "
          f"{rep['hashed_bytes']} bytes hashed by us, {len(files)} blob files for the others), "
          f"median of {a.runs}, page cache warm\n")
    print("| Tool | Median (ms) | Min–max (ms) | Throughput | ours vs it |")
    print("|---|---|---|---|---|")
    for name, (med, lo, hi) in res.items():
        print(f"| {name} | {med*1000:.0f} | {lo*1000:.0f}–{hi*1000:.0f} | {total/med/1e9:.2f} GB/s | {med/ours:.2f}× |")
    ratio = res["openssl dgst -sha256"][0] / ours
    print(f"\nTarget: ≥ 1.6× openssl's throughput — {ratio:.2f}× → {'MET' if ratio >= 1.6 else 'NOT MET'}")


if __name__ == "__main__":
    main()
