#!/usr/bin/env python3
"""Side-by-side comparison of `isolution` with other ISO 9660 readers.

Reproduces the readers benchmark (section 7 of our ISO 9660 readers notes):
a 1 GiB ISO (genisoimage -R -J -joliet-long) holding 4 large random files
(512, 256, 128, 64 MiB) and one directory `small/` of 20,000 files of
100-4,000 bytes; page cache warm; median wall time of N runs per tool.

Tasks:
  list     list every entry (open + full walk)
  stream   stream every regular file's bytes to a null sink
  extract  extract everything to a fresh directory (tmpfs if possible)
  small    read one ~2 KB file from small/ in a fresh process

Python 3.11, stdlib only (pycdlib is benchmarked in child processes if it is
importable).  Human-readable progress goes to stderr, the Markdown report to
stdout, raw numbers to --json FILE.

    python3 benches/compare/compare.py            # full size (~1 GiB ISO)
    python3 benches/compare/compare.py --quick    # smoke test (~15 MiB ISO)
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional

# Bump when the tree layout/content generator changes: it is part of the cache key.
TREE_VERSION = "1"
MiB = 1 << 20
FULL_LARGE_MIB = (512, 256, 128, 64)
FULL_SMALL_FILES = 20_000
SMALL_MIN, SMALL_MAX = 100, 4_000
QUICK_SCALE = 1 / 64  # 8, 4, 2, 1 MiB
QUICK_SMALL_FILES = 2_000
DEFAULT_SEED = 9660
PROBE_TARGET_SIZE = 2048  # "a ~2 KB file"
CHUNK = 8 * MiB

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parents[1]
CARGO_PACKAGE = "oci-export"  # workspace package that provides the `isolution` bin

TASKS = ("list", "stream", "pipe", "extract", "small")

# Targets (ratio = their median / our median, "isolution is Nx faster").
TARGETS = {
    "list": ("isoinfo", 2.0, "list ≥ 2× faster than isoinfo"),
    "stream": ("7zz", 1.2, "stream ≥ 1.2× faster than 7-Zip"),
    "pipe": ("7zz", 1.2, "stream through a pipe ≥ 1.2× faster than 7-Zip"),
    "extract": ("cp -r (floor)", 0.95, "extraction within 5 % of `cp -r` (cp/ours ≥ 0.95)"),
    "small": ("isoinfo", 1.0, "one small file no slower than isoinfo (ratio ≥ 1.0)"),
}
# Absolute bars of spec §1; only meaningful for the full-size tree.
SPEC_BARS = {
    "list": "≤ 10 ms native",
    "stream": "≥ 6 GB/s",
    "pipe": "(no spec bar; a pipe caps every tool)",
    "extract": "within 10 % of the `cp -r` floor",
    "small": "≤ 5 ms",
}

TITLES = {
    "list": "A. List every entry (open plus full walk)",
    "stream": "B. Stream every file's bytes to a null sink",
    "pipe": "B2. Stream every file's bytes through a pipe (`| cat > /dev/null`)",
    "extract": "C. Full extraction",
    "small": "D. One ~2 KB file in small/, fresh process each time",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def die(msg: str, code: int = 2) -> "NoReturn":  # type: ignore[name-defined]
    log(f"error: {msg}")
    sys.exit(code)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


# --------------------------------------------------------------------------
# Benchmark tree and ISO (cached under the workdir, keyed by TREE_VERSION and
# the parameters).
# --------------------------------------------------------------------------

def build_tree_and_iso(workdir: Path, large_sizes: list[int], n_small: int, seed: int) -> dict:
    key = (f"v{TREE_VERSION}-L{'_'.join(str(s) for s in large_sizes)}"
           f"-n{n_small}-seed{seed}")
    final = workdir / key
    manifest_path = final / "manifest.json"
    if manifest_path.is_file():
        try:
            m = json.loads(manifest_path.read_text())
            iso = Path(m["iso"])
            if m.get("key") == key and iso.is_file() and iso.stat().st_size == m["iso_bytes"]:
                log(f"reusing cached tree and ISO: {final}")
                return m
        except (OSError, ValueError, KeyError):
            pass
        log(f"cache at {final} is stale or broken; rebuilding")
    if final.exists():
        shutil.rmtree(final)

    if shutil.which("genisoimage") is None:
        die("genisoimage is required to build the benchmark ISO")

    partial = workdir / (key + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    tree = partial / "tree"
    (tree / "small").mkdir(parents=True)
    t0 = time.perf_counter()

    total = sum(large_sizes) + n_small * (SMALL_MIN + SMALL_MAX) // 2
    log(f"building benchmark tree in {partial} (~{human_bytes(total)}) ...")
    large = []
    for i, size in enumerate(large_sizes):
        name = f"large{i}.bin"
        rng = random.Random(f"{seed}-large-{i}")
        with open(tree / name, "wb") as f:
            left = size
            while left:
                n = min(CHUNK, left)
                f.write(rng.randbytes(n))
                left -= n
        large.append({"name": name, "size": size})

    width = max(5, len(str(max(n_small - 1, 0))))
    rng = random.Random(f"{seed}-small")
    small_sizes = []
    for i in range(n_small):
        size = rng.randint(SMALL_MIN, SMALL_MAX)
        with open(tree / "small" / f"f{i:0{width}d}.bin", "wb") as f:
            f.write(rng.randbytes(size))
        small_sizes.append(size)
    gen_s = time.perf_counter() - t0

    # Probe file for the "one small file" task: ~2 KB, near the middle of the
    # directory (so directory scanners are not flattered by an early hit).
    candidates = [i for i, s in enumerate(small_sizes) if abs(s - PROBE_TARGET_SIZE) <= 100]
    if candidates:
        probe_i = min(candidates, key=lambda i: (abs(i - n_small // 2), i))
    elif small_sizes:
        probe_i = min(range(n_small), key=lambda i: (abs(small_sizes[i] - PROBE_TARGET_SIZE), i))
    else:
        die("--small-files must be ≥ 1")

    iso = partial / "bench.iso"
    cmd = ["genisoimage", "-R", "-J", "-joliet-long", "-quiet", "-o", str(iso), "tree"]
    log("running: " + " ".join(cmd))
    t1 = time.perf_counter()
    subprocess.run(cmd, cwd=partial, check=True)
    iso_s = time.perf_counter() - t1

    partial.rename(final)
    payload = sum(large_sizes) + sum(small_sizes)
    n_files = len(large_sizes) + n_small
    n_dirs = 1  # small/
    m = {
        "key": key,
        "tree_version": TREE_VERSION,
        "seed": seed,
        "dir": str(final),
        "tree": str(final / "tree"),
        "iso": str(final / "bench.iso"),
        "iso_bytes": (final / "bench.iso").stat().st_size,
        "large_files": large,
        "small_files": n_small,
        "small_bytes": sum(small_sizes),
        "payload_bytes": payload,
        "regular_files": n_files,
        "directories": n_dirs,
        "entries_with_root": n_files + n_dirs + 1,
        "probe": {"path": f"small/f{probe_i:0{width}d}.bin", "size": small_sizes[probe_i]},
        "genisoimage_cmd": cmd,
        "generate_seconds": round(gen_s, 2),
        "mkisofs_seconds": round(iso_s, 2),
    }
    (final / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    log(f"built tree in {gen_s:.1f} s and ISO in {iso_s:.1f} s")
    return m


def tree_relpaths(tree: Path) -> set[str]:
    out = set()
    for root, dirs, files in os.walk(tree):
        rel = os.path.relpath(root, tree)
        for name in dirs + files:
            out.add(name if rel == "." else f"{rel}/{name}")
    return out


# --------------------------------------------------------------------------
# Where extraction goes
# --------------------------------------------------------------------------

def fs_type(path: Path) -> str:
    best, fstype = "", "?"
    p = str(path.resolve())
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                if (p == mnt or p.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                    best, fstype = mnt, parts[2]
    except OSError:
        pass
    return fstype


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def pick_extract_base(explicit: Optional[str], payload: int, workdir: Path) -> tuple[Path, str]:
    need = int(payload * 1.15) + 256 * MiB
    if explicit:
        p = Path(explicit)
        p.mkdir(parents=True, exist_ok=True)
        return p, f"{p} ({fs_type(p)}, given by --extract-dir)"
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        free = free_bytes(shm)
        if free >= need:
            return shm, f"/dev/shm ({fs_type(shm)}, {human_bytes(free)} free)"
        reason = f"/dev/shm has only {human_bytes(free)} free, need {human_bytes(need)}"
    else:
        reason = "/dev/shm does not exist or is not writable"
    return workdir, f"{workdir} ({fs_type(workdir)}) — NOT tmpfs: {reason}; extraction numbers will be noisy"


# --------------------------------------------------------------------------
# Running and timing processes
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Sample:
    wall: float
    user: float
    sys: float
    rc: int


# Peak RSS. wait4()'s ru_maxrss is useless here: a child forked from this Python
# process inherits Python's high-water mark across exec.  So peak RSS is taken
# from the one untimed check run through GNU time, if installed (its own
# high-water mark is ~2 MB, so values below that are meaningless).
_GNU_TIME: Optional[str] = None


def detect_gnu_time() -> None:
    global _GNU_TIME
    t = shutil.which("time") or ("/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None)
    if not t:
        return
    try:
        r = subprocess.run([t, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return
    if b"GNU" in r.stdout:
        _GNU_TIME = t


class RssProbe:
    """Wraps argv with GNU time writing %M (KiB) to a temp file."""

    def __init__(self) -> None:
        self.path: Optional[str] = None
        if _GNU_TIME:
            fd, self.path = tempfile.mkstemp(prefix="isolution-bench-rss-")
            os.close(fd)

    def wrap(self, argv: list[str]) -> list[str]:
        return [_GNU_TIME, "-q", "-f", "%M", "-o", self.path] + argv if self.path else argv

    def result_kb(self) -> Optional[int]:
        if not self.path:
            return None
        try:
            lines = Path(self.path).read_text().split()
            return int(lines[-1]) if lines else None
        except (OSError, ValueError):
            return None
        finally:
            os.unlink(self.path)


def timed_run(argv: list[str], timeout: float) -> Sample:
    """One timed run: perf_counter around spawn + wait; stdout/stderr to /dev/null."""
    holder: dict = {}

    def _kill() -> None:
        p = holder.get("p")
        if p is not None and p.returncode is None:
            try:
                os.kill(p.pid, 9)
            except OSError:
                pass

    timer = threading.Timer(timeout, _kill)
    timer.daemon = True
    timer.start()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    holder["p"] = p
    _, status, ru = os.wait4(p.pid, 0)
    t1 = time.perf_counter()
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    return Sample(t1 - t0, ru.ru_utime, ru.ru_stime, p.returncode)


@dataclasses.dataclass
class CheckOutput:
    rc: int
    stdout: bytes  # empty in "count" mode
    nbytes: int
    stderr_tail: str
    maxrss_kb: Optional[int]


LAST_RSS_KB: Optional[int] = None  # peak RSS of the latest check run


def check_run(argv: list[str], mode: str, timeout: float) -> CheckOutput:
    """Untimed run whose stdout is inspected. mode: 'capture' or 'count'."""
    global LAST_RSS_KB
    rss = RssProbe()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(rss.wrap(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=err)
        timer = threading.Timer(timeout, p.kill)
        timer.daemon = True
        timer.start()
        try:
            if mode == "count":
                buf = bytearray(MiB)
                n = 0
                while True:
                    k = p.stdout.readinto(buf)  # type: ignore[union-attr]
                    if not k:
                        break
                    n += k
                data = b""
            else:
                data = p.stdout.read()  # type: ignore[union-attr]
                n = len(data)
            p.stdout.close()  # type: ignore[union-attr]
            rc = p.wait()
        finally:
            timer.cancel()
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace").strip()
    LAST_RSS_KB = rss.result_kb()
    return CheckOutput(rc, data, n, tail, LAST_RSS_KB)


# --------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------

PY_LIST = r"""
import sys, pycdlib
iso = pycdlib.PyCdlib(); iso.open(sys.argv[1])
n = 1
for root, dirs, files in iso.walk(rr_path='/'):
    n += len(dirs) + len(files)
