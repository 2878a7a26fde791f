#!/usr/bin/env python3
"""The isolution Python package against the native CLI and pycdlib, in one run.

On the benchmark ISO of compare.py (genisoimage -R -J -joliet-long: four files of 512, 256,
128 and 64 MiB and a directory of 20,000 files of 100-4,000 bytes; built and cached by
compare.py's own builder), page cache warm, median of N runs, runs interleaved round-robin:

  A. list every entry:
       Python   isolution.open(ISO) + Image.walk()          (a list of 20,005 Entry objects)
       CLI      target/release/isolution ls ISO              (fresh process, stdout /dev/null)
       pycdlib  PyCdlib().open(ISO) + walk(rr_path="/")      (in-process, no interpreter start)
  B. read every file's bytes:
       Python   isolution.open(ISO), walk, then per file  with image.open(path) as f:
                while f.read(1 MiB): ...                     (bytes objects, discarded)
       pycdlib  PyCdlib().open(ISO), walk, then per file get_file_from_iso_fp(sink) with a
                sink that discards (what pycdlib reads, in its 8 KiB chunks)
     with, for reference, the same split into the 20,000 small files and the 4 large ones,
     Image.read(path) (whole files as bytes), and the floor: reading the ISO file itself
     with readinto() into one 1 MiB buffer (no parsing at all).
  H. hash every file (SHA-256 of each file's bytes, a path -> digest dict):
       Python   isolution.open(ISO) + Image.sha256_all()    (in Rust, both cores, GIL released)
       CLI      the faster of  `isolution cat ISO --all | openssl dgst -sha256`  and
                `isolution sums TREE` (no CLI command hashes every file of an image one by
                one; `sums` hashes the source tree on disk, `cat --all | openssl` every byte
                of the image in one digest)                  (fresh processes)
       pycdlib  PyCdlib().open(ISO), walk, get_file_from_iso_fp into hashlib.sha256 per file
     with, for reference, Image.views() + hashlib.sha256 per memoryview (zero-copy, one
     core), and the limit of one core: `openssl dgst -sha256 ISO` (the image file itself).

Every tool's output is checked once, untimed, before it is timed: entry counts, and the
SHA-256 of every file's bytes in walk order (the same for isolution and pycdlib).

Which Python: the package is a compiled extension, so the measurements run in an interpreter
where `import isolution` works:
  --python PY   use that interpreter (it needs isolution and pycdlib installed);
  default       build the wheel from this checkout (`maturin build --release -m
                py-bindings/Cargo.toml`, incremental) and install it, with pycdlib, into a
                virtual environment under the workdir (created once, like py-bindings/test.sh
                does), so that what is measured is the current source.

    python3 benches/compare/python.py                 # full size, ~1 min plus the build
    python3 benches/compare/python.py --quick         # smoke test on the small tree
    python3 benches/compare/python.py --python .venv/bin/python --runs 9

Markdown report on stdout, progress on stderr, raw numbers with --json FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPT_DIR))
import compare  # noqa: E402  (the tree builder, the CLI resolver and the machine info)

REPO_ROOT = SCRIPT_DIR.parents[1]

# Targets of the issue: Python listing at most 2x the native CLI and at least 50x faster
# than pycdlib; reading through .open() at least 20x faster than pycdlib.
LIST_VS_CLI_MAX = 2.0
LIST_VS_PYCDLIB_MIN = 50.0
READ_VS_PYCDLIB_MIN = 20.0
# Issue 16: hashing every file from Python (Image.sha256_all) within 1.2x of the CLI doing
# the same, and at least 5x faster than pycdlib reading and hashing the same files.
HASH_VS_CLI_MAX = 1.2
HASH_VS_PYCDLIB_MIN = 5.0
TASK_GROUPS = ("list", "read", "hash")

WORKER = r'''
import hashlib, io, json, os, statistics, subprocess, sys, time

args = json.loads(sys.argv[1])
iso, cli, runs, slow_runs = args["iso"], args["cli"], args["runs"], args["slow_runs"]
groups, tree, openssl = set(args["tasks"]), args["tree"], args["openssl"]
import isolution, pycdlib, shlex

CHUNK = 1 << 20

def log(msg):
    print(msg, file=sys.stderr, flush=True)

# ---- the timed bodies -------------------------------------------------------------------

def py_list():
    with isolution.open(iso) as image:
        return len(image.walk())

def cli_list():
    # Fresh process, as compare.py times it: spawn + wait4, stdout to /dev/null.
    p = subprocess.Popen([cli, "ls", iso], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, _ = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("isolution ls failed")
    return None

def pycdlib_list():
    p = pycdlib.PyCdlib()
    p.open(iso)
    n = 0
    for _, dirs, files in p.walk(rr_path="/"):
        n += len(dirs) + len(files)
    p.close()
    return n

def wanted(which, path):
    """The 20,000 small files are in small/, the large ones at the root."""
    return which == "all" or path.startswith("small/") == (which == "small")

def py_open_read(which="all", digests=None):
    n = 0
    with isolution.open(iso) as image:
        for e in image.walk():
            if e.type == "file" and wanted(which, e.path):
                h = hashlib.sha256() if digests is not None else None
                with image.open(e.path) as f:
                    while True:
                        b = f.read(CHUNK)
                        if not b:
                            break
                        n += len(b)
                        if h is not None:
                            h.update(b)
                if h is not None:
                    digests[e.path] = h.hexdigest()
    return n

def py_read_whole():
    n = 0
    with isolution.open(iso) as image:
        for e in image.walk():
            if e.type == "file":
                n += len(image.read(e.path))
    return n

class Discard:
    """A sink that counts (and, to check, hashes) what pycdlib writes to it."""
    n = 0
    h = None
    def write(self, b):
        self.n += len(b)
        if self.h is not None:
            self.h.update(b)
        return len(b)

def pycdlib_read(which="all", digests=None):
    out = Discard()
    p = pycdlib.PyCdlib()
    p.open(iso)
    for root, dirs, files in p.walk(rr_path="/"):
        base = root.rstrip("/")
        for name in files:
            path = base + "/" + name
            if wanted(which, path.lstrip("/")):
                if digests is not None:
                    out.h = hashlib.sha256()
                p.get_file_from_iso_fp(out, rr_path=path)
                if digests is not None:
                    digests[path.lstrip("/")] = out.h.hexdigest()
    p.close()
    return out.n

def py_sha256_all():
    with isolution.open(iso) as image:
        return image.sha256_all()

def py_views_hashlib():
    with isolution.open(iso) as image:
        return {p: hashlib.sha256(v).hexdigest() for p, v in image.views()}

def pycdlib_hash():
    digests = {}
    pycdlib_read("all", digests)
    return digests

def run_cli(argv, shell=False, capture=False):
    """A fresh process (spawn + wait4); its stdout, or /dev/null."""
    p = subprocess.Popen(argv, shell=shell, executable="/bin/bash" if shell else None,
                         stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
    out = p.stdout.read() if capture else None
    _, status, _ = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("failed: %r" % (argv,))
    return out

CAT_OPENSSL = "set -o pipefail; %s cat %s --all | %s dgst -sha256" % (
    shlex.quote(cli), shlex.quote(iso), shlex.quote(openssl or "openssl"))

def cli_cat_openssl(capture=False):
    return run_cli(CAT_OPENSSL, shell=True, capture=capture)

def cli_sums(capture=False):
    return run_cli([cli, "sums", tree], capture=capture)

def openssl_iso():
    return run_cli([openssl, "dgst", "-sha256", iso])

def floor_readinto():
    buf = bytearray(CHUNK)
    n = 0
    with open(iso, "rb", buffering=0) as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            n += k
    return n

# ---- checks (untimed) -------------------------------------------------------------------

expect = args["expect"]
log("  checking outputs (untimed) ...")
assert py_list() == expect["entries"], "isolution walk: entry count"
assert pycdlib_list() == expect["entries"], "pycdlib walk: entry count"
ours, theirs = {}, {}
assert py_open_read("all", ours) == expect["payload"], "isolution: payload bytes"
assert pycdlib_read("all", theirs) == expect["payload"], "pycdlib: payload bytes"
assert len(ours) == len(theirs) == expect["files"], "file count"
assert ours == theirs, "isolution and pycdlib read different bytes"
if "read" in groups:
    assert py_read_whole() == expect["payload"]
    assert py_open_read("small") + py_open_read("large") == expect["payload"]
    assert pycdlib_read("small") + pycdlib_read("large") == expect["payload"]
log("  both list %d entries, and read %d files with the same SHA-256 each (%d bytes)"
    % (expect["entries"], len(ours), expect["payload"]))
if "hash" in groups:
    assert py_sha256_all() == theirs, "sha256_all differs from pycdlib + hashlib"
    assert py_views_hashlib() == theirs, "views() + hashlib differs from pycdlib + hashlib"
    # cat --all writes every file in walk order: one digest of them all, end to end.
    whole = hashlib.sha256()
    with isolution.open(iso) as image:
        n = 0
        for p, v in image.views():
            whole.update(v)
            n += 1
    got = cli_cat_openssl(capture=True).decode().split()[-1]
    assert got == whole.hexdigest(), "cat --all | openssl: %s, expected %s" % (got, whole.hexdigest())
    sums = {}
    for line in cli_sums(capture=True).decode().splitlines():
        # SHA256 (path) = hex
        head, digest = line.rsplit(" = ", 1)
        sums[head[len("SHA256 ("):-1]] = digest
    assert sums == theirs, "isolution sums TREE differs from the image's files"
    log("  sha256_all, views + hashlib, pycdlib + hashlib and `isolution sums` agree on %d "
        "files; `cat --all | openssl` on their concatenation" % len(sums))

# ---- timing: round-robin, medians -------------------------------------------------------

tasks = {}
if "list" in groups:
    tasks.update({
        "list/python": (py_list, runs),
        "list/cli": (cli_list, runs),
        "list/pycdlib": (pycdlib_list, slow_runs),
    })
if "read" in groups:
    tasks.update({
        "read/python-open": (lambda: py_open_read("all"), runs),
        "read/pycdlib": (lambda: pycdlib_read("all"), slow_runs),
        "small/python-open": (lambda: py_open_read("small"), runs),
        "small/pycdlib": (lambda: pycdlib_read("small"), slow_runs),
        "large/python-open": (lambda: py_open_read("large"), runs),
        "large/pycdlib": (lambda: pycdlib_read("large"), slow_runs),
        "read/python-read": (py_read_whole, runs),
        "read/floor": (floor_readinto, runs),
    })
if "hash" in groups:
    tasks.update({
        "hash/python": (py_sha256_all, runs),
        "hash/cli-cat-openssl": (cli_cat_openssl, runs),
        "hash/cli-sums": (cli_sums, runs),
        "hash/pycdlib": (pycdlib_hash, slow_runs),
        "hash/python-views": (py_views_hashlib, runs),
        "hash/openssl-iso": (openssl_iso, runs),
    })
samples = {k: [] for k in tasks}
cpu = {k: [] for k in tasks}  # user + sys of this process and its children (all threads)
import resource
def cpu_now():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime
for f, _ in tasks.values():  # one warm-up each
    f()
for i in range(max(n for _, n in tasks.values())):
    for k, (f, n) in tasks.items():
        if i < n:
            c0 = cpu_now()
            t0 = time.perf_counter()
            f()
            samples[k].append(time.perf_counter() - t0)
            cpu[k].append(cpu_now() - c0)
    log("  round %d: %s" % (i + 1, ", ".join(
        "%s %.1f ms" % (k, samples[k][-1] * 1e3) for k, (f, n) in tasks.items() if i < n)))
out = {k: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs": len(v),
           "cpu_median_s": statistics.median(cpu[k])}
       for k, v in samples.items()}
out["loadavg"] = os.getloadavg()
import importlib.metadata
out["versions"] = {"isolution": isolution.__version__,
                   "pycdlib": importlib.metadata.version("pycdlib"),
                   "python": sys.version.split()[0]}
print(json.dumps(out))
'''


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def venv_with_wheel(workdir: Path) -> str:
    """A virtual environment under `workdir` with pycdlib and the wheel built from this
    checkout (rebuilt incrementally at every run, so the current source is measured)."""
    venv = workdir / "py-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        log(f"creating {venv} (maturin, pycdlib) ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "maturin>=1.5,<2", "pycdlib"], check=True)
    wheels = Path(tempfile.mkdtemp(prefix="isolution-wheel-", dir=workdir))
    log("building the wheel: maturin build --release -m py-bindings/Cargo.toml ...")
    subprocess.run([str(venv / "bin" / "maturin"), "build", "--release", "--interpreter", str(py),
                    "-m", "py-bindings/Cargo.toml", "-o", str(wheels)], cwd=REPO_ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    [wheel] = wheels.glob("isolution-*.whl")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--force-reinstall", "--no-deps", str(wheel)], check=True)
    wheel.unlink()
    wheels.rmdir()
    return str(py)


def fmt(s: float) -> str:
    ms = s * 1000
    return f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", metavar="PY",
                    help="interpreter with isolution and pycdlib installed (default: build the "
                         "wheel into a venv under the workdir)")
    ap.add_argument("--isolution", metavar="PATH",
                    help="the CLI (default: <repo>/target/release/isolution, built if missing)")
    ap.add_argument("--build", action="store_true", help="run cargo build --release for the CLI")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "isolution-bench"),
                    help="where compare.py's tree and ISO are cached (default: %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="the small tree of compare.py --quick (2,000 files; a smoke test)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per fast task (default 7)")
    ap.add_argument("--slow-runs", type=int, default=3,
                    help="timed runs of the pycdlib tasks (default 3)")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    ap.add_argument("--tasks", default=",".join(TASK_GROUPS),
                    help="any of list,read,hash (default: all)")
    args = ap.parse_args(argv)
    groups = [t for t in args.tasks.split(",") if t]
    if not groups or any(t not in TASK_GROUPS for t in groups):
        ap.error(f"--tasks: a comma-separated subset of {','.join(TASK_GROUPS)}")
    openssl = shutil.which("openssl")
    if "hash" in groups and openssl is None:
        compare.die("the hash tasks need openssl (Debian: apt-get install openssl)")

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    scale = compare.QUICK_SCALE if args.quick else 1.0
    n_small = compare.QUICK_SMALL_FILES if args.quick else compare.FULL_SMALL_FILES
    large = [max(1, int(round(mib * compare.MiB * scale))) for mib in compare.FULL_LARGE_MIB]
    cli = compare.resolve_isolution(args.isolution, args.build)
    m = compare.build_tree_and_iso(workdir, large, n_small, compare.DEFAULT_SEED)
    py = args.python or venv_with_wheel(workdir)
    subprocess.run(["cat", m["iso"]], stdout=subprocess.DEVNULL, check=True)  # warm the cache

    expect = {"entries": m["entries_with_root"] - 1, "payload": m["payload_bytes"],
              "files": m["regular_files"]}
    log(f"measuring with {py} ...")
    started = time.perf_counter()
    r = subprocess.run([py, "-c", WORKER, json.dumps({
        "iso": m["iso"], "cli": cli, "runs": args.runs, "slow_runs": args.slow_runs,
        "expect": expect, "tasks": groups, "tree": m["tree"], "openssl": openssl})],
        stdout=subprocess.PIPE)
    if r.returncode != 0:
        compare.die(f"the measurements failed in {py} (see above)")
    res = json.loads(r.stdout)
    elapsed = time.perf_counter() - started

    med = {k: v["median_s"] for k, v in res.items() if isinstance(v, dict) and "median_s" in v}
    large_bytes = sum(x["size"] for x in m["large_files"])

    def row(task, ours, cli_s, theirs, ratio_txt, target):
        return (f"| {task} | {ours} | {cli_s} | {theirs} | {ratio_txt} | {target} |")

    def met(ok):
        return "**met**" if ok else "**not met**"

    mi = compare.machine_info()
    lines = ["# isolution from Python vs the native CLI and pycdlib", ""]
    lines.append(f"- Machine: {mi['cpu']}, {mi['cpus']} CPUs, Linux {mi['kernel']}; "
                 f"Python {res['versions']['python']}, pycdlib {res['versions']['pycdlib']}, "
                 f"isolution {res['versions']['isolution']}")
    lines.append(f"- ISO: `{m['iso']}`, {m['iso_bytes']:,} bytes, {expect['entries']:,} entries "
                 f"below the root, {m['payload_bytes']:,} payload bytes "
                 f"({m['small_files']:,} small files of {m['small_bytes']:,} bytes, "
                 f"{len(m['large_files'])} large of {large_bytes:,})"
                 + ("" if not args.quick else " — **quick tree, not the benchmark size**"))
    lines.append(f"- Median of {args.runs} runs ({args.slow_runs} for pycdlib), interleaved, page "
                 f"cache warm; Python and pycdlib in one process (no interpreter start), the "
                 f"CLI a fresh process per run; outputs verified first (same SHA-256 of every "
                 f"byte from both readers). Times in ms.")
    lines.append("")
    lines.append("| Task | isolution (Python) | isolution CLI | pycdlib | Ratios | Target |")
    lines.append("|---|---|---|---|---|---|")
    verdicts = {}
    if "list" in groups:
        list_vs_cli = med["list/python"] / med["list/cli"]
        list_vs_pycdlib = med["list/pycdlib"] / med["list/python"]
        verdicts["list_vs_cli"] = list_vs_cli <= LIST_VS_CLI_MAX
        verdicts["list_vs_pycdlib"] = list_vs_pycdlib >= LIST_VS_PYCDLIB_MIN
        lines.append(row(
            "A. list every entry (`open` + `walk()`)", f"**{fmt(med['list/python'])}**",
            f"{fmt(med['list/cli'])} (`ls`)", fmt(med["list/pycdlib"]),
            f"Python/CLI {list_vs_cli:.2f}×; pycdlib/Python {list_vs_pycdlib:.0f}×",
            f"≤ {LIST_VS_CLI_MAX:g}× CLI: {met(verdicts['list_vs_cli'])}; "
            f"≥ {LIST_VS_PYCDLIB_MIN:g}× pycdlib: {met(verdicts['list_vs_pycdlib'])}"))
    if "read" in groups:
        read_vs_pycdlib = med["read/pycdlib"] / med["read/python-open"]
        verdicts["read_vs_pycdlib"] = read_vs_pycdlib >= READ_VS_PYCDLIB_MIN
        lines.append(row(
            "B. read every file (`open()` + `read(1 MiB)` loop)",
            f"**{fmt(med['read/python-open'])}**", "—", fmt(med["read/pycdlib"]),
            f"pycdlib/Python {read_vs_pycdlib:.1f}×",
            f"≥ {READ_VS_PYCDLIB_MIN:g}× pycdlib: {met(verdicts['read_vs_pycdlib'])}"))
        lines.append(row(
            f"B1. … the {m['small_files']:,} small files only", fmt(med["small/python-open"]),
            "—", fmt(med["small/pycdlib"]),
            f"pycdlib/Python {med['small/pycdlib'] / med['small/python-open']:.1f}×", "—"))
        lines.append(row(
            f"B2. … the {len(m['large_files'])} large files only", fmt(med["large/python-open"]),
            "—", fmt(med["large/pycdlib"]),
            f"pycdlib/Python {med['large/pycdlib'] / med['large/python-open']:.1f}×", "—"))
        lines.append(row(
            "B3. every file with `Image.read(path)` (whole `bytes`)", fmt(med["read/python-read"]),
            "—", "—", f"pycdlib/this {med['read/pycdlib'] / med['read/python-read']:.1f}×", "—"))
        lines.append(row(
            "floor: the ISO file itself, `readinto()` 1 MiB at a time", fmt(med["read/floor"]),
            "—", "—", f"pycdlib/floor {med['read/pycdlib'] / med['read/floor']:.1f}×", "—"))
    if "hash" in groups:
        refs = {"cat --all | openssl dgst -sha256": med["hash/cli-cat-openssl"],
                "sums TREE": med["hash/cli-sums"]}
        ref_name = min(refs, key=refs.get)
        ref = refs[ref_name]
        hash_vs_cli = med["hash/python"] / ref
        hash_vs_pycdlib = med["hash/pycdlib"] / med["hash/python"]
        verdicts["hash_vs_cli"] = hash_vs_cli <= HASH_VS_CLI_MAX
        verdicts["hash_vs_pycdlib"] = hash_vs_pycdlib >= HASH_VS_PYCDLIB_MIN
        def cell(k):  # a `|` inside a table cell must be escaped
            return k.replace("|", "\\|")
        others = ", ".join(f"{fmt(v)} (`{cell(k)}`)" for k, v in refs.items() if k != ref_name)
        lines.append(row(
            "H. hash every file (`open` + `sha256_all()`)", f"**{fmt(med['hash/python'])}**",
            f"**{fmt(ref)}** (`{cell(ref_name)}`, the faster); {others}",
            fmt(med["hash/pycdlib"]),
            f"Python/CLI {hash_vs_cli:.2f}×; pycdlib/Python {hash_vs_pycdlib:.1f}×",
            f"≤ {HASH_VS_CLI_MAX:g}× CLI: {met(verdicts['hash_vs_cli'])}; "
            f"≥ {HASH_VS_PYCDLIB_MIN:g}× pycdlib: {met(verdicts['hash_vs_pycdlib'])}"))
        lines.append(row(
            "H1. … with `views()` + `hashlib.sha256` per file (zero-copy, one core)",
            fmt(med["hash/python-views"]), "—", "—",
            f"pycdlib/this {med['hash/pycdlib'] / med['hash/python-views']:.1f}×", "—"))
        lines.append(row(
            "limit of one core: `openssl dgst -sha256 ISO` (the image file, one digest)",
            fmt(med["hash/openssl-iso"]), "—", "—",
            f"this/sha256_all {med['hash/openssl-iso'] / med['hash/python']:.2f}×", "—"))
        c = {k: v["cpu_median_s"] for k, v in res.items()
             if k.startswith("hash/") and isinstance(v, dict)}
        lines.append("")
        lines.append(
            "CPU time of the hash rows (user + sys, all threads and child processes; medians, "
            "ms), which a loaded machine changes less than wall time: "
            + ", ".join(f"{k.split('/', 1)[1]} {fmt(v)}" for k, v in c.items())
            + f"; pycdlib/sha256_all {c['hash/pycdlib'] / c['hash/python']:.1f}×, "
            f"sha256_all/openssl-iso {c['hash/python'] / c['hash/openssl-iso']:.2f}×.")
    load = res.get("loadavg")
    if load:
        lines.append("")
        lines.append(f"Load average at the end: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min) on "
                     f"{mi['cpus']} CPUs" + (" — **the machine was busy: wall times are "
                                             "inflated, compare ratios of one run only**"
                                             if load[1] > 1.5 else "") + ".")
    lines.append("")
    command = " ".join(["python3", "benches/compare/python.py", *(argv or sys.argv[1:])])
    lines.append(f"_Measured in {elapsed:.0f} s by `{command}`._")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"tree": m, "results": res, "python": py,
                                               "cli": cli, "verdicts": verdicts},
                                              indent=2) + "\n")
        log(f"raw numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
