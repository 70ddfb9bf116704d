"""Experiments: one configuration trained from several seeds, settings chosen on validation.

A claim such as "batch normalization lets LeNet train at a high learning rate"
compares a baseline and a treatment. Each is trained from every seed of the
profile (the seed sets the initial weights and the order of the batches) with
:func:`train_seeds`; settings such as the learning rate are chosen by
validation accuracy (:func:`choose`); the test set is scored once, on the
chosen configurations (:meth:`Runs.score`); and :func:`compare` prints one
``cnnbook-compare`` line that the landing page's results table is built from.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from .device import seed_everything
from .history import History
from .profile import Budget, get_profile
from .training import TrainingDivergedError, evaluate_accuracy, train

COMPARE_PREFIX = "cnnbook-compare "
K = TypeVar("K")


@dataclass
class Run:
    """One trained model: its seed, the model, its history and its scores by split.

    ``diverged`` marks a run whose loss became NaN or infinite: its history is
    empty and its scores are those of the broken model (about chance), so a
    learning rate that diverges loses the choice on validation.
    """

    seed: int
    net: nn.Module
    history: History
    scores: dict[str, float] = field(default_factory=dict)
    diverged: bool = False


class Runs:
    """Every run of one configuration, one per seed.

    ``scores("val")`` lists the validation accuracies, one per seed, in seed
    order; ``mean`` and ``std`` summarise them (``std`` is the sample standard
    deviation over seeds, 0 for a single run).
    """

    def __init__(self, name: str, runs: Sequence[Run], config: Mapping[str, Any] | None = None):
        if not runs:
            raise ValueError(f"{name!r}: no runs (pass at least one seed)")
        self.name = name
        self.runs = list(runs)
        self.config = dict(config or {})

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    @property
    def seeds(self) -> list[int]:
        """The seeds, in the order they ran."""
        return [r.seed for r in self.runs]

    def scores(self, split: str = "val") -> list[float]:
        """Accuracy of every run on ``split``.

        Raises:
            KeyError: a run has not been scored on ``split`` (see :meth:`score`).
        """
        missing = [r.seed for r in self.runs if split not in r.scores]
        if missing:
            raise KeyError(f"{self.name!r} has no {split!r} score for seeds {missing}: call "
                           f".score({split!r}, data_iter) first")
        return [r.scores[split] for r in self.runs]

    def mean(self, split: str = "val") -> float:
        """Mean accuracy on ``split`` over the seeds."""
        return statistics.fmean(self.scores(split))

    def std(self, split: str = "val") -> float:
        """Sample standard deviation of the accuracy on ``split`` over the seeds."""
        values = self.scores(split)
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def summary(self, split: str = "val") -> str:
        """``"0.842 ± 0.004 (3 seeds)"``: mean and standard deviation on ``split``."""
        return f"{self.mean(split):.3f} ± {self.std(split):.3f} ({len(self)} seeds)"

    def score(self, split: str, data_iter: Any,
              device: torch.device | str | None = None) -> list[float]:
        """Score every run's model on ``data_iter`` and keep it under ``split``.

        Use it once per split: for the test set, only on the configurations
        chosen on validation.
        """
        for r in self.runs:
            r.scores[split] = evaluate_accuracy(r.net, data_iter, device)
        return self.scores(split)

    def __repr__(self) -> str:
        scored = sorted({s for r in self.runs for s in r.scores})
        return f"Runs({self.name!r}, seeds={self.seeds}, config={self.config}, scored={scored})"


def train_seeds(make_net: Callable[[], nn.Module], train_iter: Any, val_iter: Any,
                num_epochs: int, lr: float, seeds: Sequence[int] | None = None, *,
                name: str = "", device: torch.device | str | None = None,
                optimizer: str = "sgd", verbose: bool = True) -> Runs:
    """Train a fresh ``make_net()`` from each seed and score it on validation.

    Before each run, :func:`seed_everything` seeds the initial weights and
    ``train_iter.reseed(seed)`` the order of the batches, so a run is repeated
    exactly by its seed (on the same machine), and every configuration sees the
    same sequence of seeds. Training uses :func:`train` (validation accuracy
    after every epoch in the history's ``"test_acc"`` column).

    Args:
        make_net: builds the untrained model.
        train_iter: a :class:`DeviceLoader` (it must have ``reseed``).
        val_iter: the validation batches (``load_fashion_mnist(..., val_size=N)``).
        num_epochs: passes over ``train_iter`` per run.
        lr: learning rate.
        seeds: default: the active profile's ``seeds``.
        name: a label for tables, plots and the printed lines.
        device: where to train (default: where the model is built).
        optimizer: ``"sgd"`` or ``"adam"``.
        verbose: print one line per run.

    Returns:
        The :class:`Runs`, each scored under ``"val"``; ``config`` holds ``lr``
        and ``num_epochs``. A run whose loss diverges is kept, marked
        ``diverged`` (see :class:`Run`).

    Raises:
        TypeError: ``train_iter`` cannot be reseeded.
        ValueError: no seeds.
    """
    if not callable(getattr(train_iter, "reseed", None)):
        raise TypeError("train_iter has no reseed(seed) method, so the order of its batches "
                        "cannot follow the seed: pass a utils.DeviceLoader")
    seeds = list(get_profile().seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("seeds is empty: pass at least one seed")
    name = name or f"lr {lr:g}"
    runs = []
    for seed in seeds:
        start = time.perf_counter()
        seed_everything(seed)
        train_iter.reseed(seed)
        net = make_net()
        try:
            history = train(net, train_iter, val_iter, num_epochs, lr, device=device,
                            optimizer=optimizer, plot=False, verbose=False)
            run = Run(seed, net, history, {"val": history.last["test_acc"]})
            loss = f"train loss {history.last['train_loss']:.3f}"
        except TrainingDivergedError:
            run = Run(seed, net, History(), {"val": evaluate_accuracy(net, val_iter, device)},
                      diverged=True)
            loss = "diverged (NaN loss)"
        runs.append(run)
        if verbose:
            print(f"{name:<28} seed {seed}: {loss}  val acc {run.scores['val']:.3f}  "
                  f"({time.perf_counter() - start:.1f} s)")
    return Runs(name, runs, {"lr": lr, "num_epochs": num_epochs})


def choose(candidates: Mapping[K, Runs], split: str = "val") -> K:
    """The key of the candidate with the highest mean accuracy on ``split``.

    Raises:
        ValueError: no candidates.
    """
    if not candidates:
        raise ValueError("no candidates to choose from")
    return max(candidates, key=lambda k: candidates[k].mean(split))


def gain(baseline: Sequence[float], treatment: Sequence[float]) -> tuple[float, float]:
    """Difference of means (treatment - baseline) and its standard error.

    The standard error is ``sqrt(s_b^2 / n_b + s_t^2 / n_t)`` with sample
    standard deviations ``s`` (0 for a single run).
    """
    def var(x: Sequence[float]) -> float:
        return statistics.variance(x) if len(x) > 1 else 0.0

    diff = statistics.fmean(treatment) - statistics.fmean(baseline)
    return diff, math.sqrt(var(baseline) / len(baseline) + var(treatment) / len(treatment))


def runs_table(candidates: Sequence[Runs], split: str = "val") -> str:
    """A text table: one row per configuration, one column per seed, mean and sd."""
    seeds = candidates[0].seeds
    width = max(len(r.name) for r in candidates)
    head = (f"{'':<{width}}  " + "".join(f"{'seed ' + str(s):>8}" for s in seeds)
            + f"{'mean':>8}{'sd':>7}")
    rows = [f"{r.name:<{width}}  " + "".join(f"{v:>8.3f}" for v in r.scores(split))
            + f"{r.mean(split):>8.3f}{r.std(split):>7.3f}" for r in candidates]
    return "\n".join([f"{split} accuracy", head, *rows])


def plot_runs(candidates: Sequence[Runs], split: str = "val", ax: Axes | None = None,
              title: str | None = None) -> Figure:
    """Every run as a dot and each configuration's mean ± sd as a bar, one column each."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    for i, r in enumerate(candidates):
        values = r.scores(split)
        ax.plot([i] * len(values), values, "o", color="C0", alpha=0.5, ms=5)
        ax.errorbar([i + 0.15], [r.mean(split)], yerr=[r.std(split)], fmt="s", color="C3",
                    capsize=4, ms=6)
    ax.set_xticks(range(len(candidates)), [r.name for r in candidates], fontsize=9)
    ax.set_ylabel(f"{split} accuracy")
    ax.set_title(title or f"{split} accuracy: each seed (dots), mean ± sd (squares)",
                 fontsize=10)
    ax.set_xlim(-0.5, len(candidates) - 0.5)
    return fig


def compare(chapter: str, baseline: Runs, treatment: Runs, budget: Budget,
            split: str = "test") -> dict[str, Any]:
    """Print the ``cnnbook-compare`` line of a headline comparison and return it.

    The landing page's results table is generated from these lines in the
    committed notebooks (``tools/results_table.py``).

    Args:
        chapter: the notebook's file stem, e.g. ``"06_batch_norm"``.
        baseline, treatment: scored on ``split`` from the same seeds.
        budget: the budget both were trained on (epochs, data sizes).
        split: the scores compared (the test set, scored once).

    Raises:
        ValueError: the two were not run from the same seeds.
    """
    if baseline.seeds != treatment.seeds:
        raise ValueError(f"baseline seeds {baseline.seeds} differ from treatment seeds "
                         f"{treatment.seeds}: compare runs from the same seeds")
    b, t = baseline.scores(split), treatment.scores(split)
    spent = {k: (dict(v) if isinstance(v, Mapping) else v)
             for k, v in dataclasses.asdict(budget).items()}
    record = {"chapter": chapter, "baseline": baseline.name, "treatment": treatment.name,
              "metric": f"{split}_acc", "seeds": baseline.seeds,
              "baseline_runs": [round(v, 4) for v in b],
              "treatment_runs": [round(v, 4) for v in t],
              "baseline_config": baseline.config, "treatment_config": treatment.config,
              "budget": spent, "profile": get_profile().name}
    print(COMPARE_PREFIX + json.dumps(record))
    return record


def glue(name: str, value: object) -> None:
    """Store ``value`` under ``name`` for the prose, without showing it.

    The website's Markdown writes ``{glue:text}`name:.3f``` where a measured
    number belongs, and MyST-NB fills in what this cell computed, so no number
    is typed into the text. Outside a notebook built by Jupyter Book (a
    terminal, or Colab, which lacks ``myst_nb``) nothing is stored and the
    value can be printed instead.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    from .plotting import in_notebook

    if in_notebook():
        myst_glue(name, value, display=False)

