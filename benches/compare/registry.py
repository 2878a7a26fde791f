#!/usr/bin/env python3
"""Side-by-side, in one run: `isolution serve` against Debian's `docker-registry`
(distribution) under the same concurrent pull load (p50/p99 latency, requests/s, peak RSS),
and `isolution push` against `skopeo copy` of the same images into the same registry.

    python3 benches/compare/registry.py [--mib 64] [--runs 3] [--connections 64] [--seconds 15]

The Solution is `validate.py`'s (two images of four random layers each, a second tag
hard-linked). Load: `wrk` with N connections on 2 threads, each request a GET of one of the
Solution's manifests or blobs in turn (every layer, config and manifest), for S seconds; the
registry holds the same images, pushed first. Peak RSS is the server's VmHWM after the load.
Push: each run into a fresh, empty registry (its own storage directory); skopeo copies each
image from the `dir:` copy in the unpacked tree (the unpacking is not timed, the ISO's own
layout), one `skopeo copy` per image tag as a packager's script does.
"""
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate  # noqa: E402
from serve import free_port, wait  # noqa: E402

ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.oci.image.manifest.v1+json")


def registry(tmp: Path, name: str):
    port = free_port()
    cfg = tmp / f"{name}.yml"
    cfg.write_text(
        f"version: 0.1\nlog: {{ level: error }}\nstorage:\n  filesystem: {{ rootdirectory: {tmp}/{name} }}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    p = subprocess.Popen(["docker-registry", "serve", str(cfg)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(port)
    return p, port


def hwm(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def paths(port, images):
    out = []
    for n in images:
        p = f"/v2/bench-1.0.0/{n}/manifests/1.0.0"
        req = urllib.request.Request(f"http://127.0.0.1:{port}{p}", headers={"Accept": ACCEPT})
        m = json.load(urllib.request.urlopen(req, timeout=10))
        out.append(p)
        for d in [m["config"]] + m["layers"]:
            out.append(f"/v2/bench-1.0.0/{n}/blobs/{d['digest']}")
    return out


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def load(port, urls, conns, seconds, tmp):
    script = tmp / "paths.lua"
    script.write_text(
        "local paths = {" + ",".join(f'"{u}"' for u in urls) + "}\n"
        "local i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        f'  return wrk.format("GET", paths[i], {{["Accept"] = "{ACCEPT}"}})\nend\n')
    r = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "30s",
                        "-s", str(script), f"http://127.0.0.1:{port}"],
                       check=True, stdout=subprocess.PIPE, text=True).stdout
    lat = {}
    for q, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", r, re.M):
        lat[q] = float(v) * UNIT[u]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", r).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", r)
    sock = re.search(r"Socket errors: (.*)", r)
    if errors or sock:
        sys.exit(f"load errors: {errors.group(0) if errors else ''} {sock.group(0) if sock else ''}\n{r}")
    return lat["50"], lat["99"], rps


def main():
    ap_doc = __doc__
    a = validate.parse_args(ap_doc, mib_help="MiB of layers (default 512; 64 is quicker)")
    conns = int(os.environ.get("CONNECTIONS", "64"))
    seconds = int(os.environ.get("SECONDS_PER_RUN", "15"))
    ours = a.isolution
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (apt-get install wrk)")
    iso, _, total = validate.build(Path(a.workdir), a.mib, ours)
    tmp = Path(tempfile.mkdtemp(prefix="isolution-registry-bench-"))
    images = ["bench-operator", "bench-server"]
    procs = []
    try:
        # 1. Pull load.
        reg, reg_port = registry(tmp, "loaded")
        procs.append(reg)
        subprocess.run([ours, "push", "-q", str(iso), "--registry", f"127.0.0.1:{reg_port}", "--insecure"],
                       check=True, stdout=subprocess.DEVNULL)
        our_port = free_port()
        srv = subprocess.Popen([ours, "serve", "-q", str(iso), "--addr", f"127.0.0.1:{our_port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(srv)
        wait(our_port)
        urls = paths(our_port, images)
        if urls != paths(reg_port, images):
            sys.exit("the two servers do not list the same manifests and blobs")
        res = {"isolution serve": [], "docker-registry": []}
        for _ in range(a.runs):
            res["isolution serve"].append(load(our_port, urls, conns, seconds, tmp))
            res["docker-registry"].append(load(reg_port, urls, conns, seconds, tmp))
        rss = {"isolution serve": hwm(srv.pid), "docker-registry": hwm(reg.pid)}
        print(f"Pull load: wrk, {conns} connections, 2 threads, {seconds} s per run, GET of each of the "
              f"{len(urls)} manifests and blobs in turn ({total / 2**20:.0f} MiB of layers), median of {a.runs} runs\n")
        print("| Server | p50 (ms) | p99 (ms) | Requests/s | Peak RSS (MiB) |")
        print("|---|---|---|---|---|")
        med = {}
        for k, v in res.items():
            p50 = statistics.median(x[0] for x in v)
            p99 = statistics.median(x[1] for x in v)
            rps = statistics.median(x[2] for x in v)
            med[k] = (p50, p99, rps)
            print(f"| {k} | {p50:.2f} | {p99:.2f} | {rps:,.0f} | {rss[k]:.0f} |")
        o, d = med["isolution serve"], med["docker-registry"]
        print(f"\nisolution serve vs docker-registry: p50 {d[0] / o[0]:.2f}×, p99 {d[1] / o[1]:.2f}×, "
              f"requests/s {o[2] / d[2]:.2f}× (above 1: we are better)\n")
        srv.terminate()
        srv.wait()
        reg.terminate()
        reg.wait()
        procs.clear()

        # 2. Push into an empty registry: isolution push against skopeo copy.
        unpacked = tmp / "unpacked"
        subprocess.run([ours, "extract", str(iso), str(unpacked)], check=True, stdout=subprocess.DEVNULL)
        tags = sorted(p for p in unpacked.glob("images/*/*") if p.is_dir())

        def run_ours(port):
            subprocess.run([ours, "push", "-q", str(iso), "--registry", f"127.0.0.1:{port}", "--insecure"],
                           check=True, stdout=subprocess.DEVNULL)

        def run_skopeo(port):
            for t in tags:
                subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                                f"dir:{t}", f"docker://127.0.0.1:{port}/bench-1.0.0/{t.parent.name}:{t.name}"],
                               check=True, stdout=subprocess.DEVNULL)

        times = {"isolution push": [], "skopeo copy": []}
        for i in range(a.runs + 1):
            for name, fn in (("isolution push", run_ours), ("skopeo copy", run_skopeo)):
                p, port = registry(tmp, f"push-{i}-{name.split()[0]}")
                try:
                    t = time.perf_counter()
                    fn(port)
                    dt = time.perf_counter() - t
                finally:
                    p.terminate()
                    p.wait()
                    shutil.rmtree(tmp / f"push-{i}-{name.split()[0]}", ignore_errors=True)
                if i > 0:  # the first round warms the page cache
                    times[name].append(dt)
        print(f"Push of both images and their second tags ({total / 2**20:.0f} MiB of layers) into an empty "
              f"docker-registry, median of {a.runs}\n")
        print("| Tool | Median (s) | Min–max (s) |")
        print("|---|---|---|")
        for k, v in times.items():
            print(f"| {k} | {statistics.median(v):.2f} | {min(v):.2f}–{max(v):.2f} |")
        r = statistics.median(times["skopeo copy"]) / statistics.median(times["isolution push"])
        print(f"\nisolution push vs skopeo copy: {r:.2f}× (above 1: we are faster)")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
