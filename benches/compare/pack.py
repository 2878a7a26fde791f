#!/usr/bin/env python3
"""Mastering time of the ISO 9660 writer (`iso_core::write`, through the `mkiso` example)
against `genisoimage -R -J -joliet-long -l -iso-level 3` on the same prepared tree, in one run:
2,000 small files (100 to 8,000 bytes, in 20 directories, a few hard links and symlinks) and
3 files of 100 MiB (random bytes). Page cache warm (one untimed run of each first), runs
alternated, the output removed between runs; median wall time of N runs each, and the ratio.
Issue 17's target: the writer within 1.5x of genisoimage's time.

    python3 benches/compare/pack.py [--runs 5] [--small 2000] [--big-mib 100] [--dir DIR]
                                    [--mkiso PATH]

Builds the example (release) unless --mkiso is given: `cargo build --release -p iso-core
--features write --example mkiso` (CARGO_TARGET_DIR honoured). The tree and outputs go to a
temporary directory (on the same file system as --dir when given). Prints a Markdown table.
"""
import argparse, os, random, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_mkiso():
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "iso-core", "--features",
                    "write", "--example", "mkiso"], cwd=REPO, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "release" / "examples" / "mkiso"


def make_tree(root: Path, small: int, big_mib: int):
    rnd = random.Random(17)
    root.mkdir()
    for d in range(20):
        (root / f"dir{d:02}").mkdir()
    for i in range(small):
        p = root / f"dir{i % 20:02}" / f"file-{i:05}.{['yaml', 'json', 'txt', 'tar.gz'][i % 4]}"
        p.write_bytes(rnd.randbytes(rnd.randint(100, 8000)))
    for i in range(10):
        os.link(root / "dir00" / f"file-{i * 20:05}.yaml", root / "dir01" / f"link-{i}.yaml")
        os.symlink(f"../dir00/file-{i * 20:05}.yaml", root / "dir02" / f"sym-{i}")
    for i in range(3):
        with open(root / f"big-{i}.bin", "wb") as f:
            for _ in range(big_mib):
                f.write(rnd.randbytes(1 << 20))


def timed(cmd, out: Path):
    if out.exists():
        out.unlink()
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {r.stderr.decode(errors='replace')}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--big-mib", type=int, default=100)
    ap.add_argument("--dir")
    ap.add_argument("--mkiso")
    a = ap.parse_args()
    if not shutil.which("genisoimage"):
        sys.exit("genisoimage is not installed")
    mkiso = Path(a.mkiso) if a.mkiso else build_mkiso()
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        print(f"preparing {a.small} small files and 3 x {a.big_mib} MiB in {src}", file=sys.stderr)
        make_tree(src, a.small, a.big_mib)
        ours_out, gen_out = tmp / "ours.iso", tmp / "genisoimage.iso"
        cmds = {
            "iso_core::write (mkiso)": ([str(mkiso), str(src), str(ours_out)], ours_out),
            "genisoimage -R -J -joliet-long -l -iso-level 3": (
                ["genisoimage", "-quiet", "-R", "-J", "-joliet-long", "-l", "-iso-level", "3",
                 "-o", str(gen_out), str(src)], gen_out),
        }
        times = {k: [] for k in cmds}
        for k, (cmd, out) in cmds.items():  # warm-up
            timed(cmd, out)
        sizes = {k: out.stat().st_size for k, (_, out) in cmds.items()}
        for i in range(a.runs):
            for k, (cmd, out) in cmds.items():
                times[k].append(timed(cmd, out))
            print(f"run {i + 1}/{a.runs}", file=sys.stderr)
        med = {k: statistics.median(v) for k, v in times.items()}
        ours, gen = med["iso_core::write (mkiso)"], med["genisoimage -R -J -joliet-long -l -iso-level 3"]
        print(f"| tool | median of {a.runs} (s) | runs (s) | image bytes |")
        print("|---|---:|---|---:|")
        for k in cmds:
            runs = ", ".join(f"{t:.3f}" for t in times[k])
            print(f"| {k} | {med[k]:.3f} | {runs} | {sizes[k]:,} |")
        print(f"\nratio writer / genisoimage: {ours / gen:.2f} (target: at most 1.5)")


if __name__ == "__main__":
    main()
