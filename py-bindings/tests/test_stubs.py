"""The hand-written stubs (_native.pyi) match the native module (mypy.stubtest)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("mypy")


def test_stubtest():
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "isolution._native"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
