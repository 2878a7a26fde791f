#!/usr/bin/env python3
"""Peak memory of `validate`, `export` (--oci, --oci-archive, --docker-archive) and `serve` on a
Solution of at least 4 GiB of layers, minus the mapped file: the target is under 64 MiB whatever
the size of the Solution.

    python3 benches/compare/memory.py [--gib 4.1] [--cache DIR] [--dest /tmp] [--isolution PATH]

The Solution is built once (validate.py's builder: two images of four random layers, a second
tag hard-linked) and cached outside the repository, in `--cache` (default
`$XDG_CACHE_HOME/isolution-bench-big`, else `/tmp/isolution-bench-big`); the layer files of the
tree are deleted once the ISO is made (only the ISO is needed). Exports go to `--dest` (default
/tmp, a disk, as a user would export) and are deleted after each run; `serve` is measured while
`curl` fetches every blob (four at a time, bodies to /dev/null).

How memory is counted: the process's /proc/PID/status is read every 2 ms while it runs.
- `RssAnon + RssShmem` (peak of the samples): the memory the process owns, which is what the
  target bounds. The mapped ISO is `RssFile` (page cache pages mapped into the process, shared
  and reclaimable), counted apart.
- `VmHWM` (the kernel's own peak RSS, what `/usr/bin/time -v` reports as "Maximum resident set
  size") and `RssFile` at the peak, for reference: `VmHWM - RssFile` is the same quantity
  measured the other way (an upper bound when the peak fell between two samples).
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate  # noqa: E402

LIMIT_MIB = 64


def status(pid):
    """The memory lines of /proc/PID/status, in KiB (empty once the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


class Sampler:
    """Polls /proc/PID/status until stopped or the process exits; keeps the peaks."""

    def __init__(self, pid, every=0.002):
        self.pid, self.every = pid, every
        self.own = 0  # peak RssAnon + RssShmem, KiB
        self.hwm = 0  # last VmHWM seen, KiB
        self.rss = 0  # peak VmRSS seen, KiB
        self.file_at_rss = 0  # RssFile of that sample, KiB
        self.file = 0  # peak RssFile, KiB
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            s = status(self.pid)
            if not s:
                break
            self.samples += 1
            self.own = max(self.own, s.get("RssAnon", 0) + s.get("RssShmem", 0))
            self.hwm = max(self.hwm, s.get("VmHWM", 0))
            self.file = max(self.file, s.get("RssFile", 0))
            if s.get("VmRSS", 0) >= self.rss:
                self.rss, self.file_at_rss = s.get("VmRSS", 0), s.get("RssFile", 0)
            time.sleep(self.every)

    def stop(self):
        self._stop.set()
        self._t.join()
        return {
            "own_mib": self.own / 1024,
            "vmhwm_mib": self.hwm / 1024,
            "rss_file_at_peak_mib": self.file_at_rss / 1024,
            "rss_file_peak_mib": self.file / 1024,
            "hwm_minus_file_mib": max(0, self.hwm - self.file_at_rss) / 1024,
            "samples": self.samples,
        }


def measure(argv, **popen):
    """Runs `argv` to the end while sampling its memory; returns (seconds, memory dict)."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)
    s = Sampler(p.pid)
    _, err = p.communicate()
    dt = time.perf_counter() - t
    m = s.stop()
    if p.returncode != 0:
        sys.exit(f"{argv[:3]} failed ({p.returncode}): {err.decode()[-400:]}")
    return dt, m


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "isolution-bench-big" if base else Path("/tmp/isolution-bench-big")


def build_big(work: Path, gib: float, ours: str):
    """validate.py's Solution with `gib` GiB of layers, cached in `work`; the tree's layer
    files are removed once the ISO exists (they are not needed again)."""
    mib = int(gib * 1024) // 8 * 8
    stamp = work / f"built-{mib}"
    iso = work / "solution.iso"
    if not (stamp.exists() and iso.exists()):
        print(f"building a Solution of {mib} MiB of layers in {work} (once)...", file=sys.stderr)
    iso, blobs, _ = validate.build(work, mib, ours)
    for b in blobs:
        if b.stat().st_size > 1 << 20:
            b.unlink()
    return iso, mib


def blob_urls(ours, iso, port):
    """Every distinct blob of the Solution as a URL on `serve` at `port`."""
    urls = set()
    for name in ("bench-operator", "bench-server"):
        m = subprocess.run([ours, "cat", str(iso), f"images/{name}/1.0.0/manifest.json"],
                           check=True, stdout=subprocess.PIPE).stdout
        m = json.loads(m)
        for d in [m["config"], *m["layers"]]:
            urls.add(f"http://127.0.0.1:{port}/v2/bench-1.0.0/{name}/blobs/{d['digest']}")
    return sorted(urls)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def measure_serve(ours, iso):
    port = free_port()
    p = subprocess.Popen([ours, "serve", "-q", str(iso), "--addr", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                if p.poll() is not None:
                    sys.exit("serve exited")
                time.sleep(0.05)
        urls = blob_urls(ours, iso, port)
        s = Sampler(p.pid)
        t = time.perf_counter()

        def get(u):
            r = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-w", "%{size_download}", u],
                               stdout=subprocess.PIPE, check=True)
            return int(r.stdout)

        with ThreadPoolExecutor(4) as ex:
            got = sum(ex.map(get, urls))
        dt = time.perf_counter() - t
        m = s.stop()
        return dt, m, got, len(urls)
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=4.1, help="GiB of layers (default 4.1)")
    ap.add_argument("--cache", default=str(cache_dir()))
    ap.add_argument("--dest", default="/tmp", help="where exports go (deleted after each run)")
    ap.add_argument("--runs", type=int, default=1, help="runs per row (the largest is kept)")
    ap.add_argument("--isolution", default=str(validate.REPO / "target/release/isolution"))
    ap.add_argument("--json", help="write the raw numbers here")
    a = ap.parse_args()
    ours = a.isolution
    if not Path(ours).exists():
        sys.exit(f"{ours} is missing: cargo build --release -p oci-export")
    iso, mib = build_big(Path(a.cache), a.gib, ours)
    size = iso.stat().st_size
    subprocess.run(["cat", str(iso)], stdout=subprocess.DEVNULL)  # page cache warm
    dest = Path(tempfile.mkdtemp(prefix="isolution-memory-bench-", dir=a.dest))
    rows = {}
    try:
        cases = [
            ("validate", lambda: [ours, "validate", str(iso)], None),
            ("export --oci", lambda: [ours, "export", "-q", str(iso), "--oci", str(dest / "oci")], dest / "oci"),
            ("export --oci-archive", lambda: [ours, "export", "-q", str(iso), "--oci-archive", str(dest / "o.tar")], dest / "o.tar"),
            ("export --docker-archive", lambda: [ours, "export", "-q", str(iso), "--docker-archive", str(dest / "d.tar")], dest / "d.tar"),
        ]
        for name, argv, out in cases:
            best = None
            for _ in range(a.runs):
                dt, m = measure(argv())
                m["seconds"] = dt
                if out is not None:
                    shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
                if best is None or m["own_mib"] > best["own_mib"]:
                    best = m
            rows[name] = best
            print(f"{name}: {best['own_mib']:.1f} MiB own, VmHWM {best['vmhwm_mib']:.0f} MiB", file=sys.stderr)
        best = None
        for _ in range(a.runs):
            dt, m, got, n = measure_serve(ours, iso)
            m["seconds"], m["bytes"], m["blobs"] = dt, got, n
            if best is None or m["own_mib"] > best["own_mib"]:
                best = m
        rows["serve (curl every blob, 4 at a time)"] = best
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    print(f"Solution of {mib} MiB of layers (ISO {size / 2**30:.2f} GiB, {iso}); exports to {a.dest}; "
          f"largest of {a.runs} run(s); memory sampled every 2 ms from /proc/PID/status\n")
    print("| Command | Own memory, peak (RssAnon+RssShmem) | VmHWM | RssFile at peak | VmHWM − RssFile | Time (s) | Target < 64 MiB |")
    print("|---|---|---|---|---|---|---|")
    for name, m in rows.items():
        ok = m["own_mib"] < LIMIT_MIB and m["hwm_minus_file_mib"] < LIMIT_MIB
        print(f"| {name} | {m['own_mib']:.1f} MiB | {m['vmhwm_mib']:.0f} MiB | {m['rss_file_at_peak_mib']:.0f} MiB "
              f"| {m['hwm_minus_file_mib']:.1f} MiB | {m['seconds']:.2f} | {'MET' if ok else 'NOT MET'} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"mib": mib, "iso_bytes": size, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
