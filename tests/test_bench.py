"""bench/bench.py runs end to end on a tiny budget and reports what bench/README.md reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_the_benchmark_runs_and_reports_rates_ratios_and_page_faults(data_root):
    env = {**os.environ, "CNNBOOK_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "bench/bench.py", "--only", "abc", "--epochs", "1",
         "--lenet-train-size", "1024", "--resnet-batches", "0", "--rounds", "2",
         "--workers", "0", "--threads", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    if sys.platform.startswith("linux"):
        assert "thresholds fixed by utils.speed.hold_freed_memory" in text or "not glibc" in text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("pipeline"))
    assert lines[start].split()[-1] == "faults/batch"
    table = lines[start + 1:lines.index("", start)]
    names = [re.split(r"\s{2,}", row)[0] for row in table]
    assert names == ["(a) DataLoader, 0 workers", "(b) utils.train",
                     "(c) limit: float batches in memory",
                     "(c) limit: float batches in memory, channels_last"], table
    for row in table:
        rate, faults = (float(re.split(r"\s{2,}", row)[i].replace(",", "")) for i in (1, 5))
        assert rate > 0 and faults >= 0, row
    ratios = re.findall(r"\(b\) utils\.train / \(a\) DataLoader.*: median ([0-9.]+), "
                        r"min ([0-9.]+), max ([0-9.]+)", text)
    assert ratios, text
    median, low, high = map(float, ratios[0])
    assert 0 < low <= median <= high
    ceilings = re.findall(r"\(c\) limit: (.*) / \(a\) DataLoader.*: median ([0-9.]+).*"
                          r"\(the ceiling of \(b\) / \(a\)\)", text)
    assert [name for name, _ in ceilings] == ["float batches in memory",
                                              "float batches in memory, channels_last"], text
    assert all(float(value) > 0 for _, value in ceilings)


@pytest.mark.parametrize("script", ["bench/bench.py", "bench/allocator.py"])
def test_the_benchmark_scripts_explain_themselves(script):
    out = subprocess.run([sys.executable, script, "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "usage:" in out.stdout, out.stderr
