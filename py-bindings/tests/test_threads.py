"""One Image shared by many threads: reads, walks and validations at once."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import isolution
from conftest import FIXTURES, SOLUTIONS, render


def test_concurrent_reads(rr_joliet):
    files = [e.path for e in rr_joliet.walk() if e.is_file()]
    want = {p: hashlib.sha256(rr_joliet.read(p)).hexdigest() for p in files}

    def work(i):
        p = files[i % len(files)]
        how = i % 3
        if how == 0:
            data = rr_joliet.read(p)
        elif how == 1:
            with rr_joliet.open(p) as f:
                data = f.read()
        else:
            data = rr_joliet.view(p).tobytes()
        return p, hashlib.sha256(data).hexdigest()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(2000)))
    assert all(want[p] == h for p, h in results)


def test_concurrent_walks_and_validations():
    image = isolution.open(FIXTURES / "rr-joliet.iso")
    sol = isolution.open(SOLUTIONS / "example-solution-1.0.2.iso").solution
    base_walk = [e.path for e in image.walk()]
    base_findings = [render(f) for f in sol.validate()]

    def work(i):
        if i % 2:
            return [e.path for e in image.walk()] == base_walk
        return [render(f) for f in sol.validate(threads=1)] == base_findings

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(pool.map(work, range(60)))
    image.close()


def test_close_while_other_threads_read():
    image = isolution.open(FIXTURES / "rr-joliet.iso")

    def work(i):
        try:
            return len(image.read("data/seventy-k.bin"))
        except ValueError:  # closed meanwhile
            return -1

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(work, i) for i in range(200)]
        image.close()
        results = [f.result() for f in futures]
    assert set(results) <= {70001, -1}
