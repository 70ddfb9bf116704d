"""tools/portable.py: the settings under which this machine computes as another would."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import portable  # noqa: E402


@pytest.mark.parametrize("capability, cores, expected", [
    ("AVX512", 2, {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2",
                   "ONEDNN_MAX_CPU_ISA": "AVX2"}),
    ("AVX2", 2, {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default",
                 "ONEDNN_MAX_CPU_ISA": "AVX"}),
    ("AVX2", 16, {"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "default",
                  "ONEDNN_MAX_CPU_ISA": "AVX"}),
    ("DEFAULT", 8, {"OMP_NUM_THREADS": "2"}),
])
def test_other_machine_changes_threads_and_instruction_set(capability, cores, expected):
    assert portable.other_machine(capability, cores) == expected


def test_the_settings_take_effect_in_a_fresh_interpreter(monkeypatch):
    for name in ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)
    default = portable.probe()
    settings = portable.other_machine(default["capability"], os.cpu_count() or 1)
    got = portable.probe({**os.environ, **settings})
    assert got["threads"] == int(settings["OMP_NUM_THREADS"])
    if "ATEN_CPU_CAPABILITY" in settings:
        assert got["capability"] == settings["ATEN_CPU_CAPABILITY"].upper() != \
            default["capability"]
