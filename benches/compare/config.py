#!/usr/bin/env python3
"""`isolution config check` of a large `solutions.yaml`: 1,000 archive entries that name the
same few Solution ISOs again and again, under other paths (the canonical path, `./` and `..`
spellings, symlinks, hard links). Each distinct file must be read (opened, parsed, validated)
once: the report's `archives_read` says how many were, and the time is compared with
`isolution validate` of those files alone, page cache warm. Prints a Markdown table.

    python3 benches/compare/config.py [--entries 1000] [--runs 5] [--isolution PATH] [--no-digests]

The ISOs are copies of the committed fixtures (tests/solutions/): example-solution 1.0.2,
1.0.10 and the multi-platform 1.0.2 (which has the same name and version as the first, so
MetalK8s would refuse the pair, #3108: the check reports it, and reads the file once all the
same).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = ["example-solution-1.0.2.iso", "example-solution-1.0.10.iso",
            "example-solution-1.0.2-multiarch.iso"]


def default_binary() -> str:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return str(target / "release" / "isolution")


def timed(argv, runs):
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm-up
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts), ts


def build(work: Path, entries: int) -> tuple[Path, list[Path]]:
    isos = []
    for name in FIXTURES:
        dst = work / name
        dst.write_bytes((REPO / "tests" / "solutions" / name).read_bytes())
        isos.append(dst)
    (work / "sub").mkdir()
    spellings = []
    for i, iso in enumerate(isos):
        link = work / f"link-{i}.iso"
        link.symlink_to(iso)
        hard = work / f"hard-{i}.iso"
        os.link(iso, hard)
        spellings += [str(iso), f"{work}/./{iso.name}", f"{work}/sub/../{iso.name}", str(link),
                      str(hard)]
    lines = ["apiVersion: solutions.metalk8s.scality.com/v1alpha1",
             "kind: SolutionsConfiguration", "archives:"]
    lines += [f'  - "{spellings[i % len(spellings)]}"' for i in range(entries)]
    lines += ["active:", "  example-solution: latest", ""]
    cfg = work / "solutions.yaml"
    cfg.write_text("\n".join(lines))
    return cfg, isos


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--isolution", default=default_binary())
    ap.add_argument("--no-digests", action="store_true", help="skip blob hashing")
    a = ap.parse_args()
    if not Path(a.isolution).exists():
        subprocess.run(["cargo", "build", "--release", "-p", "oci-export"], check=True, cwd=REPO)
    extra = ["--no-digests"] if a.no_digests else []
    with tempfile.TemporaryDirectory(prefix="isolution-config-bench.") as d:
        work = Path(d).resolve()
        cfg, isos = build(work, a.entries)
        out = subprocess.run([a.isolution, "config", "check", "--json", *extra, str(cfg)],
                             stdout=subprocess.PIPE, check=False)
        report = json.loads(out.stdout)
        read = report["archives_read"]
        listed = len(report["archives"])
        check_ms, check_all = timed([a.isolution, "config", "check", *extra, str(cfg)], a.runs)
        validate_ms = 0.0
        for iso in isos:
            ms, _ = timed([a.isolution, "validate", *extra, str(iso)], a.runs)
            validate_ms += ms
        print(f"`isolution config check{' --no-digests' if a.no_digests else ''}` of "
              f"{listed} entries naming {len(isos)} ISOs; median of {a.runs} runs, page cache warm.\n")
        print("| entries | archives read | config check (ms) | per archive read (ms) "
              "| validate of those ISOs alone (ms) |")
        print("|---|---|---|---|---|")
        print(f"| {listed} | {read} | {check_ms:.1f} | {check_ms / max(read, 1):.1f} "
              f"| {validate_ms:.1f} |")
        print(f"\nall runs (ms): {', '.join(f'{t:.1f}' for t in check_all)}", file=sys.stderr)
        if read != len(isos):
            print(f"config.py: {read} archives read, want {len(isos)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