iso.close()
print(n)
"""

PY_STREAM = r"""
import sys, pycdlib
class Null:
    n = 0
    def write(self, b):
        self.n += len(b); return len(b)
sink = Null()
iso = pycdlib.PyCdlib(); iso.open(sys.argv[1])
for root, dirs, files in iso.walk(rr_path='/'):
    base = root.rstrip('/')
    for f in files:
        iso.get_file_from_iso_fp(sink, rr_path=base + '/' + f)
iso.close()
print(sink.n)
"""

PY_EXTRACT = r"""
import os, sys, pycdlib
iso = pycdlib.PyCdlib(); iso.open(sys.argv[1]); dest = sys.argv[2]
for root, dirs, files in iso.walk(rr_path='/'):
    base = root.rstrip('/')
    out = os.path.join(dest, base.lstrip('/'))
    for d in dirs:
        os.makedirs(os.path.join(out, d), exist_ok=True)
    for f in files:
        iso.get_file_from_iso(os.path.join(out, f), rr_path=base + '/' + f)
iso.close()
"""

PY_SMALL = r"""
import sys, pycdlib
iso = pycdlib.PyCdlib(); iso.open(sys.argv[1])
iso.get_file_from_iso_fp(sys.stdout.buffer, rr_path=sys.argv[2])
iso.close()
"""


@dataclasses.dataclass
class Tool:
    name: str
    argv: list[str]           # may contain "{dest}"
    binary: str               # what must exist (for the "not installed" note)
    kind: str = "ref"         # "ours" | "ref" | "floor"
    slow: bool = False
    check: Optional[Callable[["Tool", "Ctx", str], Optional[str]]] = None  # returns error or None
    note: str = ""

    def uses_dest(self) -> bool:
        return any("{dest}" in a for a in self.argv)

    def render(self, dest: Optional[Path]) -> list[str]:
        return [a.replace("{dest}", str(dest)) if dest is not None else a for a in self.argv]


@dataclasses.dataclass
class Ctx:
    m: dict
    tree: Path
    iso: str
    xroot: Path
    timeout: float
    expected_paths: set[str]
    probe_bytes: bytes
    dest_counter: int = 0

    def new_dest(self) -> Path:
        self.dest_counter += 1
        d = self.xroot / f"dest-{self.dest_counter}"
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        return d


def _norm_path(line: str) -> str:
    s = line.strip().strip("'\"")
    while s.startswith("./"):
        s = s[2:]
    return s.strip("/")


def check_line_count(strict_paths: bool):
    def check(tool: Tool, ctx: Ctx, dest: Optional[str]) -> Optional[str]:
        out = check_run(tool.render(None), "capture", ctx.timeout)
        if out.rc != 0:
            return f"exit status {out.rc}: {out.stderr_tail[-300:]}"
        lines = [ln for ln in out.stdout.decode("utf-8", "replace").splitlines() if ln.strip()]
        e = ctx.m["entries_with_root"]
        if len(lines) not in (e, e - 1):
            return f"listed {len(lines)} lines, expected {e} (or {e - 1} without the root)"
        if strict_paths:
            got = {_norm_path(ln) for ln in lines} - {"", "."}
            if got != ctx.expected_paths:
                missing = sorted(ctx.expected_paths - got)[:3]
                extra = sorted(got - ctx.expected_paths)[:3]
                log(f"  warning: {tool.name}: listed paths differ from the source tree "
                    f"(missing e.g. {missing}, unexpected e.g. {extra}); the count matches, "
                    f"so this may just be the output format")
            else:
                log(f"  {tool.name}: {len(lines)} entries, paths match the source tree")
        return None
    return check


def check_rc_only(tool: Tool, ctx: Ctx, dest: Optional[str]) -> Optional[str]:
    out = check_run(tool.render(None), "count", ctx.timeout)
    return None if out.rc == 0 else f"exit status {out.rc}: {out.stderr_tail[-300:]}"


def check_printed_number(expected_key: str):
    def check(tool: Tool, ctx: Ctx, dest: Optional[str]) -> Optional[str]:
        out = check_run(tool.render(None), "capture", ctx.timeout)
        if out.rc != 0:
            return f"exit status {out.rc}: {out.stderr_tail[-300:]}"
        try:
            got = int(out.stdout.decode().strip())
        except ValueError:
            return f"unexpected output {out.stdout[:100]!r}"
        want = ctx.m[expected_key]
        return None if got == want else f"reported {got}, expected {want}"
    return check


def check_stream_bytes(tool: Tool, ctx: Ctx, dest: Optional[str]) -> Optional[str]:
    out = check_run(tool.render(None), "count", ctx.timeout)
    if out.rc != 0:
        return f"exit status {out.rc}: {out.stderr_tail[-300:]}"
    want = ctx.m["payload_bytes"]
    return None if out.nbytes == want else f"wrote {out.nbytes} bytes, expected {want}"


def check_probe_bytes(tool: Tool, ctx: Ctx, dest: Optional[str]) -> Optional[str]:
    out = check_run(tool.render(None), "capture", ctx.timeout)
    if out.rc != 0:
        return f"exit status {out.rc}: {out.stderr_tail[-300:]}"
    if out.stdout != ctx.probe_bytes:
        return (f"output ({len(out.stdout)} bytes) differs from {ctx.m['probe']['path']} "
                f"({len(ctx.probe_bytes)} bytes)")
    return None


def check_extract(tool: Tool, ctx: Ctx, dest: Optional[str]) -> Optional[str]:
    global LAST_RSS_KB
    d = ctx.new_dest()
    try:
        rss = RssProbe()
        s = timed_run(rss.wrap(tool.render(d)), ctx.timeout)
        LAST_RSS_KB = rss.result_kb()
        if s.rc != 0:
            return f"exit status {s.rc}"
        r = subprocess.run(["diff", "-r", "-q", str(ctx.tree), str(d)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            lines = r.stdout.decode("utf-8", "replace").splitlines()
            return (f"extraction differs from the source tree ({len(lines)} diff lines), e.g. "
                    + "; ".join(lines[:3]))
        return None
    finally:
        shutil.rmtree(d, ignore_errors=True)


def make_tools(task: str, ours: str, ctx: Ctx) -> list[Tool]:
    iso = ctx.iso
    py = sys.executable
    probe = ctx.m["probe"]["path"]
    tree = str(ctx.tree)
    if task == "list":
        return [
            Tool("isolution", [ours, "ls", iso], ours, "ours", check=check_line_count(True)),
            Tool("isoinfo", ["isoinfo", "-R", "-f", "-i", iso], "isoinfo", check=check_line_count(False)),
            Tool("bsdtar", ["bsdtar", "-tf", iso], "bsdtar", check=check_line_count(False)),
            Tool("7zz", ["7zz", "l", iso], "7zz", check=check_rc_only),
            Tool("xorriso", ["xorriso", "-indev", iso, "-find", "/"], "xorriso", slow=True,
                 check=check_line_count(False)),
            Tool("pycdlib", [py, "-c", PY_LIST, iso], "pycdlib", slow=True,
                 check=check_printed_number("entries_with_root")),
        ]
    if task == "stream":
        return [
            Tool("isolution", [ours, "cat", iso, "--all"], ours, "ours", check=check_stream_bytes),
            Tool("7zz", ["7zz", "e", "-so", iso], "7zz", check=check_stream_bytes),
            Tool("bsdtar", ["bsdtar", "-xOf", iso], "bsdtar", check=check_stream_bytes),
            Tool("pycdlib", [py, "-c", PY_STREAM, iso], "pycdlib", slow=True,
                 check=check_printed_number("payload_bytes")),
            Tool("cat ISO (floor)", ["cat", iso], "cat", "floor", check=check_rc_only,
                 note="reads the whole ISO, not just the payload"),
        ]
    if task == "pipe":
        # Writing to /dev/null never touches the bytes, so a zero-copy reader that hands
        # mapped pages to write(2) does no work there; through a pipe every tool's bytes are
        # really copied. The bytes themselves are verified by task B's checks.
        def piped(argv: list[str]) -> list[str]:
            return ["sh", "-c", '"$0" "$@" | cat > /dev/null'] + argv
        return [
            Tool("isolution", piped([ours, "cat", iso, "--all"]), ours, "ours", check=check_rc_only),
            Tool("7zz", piped(["7zz", "e", "-so", iso]), "7zz", check=check_rc_only),
            Tool("bsdtar", piped(["bsdtar", "-xOf", iso]), "bsdtar", check=check_rc_only),
            Tool("cat ISO (floor)", piped(["cat", iso]), "cat", "floor", check=check_rc_only,
                 note="reads the whole ISO, not just the payload"),
        ]
    if task == "extract":
        return [
            Tool("isolution", [ours, "extract", iso, "{dest}"], ours, "ours", check=check_extract),
            Tool("7zz", ["7zz", "x", "-y", "-o{dest}", iso], "7zz", check=check_extract),
            Tool("bsdtar", ["bsdtar", "-xf", iso, "-C", "{dest}"], "bsdtar", check=check_extract),
            Tool("xorriso", ["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", "{dest}"],
                 "xorriso", slow=True, check=check_extract),
            Tool("pycdlib", [py, "-c", PY_EXTRACT, iso, "{dest}"], "pycdlib", slow=True,
                 check=check_extract),
            Tool("cp -r (floor)", ["cp", "-r", tree + "/.", "{dest}"], "cp", "floor",
                 check=check_extract, note="copies the source tree, no ISO parsing"),
        ]
    if task == "small":
        return [
            Tool("isolution", [ours, "cat", iso, probe], ours, "ours", check=check_probe_bytes),
            Tool("isoinfo", ["isoinfo", "-R", "-i", iso, "-x", "/" + probe], "isoinfo",
                 check=check_probe_bytes),
            Tool("7zz", ["7zz", "e", "-so", iso, probe], "7zz", check=check_probe_bytes),
            Tool("bsdtar", ["bsdtar", "-xOf", iso, probe], "bsdtar", check=check_probe_bytes),
            Tool("pycdlib", [py, "-c", PY_SMALL, iso, "/" + probe], "pycdlib", slow=True,
                 check=check_probe_bytes),
        ]
    raise ValueError(task)


def tool_available(t: Tool) -> bool:
    if t.binary == "pycdlib":
        return importlib.util.find_spec("pycdlib") is not None
    if os.sep in t.binary:
        return os.access(t.binary, os.X_OK)
    return shutil.which(t.binary) is not None


# --------------------------------------------------------------------------
# Task runner
# --------------------------------------------------------------------------

def summarize(samples: list[Sample]) -> dict:
    walls = [s.wall for s in samples]
    return {
        "runs": len(samples),
        "wall_s": [round(w, 6) for w in walls],
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "user_median_s": statistics.median(s.user for s in samples),
        "sys_median_s": statistics.median(s.sys for s in samples),
    }


def precheck_ours(tasks: list[str], ours: str, ctx: Ctx) -> dict[str, Optional[int]]:
    """Verify isolution's output for every selected task before anything is timed."""
    global LAST_RSS_KB
    log("\n== verifying isolution (untimed) ==")
    rss: dict[str, Optional[int]] = {}
    for task in tasks:
        t = next(x for x in make_tools(task, ours, ctx) if x.kind == "ours")
        log(f"  check {task}: {' '.join(t.argv)}")
        LAST_RSS_KB = None
        err = t.check(t, ctx, None) if t.check else None
        if err:
            die(f"isolution failed the {task} sanity check: {err}\n"
                f"  command: {' '.join(t.argv)}\n  not measuring speed on a broken run")
        rss[task] = LAST_RSS_KB
    return rss


