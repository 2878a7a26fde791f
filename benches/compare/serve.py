#!/usr/bin/env python3
"""Side-by-side: `skopeo copy` of every image of a ~512 MiB Solution from `isolution serve`
against the same images pushed into Debian's `docker-registry` (distribution), in one run,
page cache warm, destination on tmpfs, medians.

    python3 benches/compare/serve.py [--runs 5]
"""
import shutil, socket, statistics, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def main():
    a = validate.parse_args(__doc__)
    ours = a.isolution
    iso, _, total = validate.build(Path(a.workdir), a.mib, ours)
    tmp = Path(tempfile.mkdtemp(prefix="isolution-serve-bench-"))
    reg_port, our_port = free_port(), free_port()
    (tmp / "config.yml").write_text(
        f"version: 0.1\nlog: {{ level: error }}\nstorage:\n  filesystem: {{ rootdirectory: {tmp}/data }}\n"
        f"http:\n  addr: 127.0.0.1:{reg_port}\n")
    reg = subprocess.Popen(["docker-registry", "serve", str(tmp / "config.yml")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = subprocess.Popen([ours, "serve", "-q", str(iso), "--addr", f"127.0.0.1:{our_port}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(reg_port)
        wait(our_port)
        subprocess.run([ours, "push", "--json", str(iso), "--registry",
                        f"127.0.0.1:{reg_port}", "--insecure"], check=True, stdout=subprocess.DEVNULL)
        images = ["bench-operator", "bench-server"]
        dest_base = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp

        def pull(port):
            d = dest_base / "isolution-serve-bench-pull"
            shutil.rmtree(d, ignore_errors=True)
            t = time.perf_counter()
            for n in images:
                subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                                f"docker://127.0.0.1:{port}/bench-1.0.0/{n}:1.0.0", f"oci:{d}:{n}"], check=True)
            dt = time.perf_counter() - t
            shutil.rmtree(d, ignore_errors=True)
            return dt

        pull(our_port), pull(reg_port)  # warm up
        ts = {"isolution serve": [], "docker-registry": []}
        for _ in range(a.runs):
            ts["isolution serve"].append(pull(our_port))
            ts["docker-registry"].append(pull(reg_port))
        print(f"skopeo copy of 2 images ({total / 2**20:.0f} MiB of layers) to an OCI layout on {dest_base}, median of {a.runs}\n")
        print("| Server | Median (ms) | Min–max (ms) | Throughput |")
        print("|---|---|---|---|")
        for k, v in ts.items():
            m = statistics.median(v)
            print(f"| {k} | {m*1000:.0f} | {min(v)*1000:.0f}–{max(v)*1000:.0f} | {total/m/1e9:.2f} GB/s |")
        r = statistics.median(ts["docker-registry"]) / statistics.median(ts["isolution serve"])
        print(f"\nisolution serve vs docker-registry: {r:.2f}× (target ≥ 1×: {'MET' if r >= 1 else 'NOT MET'})")
    finally:
        srv.terminate()
        reg.terminate()
        srv.wait()
        reg.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
