#!/usr/bin/env python3
"""Side-by-side: `isolution verify` on a signed Solution ISO of about 1 GiB, in one run, page
cache warm, medians:
  - embedded verification (signature over SHA256SUMS, then every file hashed on both cores)
    against `openssl dgst -sha256` over the whole image (SHA-NI, one core);
  - detached verification over the whole image against `minisign -V` (BLAKE2b) and
    `ssh-keygen -Y verify` (SHA-512) on the same file.

    python3 benches/compare/verify.py [--mib 1024] [--runs 5]
"""
import argparse, statistics, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate  # noqa: E402  (builds the Solution tree)


def timed(argv, runs, stdin=None):
    def once():
        f = open(stdin, "rb") if stdin else subprocess.DEVNULL
        t = time.perf_counter()
        r = subprocess.run(argv, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t
        if stdin:
            f.close()
        if r.returncode != 0:
            sys.exit(f"{argv[0]} failed ({r.returncode}): {r.stderr.decode()[-400:]}")
        return dt
    once()
    ts = [once() for _ in range(runs)]
    return statistics.median(ts), min(ts), max(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1000, help="MiB of layers (default 1000: a ~1 GiB ISO)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workdir", default="/tmp/isolution-verify-bench")
    ap.add_argument("--isolution", default=str(validate.REPO / "target/release/isolution"))
    a = ap.parse_args()
    ours = a.isolution
    if not Path(ours).exists():
        validate.sh("cargo", "build", "--release", "-p", "oci-export", cwd=validate.REPO)
    work = Path(a.workdir)
    iso, _, _ = validate.build(work, a.mib, ours)
    root = work / "root"
    signed = work / "signed.iso"
    keys = work / "keys"
    if not signed.exists():
        keys.mkdir(exist_ok=True)
        subprocess.run(["minisign", "-G", "-W", "-f", "-p", str(keys / "m.pub"), "-s", str(keys / "m.key")],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "ssh")], check=True)
        pub = (keys / "ssh.pub").read_text().split()
        (keys / "allowed").write_text(f"release@example {pub[0]} {pub[1]}\n")
        sums = subprocess.run([ours, "sums", str(root)], check=True, stdout=subprocess.PIPE).stdout
        (root / "SHA256SUMS").write_bytes(sums)
        subprocess.run(["minisign", "-S", "-s", str(keys / "m.key"), "-m", str(root / "SHA256SUMS")],
                       check=True, stdout=subprocess.DEVNULL)
        flags = ["-quiet", "-R", "-J", "-joliet-long", "-l", "-iso-level", "3", "-V", "Bench 1.0.0",
                 "-gid", "0", "-uid", "0", "-input-charset", "utf-8", "-output-charset", "utf-8"]
        validate.sh("genisoimage", *flags, "-o", str(signed), str(root))
        subprocess.run(["minisign", "-S", "-s", str(keys / "m.key"), "-m", str(signed)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(keys / "ssh"), "-n", "metalk8s-solution",
                        str(signed)], check=True, stderr=subprocess.DEVNULL)
    size = signed.stat().st_size
    subprocess.run(["cat", str(signed)], stdout=subprocess.DEVNULL)
    k = str(keys / "m.pub")
    rows = {
        "isolution verify (embedded, 2 threads)": timed([ours, "verify", str(signed), "--key", k], a.runs),
        "openssl dgst -sha256 ISO": timed(["openssl", "dgst", "-sha256", str(signed)], a.runs),
        "isolution verify --detached (minisign ED)": timed(
            [ours, "verify", str(signed), "--key", k, "--detached", str(signed) + ".minisig", "--detached-only"], a.runs),
        "minisign -V": timed(["minisign", "-V", "-p", k, "-m", str(signed)], a.runs),
        "isolution verify --detached (ssh)": timed(
            [ours, "verify", str(signed), "--allowed-signers", str(keys / "allowed"), "--identity", "release@example",
             "--detached", str(signed) + ".sig", "--detached-only"], a.runs),
        "ssh-keygen -Y verify": timed(
            ["ssh-keygen", "-Y", "verify", "-f", str(keys / "allowed"), "-I", "release@example", "-n",
             "metalk8s-solution", "-s", str(signed) + ".sig"], a.runs, stdin=str(signed)),
    }
    print(f"Signed Solution ISO of {size} bytes, median of {a.runs}, page cache warm\n")
    print("| Tool | Median (ms) | Min–max (ms) | Throughput |")
    print("|---|---|---|---|")
    for name, (m, lo, hi) in rows.items():
        print(f"| {name} | {m*1000:.0f} | {lo*1000:.0f}–{hi*1000:.0f} | {size/m/1e9:.2f} GB/s |")
    r = lambda x, y: rows[y][0] / rows[x][0]
    e = r("isolution verify (embedded, 2 threads)", "openssl dgst -sha256 ISO")
    m = r("isolution verify --detached (minisign ED)", "minisign -V")
    s = r("isolution verify --detached (ssh)", "ssh-keygen -Y verify")
    print(f"\nembedded vs openssl: {e:.2f}× (target ≥ 1.6×: {'MET' if e >= 1.6 else 'NOT MET'})")
    print(f"detached minisign vs minisign -V: {m:.2f}× (target ≥ 1.0×: {'MET' if m >= 1.0 else 'NOT MET'})")
    print(f"detached ssh vs ssh-keygen -Y verify: {s:.2f}× (target ≥ 1.0×: {'MET' if s >= 1.0 else 'NOT MET'})")


if __name__ == "__main__":
    main()