def run_task(task: str, tools: list[Tool], ctx: Ctx, runs: int, slow_runs: int,
             warmup: int, ours_rss: Optional[int]) -> dict:
    global LAST_RSS_KB
    log(f"\n== {task} ==")
    results: dict[str, dict] = {}
    active: list[Tool] = []
    for t in tools:
        entry = {"argv": t.argv, "kind": t.kind, "status": "ok"}
        results[t.name] = entry
        if not tool_available(t):
            entry["status"] = "skipped"
            entry["note"] = f"{t.binary} is not installed"
            log(f"  skip {t.name}: {entry['note']}")
            continue
        # Sanity check: one untimed run whose output is verified (doubles as warm-up).
        # isolution was already verified by precheck_ours(); run it once more untimed
        # so that every tool gets the same warm-up.
        if t.kind == "ours":
            err = None
            d = ctx.new_dest() if t.uses_dest() else None
            timed_run(t.render(d), ctx.timeout)
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
            entry["maxrss_kb"] = ours_rss
        else:
            log(f"  check {t.name} ...")
            LAST_RSS_KB = None
            err = t.check(t, ctx, None) if t.check else None
            entry["maxrss_kb"] = LAST_RSS_KB
        if err:
            if t.kind == "ours":
                die(f"isolution failed the {task} sanity check: {err}\n"
                    f"  command: {' '.join(t.argv)}\n  not measuring speed on a broken run")
            entry["status"] = "failed-check"
            entry["note"] = err
            log(f"  {t.name} FAILED its sanity check, not timed: {err}")
            continue
        for _ in range(warmup):
            d = ctx.new_dest() if t.uses_dest() else None
            timed_run(t.render(d), ctx.timeout)
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
        active.append(t)

    samples: dict[str, list[Sample]] = {t.name: [] for t in active}
    want = {t.name: (slow_runs if t.slow else runs) for t in active}
    # Round-robin across tools so slow drift (other load, thermal) hits all tools alike; the
    # order rotates each round, so that no tool always runs right after the same one (a
    # heavy tool's exit, such as 7-Zip's threads and memory being torn down, lands on
    # whichever runs next).
    for i in range(max(want.values(), default=0)):
        k = i % len(active) if active else 0
        for t in active[k:] + active[:k]:
            if i >= want[t.name] or results[t.name]["status"] != "ok":
                continue
            d = ctx.new_dest() if t.uses_dest() else None
            s = timed_run(t.render(d), ctx.timeout)
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
            if s.rc != 0:
                results[t.name]["status"] = "failed"
                results[t.name]["note"] = f"exit status {s.rc} in timed run {i + 1}"
                log(f"  {t.name}: run {i + 1} failed with exit status {s.rc}; dropped")
                continue
            samples[t.name].append(s)
            log(f"  {t.name:<16} run {i + 1}/{want[t.name]}: {s.wall * 1000:9.1f} ms")
    for t in active:
        if results[t.name]["status"] == "ok" and samples[t.name]:
            results[t.name].update(summarize(samples[t.name]))
        if t.note:
            results[t.name]["note"] = t.note
    return results


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def fmt_ms(s: float) -> str:
    ms = s * 1000
    return f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def evaluate(task: str, res: dict, full_size: bool, payload: int) -> dict:
    ref_name, need, text = TARGETS[task]
    ours = res.get("isolution", {})
    ref = res.get(ref_name, {})
    ev = {"target": text, "reference": ref_name, "required_ratio": need}
    if "median_s" in ours and "median_s" in ref:
        ratio = ref["median_s"] / ours["median_s"]
        ev.update(ratio=round(ratio, 4), met=ratio >= need)
    else:
        ev.update(ratio=None, met=None)
    # Spec §1 absolute bars.
    sb = {"bar": SPEC_BARS[task], "evaluated": full_size, "met": None}
    if full_size and "median_s" in ours:
        m = ours["median_s"]
        if task == "list":
            sb["met"] = m <= 0.010
        elif task == "stream":
            sb["met"] = payload / m >= 6e9
        elif task == "extract" and "median_s" in ref:
            sb["met"] = m <= 1.10 * ref["median_s"]
        elif task == "small":
            sb["met"] = m <= 0.005
    ev["spec_bar"] = sb
    return ev


