#!/usr/bin/env python3
"""Side-by-side: `isolution export --oci` of a Solution holding ~512 MiB of layers, against
what a user does today without mounting (bsdtar extract, then `skopeo copy dir: oci:` per
image), and against `openssl dgst -sha256` over the same blob files (throughput bar). One
run, page cache warm, fresh destination on tmpfs each time, medians.

    python3 benches/compare/export.py [--mib 512] [--runs 5]
"""
import json, shutil, statistics, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate  # noqa: E402


def main():
    a = validate.parse_args(__doc__)
    ours = a.isolution
    iso, blobs, total = validate.build(Path(a.workdir), a.mib, ours)
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(a.workdir)
    scratch = base / "isolution-export-bench"
    images = ["bench-operator", "bench-server"]

    def run_ours():
        subprocess.run([ours, "export", "-q", str(iso), "--oci", str(scratch / "oci")], check=True,
                       stdout=subprocess.DEVNULL)

    def run_today():
        x = scratch / "x"
        x.mkdir(parents=True)
        subprocess.run(["bsdtar", "-xf", str(iso), "-C", str(x)], check=True)
        for n in images:
            subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--preserve-digests",
                            f"dir:{x}/images/{n}/1.0.0", f"oci:{scratch}/oci:{n}:1.0.0"], check=True)

    def run_openssl():
        subprocess.run(["openssl", "dgst", "-sha256", *map(str, blobs)], check=True, stdout=subprocess.DEVNULL)

    def timed(fn, runs):
        ts = []
        for i in range(runs + 1):
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            subprocess.run(["sync"])
            t = time.perf_counter()
            fn()
            dt = time.perf_counter() - t
            if i:  # the first run warms up
                ts.append(dt)
        shutil.rmtree(scratch, ignore_errors=True)
        return statistics.median(ts), min(ts), max(ts)

    subprocess.run(["cat", str(iso)], stdout=subprocess.DEVNULL)
    rows = {
        "isolution export --oci": timed(run_ours, a.runs),
        "bsdtar -xf + skopeo copy dir: oci:": timed(run_today, a.runs),
        "openssl dgst -sha256 (blobs)": timed(run_openssl, a.runs),
    }
    print(f"Solution of {total / 2**20:.0f} MiB of layers; destination {base} (tmpfs); median of {a.runs}\n")
    print("| Tool | Median (ms) | Min–max (ms) | Throughput |")
    print("|---|---|---|---|")
    for name, (m, lo, hi) in rows.items():
        print(f"| {name} | {m*1000:.0f} | {lo*1000:.0f}–{hi*1000:.0f} | {total/m/1e9:.2f} GB/s |")
    ours_t = rows["isolution export --oci"][0]
    r1 = rows["bsdtar -xf + skopeo copy dir: oci:"][0] / ours_t
    r2 = rows["openssl dgst -sha256 (blobs)"][0] / ours_t
    print(f"\nvs bsdtar+skopeo: {r1:.2f}× (target ≥ 3×: {'MET' if r1 >= 3 else 'NOT MET'})")
    print(f"vs openssl throughput: {r2:.2f}× (target ≥ 1.5×: {'MET' if r2 >= 1.5 else 'NOT MET'})")


if __name__ == "__main__":
    main()
