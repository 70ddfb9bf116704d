"""Execute notebooks top to bottom, in place or only to time them.

    python tools/execute_notebooks.py [--timings-only] [NOTEBOOK ...]

With no notebooks, runs every notebook under chapters/, exercises/ and appendix/. Each
notebook runs with its own folder as the working directory, like Jupyter.
Prints one line per notebook with its wall time and a total, so that
regressions in run time are visible. After writing a notebook it writes the glued
values into its prose (tools/glue_text.py), so Jupyter and Colab show the numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from tools import glue_text  # noqa: E402
from tools.notebooks import notebooks  # noqa: E402


def execute(path: Path, write: bool, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if write:
        nbformat.write(nb, path)
        if glue_text.main([str(path)]) != 0:
            raise RuntimeError(f"{path}: the prose names a value the notebook does not glue")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timings-only", action="store_true",
                        help="run but do not write outputs back")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or notebooks()
    total, failed = 0.0, []
    for path in paths:
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        try:
            seconds = execute(path, write=not args.timings_only, timeout=args.timeout)
        except Exception as err:  # report and go on with the others
            failed.append(str(name))
            print(f"FAILED  {name}: {type(err).__name__}: {str(err)[-2000:]}", flush=True)
            continue
        total += seconds
        print(f"{seconds:7.1f} s  {name}", flush=True)
    print(f"{total:7.1f} s  total ({len(paths) - len(failed)} notebooks)")
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