def render_table(task: str, res: dict, ev: dict, payload: int, runs_desc: str) -> str:
    ours = res.get("isolution", {}).get("median_s")
    cols = ["Tool", "Median (ms)", "Min–max (ms)"]
    if task in ("stream", "pipe"):
        cols.append("Payload rate")
    cols += ["user / sys (ms)", "Peak RSS", "isolution is N× faster"]
    lines = [f"### {TITLES[task]}", "", runs_desc, "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    notes = []
    for name, r in res.items():
        label = f"**{name}**" if r.get("kind") == "ours" else name
        if "median_s" not in r:
            notes.append(f"- {name}: {r.get('status')}: {r.get('note', '')}")
            continue
        row = [label, fmt_ms(r["median_s"]), f"{fmt_ms(r['min_s'])}–{fmt_ms(r['max_s'])}"]
        if task in ("stream", "pipe"):
            row.append(f"{payload / r['median_s'] / 1e9:.2f} GB/s")
        row.append(f"{fmt_ms(r['user_median_s'])} / {fmt_ms(r['sys_median_s'])}")
        rss = r.get("maxrss_kb")
        row.append("n/a" if rss is None else f"{rss / 1024:.1f} MB")
        if r.get("kind") == "ours":
            row.append("—")
        elif ours:
            row.append(f"{r['median_s'] / ours:.2f}×")
        else:
            row.append("n/a")
        lines.append("| " + " | ".join(row) + " |")
        if r.get("note"):
            notes.append(f"- {name}: {r['note']}")
    lines.append("")
    if ev["ratio"] is None:
        lines.append(f"**Target:** {ev['target']} — n/a (missing measurement)")
    else:
        verdict = "**MET**" if ev["met"] else "**NOT MET**"
        lines.append(f"**Target:** {ev['target']} — ratio {ev['ratio']:.2f} "
                     f"(need ≥ {ev['required_ratio']:.2f}) → {verdict}")
    sb = ev["spec_bar"]
    if not sb["evaluated"]:
        lines.append(f"Spec §1 bar ({sb['bar']}): not evaluated on a scaled-down tree.")
    elif sb["met"] is None:
        lines.append(f"Spec §1 bar ({sb['bar']}): n/a")
    else:
        lines.append(f"Spec §1 bar ({sb['bar']}): {'met' if sb['met'] else 'not met'}.")
    if notes:
        lines += ["", "Notes:"] + notes
    return "\n".join(lines) + "\n"


def tool_versions(ours: str) -> dict:
    def first_line(argv: list[str], match: str = "") -> Optional[str]:
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        for ln in r.stdout.decode("utf-8", "replace").splitlines():
            if ln.strip() and (not match or match in ln):
                return ln.strip()
        return None

    v = {
        "isolution": first_line([ours, "--version"]),
        "isoinfo": first_line(["isoinfo", "-version"]),
        "bsdtar": first_line(["bsdtar", "--version"]),
        "7zz": first_line(["7zz"], "7-Zip"),
        "xorriso": first_line(["xorriso", "-version"], "xorriso"),
        "genisoimage": first_line(["genisoimage", "-version"]),
    }
    try:
        v["pycdlib"] = importlib.metadata.version("pycdlib")
    except importlib.metadata.PackageNotFoundError:
        v["pycdlib"] = None
    return v


def machine_info() -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "mem_bytes": mem, "kernel": platform.release(),
            "python": platform.python_version()}


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def resolve_isolution(arg: Optional[str], force_build: bool) -> str:
    if arg:
        p = Path(arg).resolve()
        if not os.access(p, os.X_OK):
            die(f"--isolution {arg}: not an executable file")
        return str(p)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    if not target.is_absolute():
        target = REPO_ROOT / target
    p = target / "release" / "isolution"
    if force_build or not p.exists():
        cmd = ["cargo", "build", "--release", "-p", CARGO_PACKAGE]
        log(f"{'building' if force_build else p.name + ' not found; building'}: "
            f"{' '.join(cmd)} (in {REPO_ROOT})")
        r = subprocess.run(cmd, cwd=REPO_ROOT)
        if r.returncode != 0:
            die(f"`{' '.join(cmd)}` failed; build it yourself or pass --isolution PATH")
        if not p.exists():
            die(f"build succeeded but {p} does not exist; pass --isolution PATH")
    return str(p)


