"""What ``utils.speed.hold_freed_memory`` buys a reader: utils.train with and without it.

    python bench/allocator.py [--pairs 3]

Each run is a fresh process that does what an earlier notebook cell might: the
limit loop of ``bench.py`` (c) on 12,000 examples, which keeps its 47 batches in
a list while it trains, and then ``utils.train`` on LeNet for two epochs of
60,000 examples; it reports the second epoch's examples per second and the minor
page faults per batch. In the "default" runs ``hold_freed_memory`` is replaced by
a function that does nothing, so glibc keeps its dynamic thresholds. The runs
alternate, default first, and each pair's ratio is printed (bench/README.md).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

RUN = """
import copy, resource, sys
sys.path[:0] = [{root!r}, {bench!r}]
import torch, utils, bench
import utils.training as training
if {default}:
    training.hold_freed_memory = lambda: False
torch.manual_seed(0)
base, cpu = bench.lenet_xavier(), torch.device("cpu")
earlier = bench.Task("LeNet", bench.lenet_xavier, 256, 0.9, 1, 12_000, 2_000, None)
bench.run_limit(copy.deepcopy(base), earlier, cpu, channels_last=True)
train_iter, _ = utils.load_fashion_mnist(256, device=cpu, seed=0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
history = utils.train(copy.deepcopy(base), train_iter, None, 2, 0.9, plot=False, verbose=False)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(history.last["examples_per_sec"], faults / (2 * len(train_iter)))
"""


def run(default: bool) -> tuple[float, float]:
    here = Path(__file__).resolve().parent
    code = RUN.format(root=str(here.parent), bench=str(here), default=default)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    ratios = []
    for k in range(args.pairs):
        (slow, slow_faults), (held, held_faults) = run(default=True), run(default=False)
        ratios.append(held / slow)
        print(f"pair {k + 1}: default {slow:,.0f} ex/s, {slow_faults:,.0f} faults/batch; "
              f"held {held:,.0f} ex/s, {held_faults:,.0f} faults/batch; held / default "
              f"{held / slow:.3f}", flush=True)
    print(f"held / default: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
          f"max {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
