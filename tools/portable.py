"""Run nbval on notebooks as another machine would compute them.

    python tools/portable.py [--workers N] [--set NAME=VALUE ...] [NOTEBOOK ...]

The same seed trains a different trajectory on another CPU, because PyTorch
(ATen) and oneDNN pick kernels by instruction set and the number of threads
changes the order of every parallel reduction. A floor that one machine clears
by a hair fails on the next. This script reruns nbval under settings that
differ from this machine's default in both respects:

- the thread count: the committed outputs are executed at one thread per
  notebook (``make execute``); on four cores or more each notebook gets two
  threads, with half as many notebooks at a time as there are cores. On fewer
  cores it stays at one thread, with one notebook per core (pytest-xdist,
  whole files per worker): two notebooks at two threads each on two cores ran
  at three quarters of the speed of two at one thread, and one at two threads
  at two thirds, so there only the instruction set changes;
- the instruction set: an AVX-512 machine computes as an AVX2 one does
  (``ATEN_CPU_CAPABILITY=avx2``, ``ONEDNN_MAX_CPU_ISA=AVX2``); an AVX2 machine
  uses ATen's portable kernels, as ARM CPUs such as Apple's run the book
  (``ATEN_CPU_CAPABILITY=default``), and oneDNN's AVX kernels.

Before running the notebooks it checks, in a fresh interpreter, that the
settings took effect, and prints them. ``--set`` replaces or adds one setting.
With no notebooks it runs every notebook under chapters/, exercises/ and appendix/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from tools.notebooks import notebooks  # noqa: E402

NBVAL = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/sanitize.cfg"]
PROBE = ("import json, torch; print(json.dumps({'capability': "
         "torch.backends.cpu.get_cpu_capability(), 'threads': torch.get_num_threads()}))")


def probe(env: dict[str, str] | None = None) -> dict:
    """The ATen kernel set and thread count a fresh interpreter gets under `env`."""
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def other_machine(capability: str, cores: int) -> dict[str, str]:
    """Settings under which this machine computes as another kind would.

    Args:
        capability: ``torch.backends.cpu.get_cpu_capability()`` of this machine,
            e.g. ``"AVX512"``, ``"AVX2"`` or ``"DEFAULT"``.
        cores: the number of CPU cores (``os.cpu_count()``).

    Returns:
        Environment variables that set the thread count per notebook (two on
        four cores or more, else one) and, where there is a smaller instruction
        set to fall back to, the kernels.
    """
    env = {"OMP_NUM_THREADS": "2" if cores >= 4 else "1"}
    cap = capability.upper()
    if cap.startswith("AVX512"):
        env.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    elif cap == "AVX2":
        env.update(ATEN_CPU_CAPABILITY="default", ONEDNN_MAX_CPU_ISA="AVX")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--workers", type=int, default=None,
                        help="notebooks run at once (default: cores / threads per notebook)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="add or replace one setting, e.g. --set OMP_NUM_THREADS=4")
    args = parser.parse_args()

    base = {k: v for k, v in os.environ.items()
            if k not in ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    default = probe(base)
    settings = other_machine(default["capability"], os.cpu_count() or 1)
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set {item!r}: write NAME=VALUE, e.g. OMP_NUM_THREADS=4")
        settings[name] = value
    env = {**base, **settings}
    got = probe(env)
    if got == default:
        print(f"portable: {settings} computes exactly as this machine's default {default}; "
              "choose other settings with --set", file=sys.stderr)
        return 2
    threads = int(settings.get("OMP_NUM_THREADS", got["threads"]))
    workers = args.workers or max(1, (os.cpu_count() or 1) // max(1, threads))
    print(f"portable: this machine by default: {default['capability']}, "
          f"{default['threads']} threads")
    print(f"portable: now: {got['capability']}, {got['threads']} threads per notebook, "
          f"{workers} notebooks at a time, with "
          + " ".join(f"{k}={v}" for k, v in sorted(settings.items())), flush=True)
    paths = args.notebooks or [str(p.relative_to(ROOT)) for p in notebooks()]
    command = [sys.executable, "-m", "pytest", *paths, *NBVAL]
    if workers > 1:
        command += ["-p", "xdist", "-n", str(workers), "--dist", "loadfile"]
    return subprocess.run(command, env=env, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