def parse_scale(s: str) -> float:
    if "/" in s:
        a, b = s.split("/", 1)
        v = float(a) / float(b)
    else:
        v = float(s)
    if not 0 < v <= 1024:
        raise argparse.ArgumentTypeError("scale must be > 0")
    return v


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        description="Compare isolution with isoinfo, bsdtar, 7-Zip, xorriso and pycdlib "
                    "on the spec §7 benchmark ISO.",
        epilog="Markdown report on stdout, progress on stderr. See benches/compare/README.md.")
    ap.add_argument("--isolution", metavar="PATH",
                    help="isolution binary (default: <repo>/target/release/isolution, "
                         f"built with `cargo build --release -p {CARGO_PACKAGE}` if missing)")
    ap.add_argument("--build", action="store_true",
                    help="run cargo build --release even if the default binary exists")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "isolution-bench"),
                    help="where the tree and ISO are built and cached (default: %(default)s)")
    ap.add_argument("--extract-dir", metavar="DIR",
                    help="base directory for extraction targets (default: /dev/shm if it has "
                         "room, else the workdir)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: large files scaled by 1/64 (8,4,2,1 MiB), "
                         f"{QUICK_SMALL_FILES} small files, fewer runs")
    ap.add_argument("--scale", type=parse_scale, metavar="F",
                    help="multiply the large file sizes (512,256,128,64 MiB) by F, e.g. 0.25 or 1/64")
    ap.add_argument("--small-files", type=int, metavar="N",
                    help=f"number of files in small/ (default {FULL_SMALL_FILES}, "
                         f"{QUICK_SMALL_FILES} with --quick)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="content/size RNG seed (default: %(default)s)")
    ap.add_argument("--runs", type=int, help="timed runs per tool (default 5, 3 with --quick)")
    ap.add_argument("--slow-runs", type=int,
                    help="timed runs for slow tools: xorriso, pycdlib (default 3, 2 with --quick)")
    ap.add_argument("--small-runs", type=int,
                    help="timed runs for the one-small-file task (default 30, 10 with --quick)")
    ap.add_argument("--warmup", type=int, default=0,
                    help="extra untimed runs per tool; one verified untimed run always happens "
                         "(default: %(default)s)")
    ap.add_argument("--tasks", default=",".join(TASKS),
                    help="comma-separated subset of: " + ",".join(TASKS) + " (default: all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="kill a single run after this many seconds (default: %(default)s)")
    ap.add_argument("--json", metavar="FILE", help="write raw numbers to FILE")
    args = ap.parse_args(argv)

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in tasks:
        if t not in TASKS:
            ap.error(f"unknown task {t!r}; choose from {', '.join(TASKS)}")
    scale = args.scale if args.scale is not None else (QUICK_SCALE if args.quick else 1.0)
    n_small = args.small_files if args.small_files is not None else (
        QUICK_SMALL_FILES if args.quick else FULL_SMALL_FILES)
    if n_small < 1:
        ap.error("--small-files must be ≥ 1")
    runs = args.runs or (3 if args.quick else 5)
    slow_runs = args.slow_runs or (2 if args.quick else 3)
    small_runs = args.small_runs or (10 if args.quick else 30)
    large_sizes = [max(1, int(round(mib * MiB * scale))) for mib in FULL_LARGE_MIB]
    full_size = scale == 1.0 and n_small == FULL_SMALL_FILES

    started = time.perf_counter()
    detect_gnu_time()
    ours = resolve_isolution(args.isolution, args.build)
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    m = build_tree_and_iso(workdir, large_sizes, n_small, args.seed)
    tree, iso = Path(m["tree"]), m["iso"]

    base, where = pick_extract_base(args.extract_dir, m["payload_bytes"], workdir)
    xroot = Path(tempfile.mkdtemp(prefix="isolution-bench-", dir=base))
    log(f"extraction targets: {xroot} — {where}")

    try:
        # Warm the page cache: the ISO, then the source tree (for the cp floor).
        t0 = time.perf_counter()
        subprocess.run(["cat", iso], stdout=subprocess.DEVNULL, check=True)
        log(f"warmed page cache: cat ISO > /dev/null took {time.perf_counter() - t0:.3f} s")

        ctx = Ctx(m=m, tree=tree, iso=iso, xroot=xroot, timeout=args.timeout,
                  expected_paths=tree_relpaths(tree),
                  probe_bytes=(tree / m["probe"]["path"]).read_bytes())
        report: dict = {
            "version": 1,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(),
            "tools": tool_versions(ours),
            "isolution_path": ours,
            "isolution_mtime": time.strftime("%Y-%m-%dT%H:%M:%S",
                                             time.localtime(os.stat(ours).st_mtime)),
            "tree": m,
            "quick": args.quick,
            "full_size": full_size,
            "extract_dir": str(xroot),
            "extract_where": where,
            "runs": {"runs": runs, "slow_runs": slow_runs, "small_runs": small_runs,
                     "warmup": args.warmup},
            "tasks": {},
        }
        ours_rss = precheck_ours(tasks, ours, ctx)
        for task in tasks:
            r = small_runs if task == "small" else runs
            sr = min(slow_runs, r)
            res = run_task(task, make_tools(task, ours, ctx), ctx, r, sr, args.warmup,
                           ours_rss.get(task))
            ev = evaluate(task, res, full_size, m["payload_bytes"])
            report["tasks"][task] = {"runs": r, "slow_runs": sr, "results": res, "target": ev}
    finally:
        shutil.rmtree(xroot, ignore_errors=True)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)

    # ---- Markdown ----
    mi = report["machine"]
    out = ["# isolution vs other ISO 9660 readers", ""]
    out.append(f"- Machine: {mi['cpu']}, {mi['cpus']} CPUs, "
               f"{human_bytes(mi['mem_bytes'] or 0)} RAM, Linux {mi['kernel']}")
    out.append(f"- ISO: `{iso}`, {m['iso_bytes']:,} bytes; "
               f"{m['regular_files']:,} files + {m['directories']} dir "
               f"({m['entries_with_root']:,} entries with the root), "
               f"{m['payload_bytes']:,} payload bytes; large files "
               + ", ".join(human_bytes(x["size"]) for x in m["large_files"])
               + ("" if full_size else " — **scaled-down tree, not the spec §7 size**"))
    out.append(f"- Probe file for task D: `{m['probe']['path']}` ({m['probe']['size']} bytes)")
    out.append(f"- Extraction target: {where}")
    out.append(f"- Page cache warm (ISO read once before timing); every tool's output was "
               f"verified once, untimed, before its timed runs; runs interleaved round-robin")
    out.append(f"- isolution: `{ours}` (built {report['isolution_mtime']})")
    out.append("- Versions: " + "; ".join(f"{k}: {v}" for k, v in report["tools"].items() if v))
    out.append("")
    summary = ["### Summary", "", "| Task | Target | Ratio | Met |", "|---|---|---|---|"]
    for task in tasks:
        t = report["tasks"][task]
        desc = (f"Wall time of {t['runs']} runs per tool "
                f"({t['slow_runs']} for slow tools), median and min–max.")
        out.append(render_table(task, t["results"], t["target"], m["payload_bytes"], desc))
        ev = t["target"]
        summary.append(f"| {task} | {ev['target']} | "
                       f"{'n/a' if ev['ratio'] is None else format(ev['ratio'], '.2f')} | "
                       f"{'n/a' if ev['met'] is None else ('yes' if ev['met'] else 'no')} |")
    out += summary
    out.append("")
    out.append(f"_Total time: {report['elapsed_s']} s._")
    print("\n".join(out))

    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        log(f"raw numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
