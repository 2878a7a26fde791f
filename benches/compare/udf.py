#!/usr/bin/env python3
"""Listing a UDF tree: `isolution ls -n udf` against 7-Zip's `7zz l -tudf` on the same image,
both timed as whole processes in one run (issue 18's target: at least 2x 7-Zip).

The image: `genisoimage -udf -R -J` of 100 directories of 199 files each (20,000 entries, 100
to 4,000 bytes per file), built once and cached (default /tmp/isolution-bench-udf). Page
cache warm (one untimed run of each first), runs alternated; medians and the ratio.

    python3 benches/compare/udf.py [--runs 21] [--dir DIR] [--isolution PATH]

Without --isolution, builds the release binary (`cargo build --release -p oci-export
--features cli`, CARGO_TARGET_DIR honoured). Prints a Markdown table.
"""
import argparse, os, random, shutil, statistics, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build():
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "oci-export", "--features",
                    "cli"], cwd=REPO, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return str(target / "release" / "isolution")


def make_image(cache: Path) -> Path:
    iso = cache / "udf-20k.iso"
    if iso.exists():
        return iso
    cache.mkdir(parents=True, exist_ok=True)
    tree = cache / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    rnd = random.Random(18)
    for d in range(100):
        (tree / f"dir{d:03}").mkdir(parents=True)
        for f in range(199):
            (tree / f"dir{d:03}" / f"file-{f:03}.bin").write_bytes(
                rnd.randbytes(rnd.randint(100, 4000)))
    tmp = cache / "udf-20k.iso.tmp"
    subprocess.run(["genisoimage", "-quiet", "-udf", "-R", "-J", "-o", str(tmp), str(tree)],
                   check=True)
    tmp.rename(iso)
    shutil.rmtree(tree)
    return iso


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--dir", default="/tmp/isolution-bench-udf")
    ap.add_argument("--isolution")
    a = ap.parse_args()
    for tool in ("genisoimage", "7zz"):
        if shutil.which(tool) is None:
            sys.exit(f"udf.py: {tool} is needed")
    ours = a.isolution or build()
    iso = make_image(Path(a.dir))
    cmds = {
        "isolution ls -n udf": [ours, "ls", "-n", "udf", str(iso)],
        "7zz l -tudf": ["7zz", "l", "-tudf", str(iso)],
    }
    # Both list the same entries (7-Zip's table has a header and a footer).
    n_ours = len(subprocess.run(cmds["isolution ls -n udf"], capture_output=True, check=True)
                 .stdout.splitlines())
    if n_ours < 20_000:
        sys.exit(f"udf.py: isolution listed {n_ours} entries, expected 20,000")
    times = {k: [] for k in cmds}
    for k, c in cmds.items():
        timed(c)
    for _ in range(a.runs):
        for k, c in cmds.items():
            times[k].append(timed(c))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    ratio = med["7zz l -tudf"] / med["isolution ls -n udf"]
    print(f"UDF listing, {n_ours} entries, median of {a.runs} runs "
          f"(load average {os.getloadavg()[0]:.1f})\n")
    print("| tool | median ms |\n|---|---|")
    for k, v in med.items():
        print(f"| {k} | {v:.1f} |")
    print(f"\n7-Zip / isolution: **{ratio:.2f}x** (target >= 2x: {'met' if ratio >= 2 else 'not met'})")


if __name__ == "__main__":
    main()
