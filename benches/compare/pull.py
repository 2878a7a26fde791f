#!/usr/bin/env python3
"""Side-by-side, in one run: `isolution push` against `skopeo copy` into Debian's
`docker-registry`, and `isolution serve` against `docker-registry` (and a static file server)
under `curl`, on the same Solution, runs interleaved, medians and ratios.

    python3 benches/compare/pull.py [--mib 384] [--runs 5] [--workdir DIR] [--isolution PATH]

The Solution is `validate.py`'s (two images of four random layers, `--mib` MiB of layers in
all: 384 gives four 48 MiB layers per image; a second tag of each image hard-linked).

Rows:
- push: `isolution push ISO` into a fresh, empty `docker-registry` (its own storage
  directory, started before the clock and stopped after) against `skopeo copy oci:LAYOUT:REF
  docker://...` of the same four image tags, one `skopeo copy` per tag (as a packager's script
  does), from an OCI layout made once by `isolution export --oci` (not timed).
- serve, every blob: each distinct (repository, blob) of the Solution (every layer and config
  of both images) fetched by one `curl --parallel --parallel-max 4` (bodies to /dev/null),
  from `isolution serve` and from `docker-registry` holding the same images (pushed first).
  Our server checks each blob's digest before its first byte, once: the untimed warm-up round
  does it (as `--verify-blobs start` would at start-up).
- serve, one large blob: the largest layer over one connection (`curl -o /dev/null`) from
  `isolution serve`, from `docker-registry`, and from nginx (sendfile) serving the same bytes
  from the blob file: the static file server is the loopback's limit here.

`--runs` (default 5) rounds of push after a warm-up round; `SERVE_RUNS` in the environment
(default 3 × runs: a round takes about a second) rounds of each serve row after a warm-up.
The load average at the start and the end is printed: on a shared machine the ratios move
with it, which is why every row is interleaved round by round.

Needs skopeo, docker-registry, curl, and nginx (nginx-light) for the static-server row (that
row is skipped, with a message, without it).
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate  # noqa: E402
from serve import free_port, wait  # noqa: E402
from registry import registry as start_registry  # noqa: E402

ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.oci.image.manifest.v1+json")
PREFIX = "bench-1.0.0"
IMAGES = ["bench-operator", "bench-server"]
TAGS = ["1.0.0", "latest"]
TARGET = 1.5


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def start_nginx(tmp: Path, root: Path):
    """nginx serving `root` on a free loopback port, one worker, sendfile on."""
    port = free_port()
    pre = tmp / "nginx"
    pre.mkdir()
    conf = pre / "nginx.conf"
    conf.write_text(
        "worker_processes 1;\nuser root root;\nerror_log stderr error;\npid nginx.pid;\n"
        "events { worker_connections 64; }\n"
        "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n"
        "  client_body_temp_path cb; proxy_temp_path px; fastcgi_temp_path fc;\n"
        "  uwsgi_temp_path uw; scgi_temp_path sc;\n"
        f"  server {{ listen 127.0.0.1:{port}; root {root}; }}\n}}\n")
    p = subprocess.Popen(["nginx", "-p", str(pre), "-c", str(conf), "-g", "daemon off;"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(port)
    return p, port


def blob_paths(port):
    """The distinct blobs of the Solution: (URL path, size), every config and layer of each
    image, through its manifests (the second tag shares them)."""
    out = {}
    for n in IMAGES:
        for t in TAGS:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/{PREFIX}/{n}/manifests/{t}",
                                         headers={"Accept": ACCEPT})
            m = json.load(urllib.request.urlopen(req, timeout=10))
            for d in [m["config"]] + m["layers"]:
                out[f"/v2/{PREFIX}/{n}/blobs/{d['digest']}"] = d["size"]
    return sorted(out.items())


def curl_all(port, paths, tmp: Path):
    """One `curl --parallel --parallel-max 4` fetching every path, bodies to /dev/null; checks
    every transfer was a 200 of the expected size. Returns the wall time."""
    cfg = tmp / f"curl-{port}.cfg"
    cfg.write_text("".join(f'url = "http://127.0.0.1:{port}{p}"\noutput = "/dev/null"\n' for p, _ in paths))
    argv = ["curl", "-s", "--parallel", "--parallel-max", "4", "-K", str(cfg),
            "-w", "%{http_code} %{size_download} %{url_effective}\\n"]
    t = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    got = {}
    for line in r.stdout.splitlines():
        code, size, url = line.split(" ", 2)
        got[url.split(str(port), 1)[1]] = (code, int(size))
    want = {p: ("200", s) for p, s in paths}
    if r.returncode != 0 or got != want:
        sys.exit(f"curl from port {port} failed ({r.returncode}): {r.stderr[-400:]} "
                 f"{sorted(set(want.items()) ^ set(got.items()))[:4]}")
    return dt


def curl_one(url, size):
    """One blob over one connection, body to /dev/null: curl's own time from the start of the
    connection to the last byte (`%{time_total}`: no process start-up), checked to be a 200 of
    `size` bytes."""
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}",
                        url], stdout=subprocess.PIPE, text=True)
    out = r.stdout.split()
    if r.returncode != 0 or out[:2] != ["200", str(size)]:
        sys.exit(f"curl {url} failed ({r.returncode}): {r.stdout}")
    return float(out[2])


def table(title, times, nbytes):
    print(title + "\n")
    print("| Tool | Median (ms) | Min–max (ms) | Throughput (median) |")
    print("|---|---|---|---|")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"| {k} | {m*1000:.0f} | {min(v)*1000:.0f}–{max(v)*1000:.0f} | {nbytes/m/1e6:,.0f} MB/s |")
    print()


def verdict(label, ratio, target=TARGET):
    return f"{label}: {ratio:.2f}× (target ≥ {target:g}×: {'MET' if ratio >= target else 'NOT MET'})"


def main():
    a = validate.parse_args(__doc__, mib_help="MiB of layers (default 384: four 48 MiB layers per image)")
    ours = a.isolution
    serve_runs = int(os.environ.get("SERVE_RUNS", str(3 * a.runs)))
    for t in ("skopeo", "docker-registry", "curl"):
        if not shutil.which(t):
            sys.exit(f"{t} is needed (Debian package {'golang-github-docker-distribution' if t == 'docker-registry' else t})")
    if not Path(ours).exists():
        sys.exit(f"{ours} is missing: cargo build --release -p oci-export --features cli")
    iso, blobs, total = validate.build(Path(a.workdir), a.mib, ours)
    tmp = Path(tempfile.mkdtemp(prefix="isolution-pull-bench-"))
    procs = []
    print(f"load average at start: {loadavg()} (2 cores)", file=sys.stderr)
    load_start = loadavg()
    try:
        subprocess.run(["cat", str(iso)], check=True, stdout=subprocess.DEVNULL)
        # 1. Push into an empty registry: isolution push against skopeo copy oci: docker://.
        layout = tmp / "oci"
        subprocess.run([ours, "export", "-q", str(iso), "--oci", str(layout)], check=True,
                       stdout=subprocess.DEVNULL)
        refs = [m["annotations"]["org.opencontainers.image.ref.name"]
                for m in json.loads((layout / "index.json").read_text())["manifests"]]

        def dest(port, ref):
            # The layout's refs are `<image>:<tag>` (or bare tags: then the image is unknown).
            image, _, tag = ref.rpartition(":")
            return f"docker://127.0.0.1:{port}/{PREFIX}/{image}:{tag}"

        if len(refs) != len(IMAGES) * len(TAGS) or any(":" not in r for r in refs):
            sys.exit(f"unexpected refs in the OCI layout: {refs}")

        def run_ours(port):
            subprocess.run([ours, "push", "-q", str(iso), "--registry", f"127.0.0.1:{port}", "--insecure"],
                           check=True, stdout=subprocess.DEVNULL)

        def run_skopeo(port):
            for r in refs:
                subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                                f"oci:{layout}:{r}", dest(port, r)], check=True, stdout=subprocess.DEVNULL)

        push = {"isolution push": [], "skopeo copy (oci: → docker://, one per tag)": []}
        for i in range(a.runs + 1):
            for name, fn in zip(push, (run_ours, run_skopeo)):
                store = f"push-{i}-{name.split()[0]}"
                p, port = start_registry(tmp, store)
                try:
                    t = time.perf_counter()
                    fn(port)
                    dt = time.perf_counter() - t
                    # Both left the same four tags.
                    assert len(blob_paths(port)) == 2 * 5, store
                finally:
                    stop(p)
                    shutil.rmtree(tmp / store, ignore_errors=True)
                print(f"push round {i} {name}: {dt:.2f} s", file=sys.stderr)
                if i > 0:  # the first round warms up
                    push[name].append(dt)

        # 2. Serve: every blob, four at a time; one large blob over one connection.
        reg, reg_port = start_registry(tmp, "served")
        procs.append(reg)
        run_ours(reg_port)
        our_port = free_port()
        srv = subprocess.Popen([ours, "serve", "-q", str(iso), "--addr", f"127.0.0.1:{our_port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(srv)
        wait(our_port)
        paths = blob_paths(our_port)
        if paths != blob_paths(reg_port):
            sys.exit("the two servers do not list the same blobs")
        nbytes = sum(s for _, s in paths)
        big_path, big_size = max(paths, key=lambda x: x[1])
        big_file = next(b for b in blobs if b.name == big_path.rsplit(":", 1)[1])
        servers = {"isolution serve": our_port, "docker-registry": reg_port}
        every = {k: [] for k in servers}
        for i in range(serve_runs + 1):
            for k, port in servers.items():
                dt = curl_all(port, paths, tmp)
                print(f"serve round {i} {k}: {dt:.3f} s", file=sys.stderr)
                if i:
                    every[k].append(dt)

        one = {k: f"http://127.0.0.1:{p}{big_path}" for k, p in servers.items()}
        if shutil.which("nginx"):
            ng, ng_port = start_nginx(tmp, big_file.parent)
            procs.append(ng)
            one["nginx (sendfile, the blob file)"] = f"http://127.0.0.1:{ng_port}/{big_file.name}"
        else:
            print("nginx is missing (apt-get install nginx-light): no static-server row", file=sys.stderr)
        single = {k: [] for k in one}
        for i in range(serve_runs + 1):
            for k, url in one.items():
                dt = curl_one(url, big_size)
                if i:
                    single[k].append(dt)
        load_end = loadavg()

        print(f"Solution of {total / 2**20:.0f} MiB of layers (two images, four layers each, a second tag "
              f"each); release build; load average {load_start} at start, {load_end} at the end (2 cores; "
              f"other jobs share the machine); runs interleaved, medians\n")
        table(f"Push of both images and their second tags into an empty docker-registry, median of {a.runs}",
              push, total)
        table(f"Every blob ({len(paths)} blobs, {nbytes / 2**20:.0f} MiB) fetched by one `curl --parallel "
              f"--parallel-max 4`, bodies to /dev/null (wall time of the curl process), median of {serve_runs}",
              every, nbytes)
        table(f"One {big_size / 2**20:.0f} MiB blob over one connection (`curl -o /dev/null`, curl's time_total), "
              f"median of {serve_runs}", single, big_size)
        med = lambda d, k: statistics.median(d[k])  # noqa: E731
        print(verdict("push: isolution push vs skopeo copy",
                      med(push, "skopeo copy (oci: → docker://, one per tag)") / med(push, "isolution push")))
        print(verdict("serve, every blob: isolution serve vs docker-registry",
                      med(every, "docker-registry") / med(every, "isolution serve")))
        # The rounds are interleaved: the ratio within each round sees the same load on both.
        paired = statistics.median(d / o for o, d in zip(every["isolution serve"], every["docker-registry"]))
        print(f"serve, every blob: median of the per-round ratios {paired:.2f}×, of the fastest runs "
              f"{min(every['docker-registry']) / min(every['isolution serve']):.2f}×")
        print(f"serve, one blob: isolution serve vs docker-registry: "
              f"{med(single, 'docker-registry') / med(single, 'isolution serve'):.2f}×")
        if "nginx (sendfile, the blob file)" in single:
            r = med(single, "nginx (sendfile, the blob file)") / med(single, "isolution serve")
            print(f"serve, one blob: isolution serve vs nginx sendfile (the loopback's limit here): {r:.2f}× "
                  f"(1.00 = at the limit)")
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
