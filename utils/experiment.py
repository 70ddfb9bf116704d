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
import math
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from .device import is_lazy, seed_everything
from .history import History, emit_record
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
        """``"0.842 (sd 0.004, 3 seeds)"``: mean and standard deviation on ``split``."""
        return f"{self.mean(split):.3f} (sd {self.std(split):.3f}, {len(self)} seeds)"

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


OptimizerFactory = Callable[[Iterable[nn.Parameter], float], torch.optim.Optimizer]


def train_seeds(make_net: Callable[[], nn.Module], train_iter: Any, val_iter: Any,
                num_epochs: int, lr: float, seeds: Sequence[int] | None = None, *,
                name: str = "", device: torch.device | str | None = None,
                optimizer: str | OptimizerFactory = "sgd", verbose: bool = True) -> Runs:
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
        optimizer: ``"sgd"``, ``"adam"``, or a factory ``(parameters, lr) ->
            optimizer`` called once per run, e.g. ``lambda p, lr: torch.optim.SGD(p,
            lr, momentum=0.9)`` (the model must then have no lazy layers).
        verbose: print one line for the configuration once every seed has run: the
            validation accuracy and last training loss of each seed, in seed order.

    Returns:
        The :class:`Runs`, each scored under ``"val"``; ``config`` holds ``lr``
        and ``num_epochs``. A run whose loss diverges is kept, marked
        ``diverged`` (see :class:`Run`).

    Raises:
        TypeError: ``train_iter`` cannot be reseeded.
        ValueError: no seeds, or an optimizer factory with a lazy model.
    """
    if not callable(getattr(train_iter, "reseed", None)):
        raise TypeError("train_iter has no reseed(seed) method, so the order of its batches "
                        "cannot follow the seed: pass a utils.DeviceLoader")
    seeds = list(get_profile().seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("seeds is empty: pass at least one seed")
    name = name or f"lr {lr:g}"
    runs, losses = [], []
    start = time.perf_counter()
    for seed in seeds:
        seed_everything(seed)
        train_iter.reseed(seed)
        net = make_net()
        if callable(optimizer):
            if any(is_lazy(p) for p in net.parameters()):
                raise ValueError("an optimizer factory needs the parameters' shapes, and this "
                                 "model has lazy layers: run one batch through it in make_net, "
                                 "or pass optimizer='sgd'/'adam'")
            if device is not None:
                net.to(device)
            how: dict[str, Any] = {"optimizer": optimizer(net.parameters(), lr)}
        else:
            how = {"lr": lr, "optimizer": optimizer}
        try:
            history = train(net, train_iter, val_iter, num_epochs, device=device,
                            plot=False, verbose=False, **how)
            run = Run(seed, net, history, {"val": history.last["test_acc"]})
            losses.append(f"{history.last['train_loss']:.3f}")
        except TrainingDivergedError:
            run = Run(seed, net, History(), {"val": evaluate_accuracy(net, val_iter, device)},
                      diverged=True)
            losses.append("diverged")
        runs.append(run)
    result = Runs(name, runs, {"lr": lr, "num_epochs": num_epochs})
    if verbose:
        vals = " ".join(f"{r.scores['val']:.3f}" for r in runs)
        print(f"{name:<28} val acc {vals} (mean {result.mean('val'):.3f}), train loss "
              f"{' '.join(losses)}, seeds {', '.join(map(str, seeds))} "
              f"({time.perf_counter() - start:.0f} s)")
    return result


def choose(candidates: Mapping[K, Runs], split: str = "val") -> K:
    """The key of the candidate with the highest mean accuracy on ``split``.

    For a grid of learning rates, :func:`sweep` also says whether the choice is
    tied with another rate or sits at the edge of the grid (and widens it).

    Raises:
        ValueError: no candidates.
    """
    if not candidates:
        raise ValueError("no candidates to choose from")
    return max(candidates, key=lambda k: candidates[k].mean(split))


@dataclass
class Sweep:
    """One network trained at every learning rate of a grid, from the same seeds.

    ``runs`` maps each rate, in increasing order, to its :class:`Runs`. The
    choice is the rate with the best mean validation accuracy; ``ties`` lists
    the other rates that the decision rule (:class:`Gain`) does not separate
    from it, and ``at_edge`` says that the choice is still the lowest or highest
    rate tried (after :func:`sweep` widened the grid as far as it was allowed).
    """

    name: str
    runs: dict[float, Runs]
    split: str = "val"

    @property
    def lr(self) -> float:
        """The chosen learning rate."""
        return choose(self.runs, self.split)

    @property
    def best(self) -> Runs:
        """The runs at the chosen rate."""
        return self.runs[self.lr]

    @property
    def at_edge(self) -> bool:
        """The choice is the lowest or the highest rate of the grid."""
        return len(self.runs) > 1 and self.lr in (min(self.runs), max(self.runs))

    @property
    def ties(self) -> list[float]:
        """Other rates whose paired difference from the choice is not resolved."""
        best = self.best
        return [lr for lr, runs in self.runs.items()
                if lr != self.lr and not gain(runs, best, self.split).resolved]

    def describe(self) -> str:
        """One line: the choice, the grid, and a flag for a tie or an edge."""
        grid = ", ".join(f"{lr:g}" for lr in self.runs)
        line = (f"{self.name}: lr {self.lr:g} chosen from {{{grid}}}, {self.split} "
                f"{self.best.summary(self.split)}")
        if self.ties:
            line += "; tied with lr " + ", ".join(f"{lr:g}" for lr in self.ties)
        if self.at_edge:
            line += "; AT THE EDGE of the grid"
        return line


def sweep(make_net: Callable[[], nn.Module], train_iter: Any, val_iter: Any,
          num_epochs: int, lrs: Sequence[float], seeds: Sequence[int] | None = None, *,
          name: str = "", widen: int = 2, verbose: bool = True, **kwargs: Any) -> Sweep:
    """Train ``make_net`` at every rate of ``lrs`` from every seed; widen the grid at an edge.

    While the best rate (mean validation accuracy over the seeds) is the lowest
    or the highest one tried, one more rate is tried beyond it, a grid step
    further (the ratio of the first two rates), at most ``widen`` times. Each
    addition is printed. A single rate is no grid: it is trained and kept.

    Args:
        make_net, train_iter, val_iter, num_epochs, seeds: as for :func:`train_seeds`.
        lrs: the learning rates to try first (positive).
        name: the network's name; each configuration is named ``"name, lr X"``.
        widen: how many rates may be added beyond the edges (0: never).
        verbose: print one line per rate (see :func:`train_seeds`) and per added rate.
        **kwargs: passed to :func:`train_seeds` (``device``, ``optimizer``).

    Returns:
        The :class:`Sweep`; its ``describe()`` says which rate it chose and flags
        a tie or a choice still at the edge.

    Raises:
        ValueError: no rates, or a rate that is not positive.
    """
    grid = sorted(set(float(lr) for lr in lrs))
    if not grid or grid[0] <= 0:
        raise ValueError(f"learning rates must be positive and at least one, got {list(lrs)}")
    step = grid[1] / grid[0] if len(grid) > 1 else 1.0   # one rate: no grid to widen
    name = name or "model"

    def run(lr: float) -> Runs:
        return train_seeds(make_net, train_iter, val_iter, num_epochs, lr, seeds,
                           name=f"{name}, lr {lr:g}", verbose=verbose, **kwargs)

    runs = {lr: run(lr) for lr in grid}
    for _ in range(widen):
        result = Sweep(name, dict(sorted(runs.items())))
        if not result.at_edge:
            break
        edge = result.lr
        extra = float(f"{edge * step if edge == max(runs) else edge / step:.3g}")
        if verbose:
            print(f"{name}: lr {edge:g} is at the edge of the grid; trying lr {extra:g}")
        runs[extra] = run(extra)
    return Sweep(name, dict(sorted(runs.items())))


# Two-sided 95% quantiles of Student's t distribution, t(0.975, df), for df = 1..30
# (tests/test_experiment.py checks them against scipy); beyond 30, the normal's 1.960.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"df must be at least 1 (two or more seeds), got {df}")
    return _T975[df - 1] if df <= len(_T975) else 1.960


@dataclass(frozen=True)
class Gain:
    """Treatment minus baseline, seed by seed: the book's one decision rule.

    Seed ``k`` gives both arms the same initial weights, batch order and data,
    so the runs are paired: the gain is the mean of the per-seed differences
    ``diffs`` and its standard error is their sample standard deviation over
    ``sqrt(n)``. A difference is **resolved** when the 95% confidence interval
    of that mean, ``mean ± t(n-1) * se``, excludes zero (with 3 seeds,
    ``t(2) = 4.30``: a difference must exceed 4.3 standard errors); a single seed
    resolves nothing. :meth:`verdict` words the sentence the prose glues.

    ``higher_is_better`` is ``False`` for a loss or an error rate: the mean is
    still treatment minus baseline, but "ahead" then means lower.
    """

    baseline: str
    treatment: str
    diffs: tuple[float, ...]
    higher_is_better: bool = True

    @property
    def n(self) -> int:
        """Number of paired seeds."""
        return len(self.diffs)

    @property
    def mean(self) -> float:
        """Mean of the per-seed differences (treatment - baseline)."""
        return statistics.fmean(self.diffs)

    @property
    def sd(self) -> float:
        """Sample standard deviation of the per-seed differences (0 for one seed)."""
        return statistics.stdev(self.diffs) if self.n > 1 else 0.0

    @property
    def se(self) -> float:
        """Standard error of :attr:`mean`: ``sd / sqrt(n)`` (0 for one seed)."""
        return self.sd / math.sqrt(self.n)

    @property
    def ahead(self) -> int:
        """Seeds on which the treatment did better than the baseline."""
        sign = 1 if self.higher_is_better else -1
        return sum(sign * d > 0 for d in self.diffs)

    @property
    def behind(self) -> int:
        """Seeds on which the treatment did worse than the baseline."""
        sign = 1 if self.higher_is_better else -1
        return sum(sign * d < 0 for d in self.diffs)

    @property
    def resolved(self) -> bool:
        """The 95% confidence interval of the mean difference excludes zero."""
        return self.n > 1 and abs(self.mean) > t_quantile(self.n - 1) * self.se

    @property
    def better(self) -> bool:
        """Resolved, in the treatment's favour."""
        return self.resolved and (self.mean > 0) == self.higher_is_better

    @property
    def worse(self) -> bool:
        """Resolved, in the baseline's favour."""
        return self.resolved and not self.better

    def __iter__(self) -> Iterator[float]:
        """Unpacks as ``(mean, se)``: ``diff, se = utils.gain(a, b)``."""
        return iter((self.mean, self.se))

    def __str__(self) -> str:
        """``"+0.042 ± 0.006 (SE, 3 paired seeds)"``."""
        return f"{self.mean:+.3f} ± {self.se:.3f} (SE, {self.n} paired seeds)"

    def verdict(self) -> str:
        """The sentence the rule gives, e.g. ``"LeNet ahead on 3 of 3 paired seeds,
        +0.042 ± 0.006 (SE)"`` or ``"no difference this budget resolves (LeNet ahead on 2
        of 3 paired seeds, +0.004 ± 0.006 (SE))"``."""
        if self.better:
            who, seeds = self.treatment, self.ahead
        elif self.worse:
            who, seeds = self.baseline, self.behind
        else:
            who, seeds = self.treatment, self.ahead
        said = (f"{who} ahead on {seeds} of {self.n} paired seeds, "
                f"{self.mean:+.3f} ± {self.se:.3f} (SE)")
        return said if self.resolved else f"no difference this budget resolves ({said})"


def gain(baseline: Runs | Sequence[float], treatment: Runs | Sequence[float],
         split: str = "test", *, higher_is_better: bool = True,
         names: tuple[str, str] | None = None) -> Gain:
    """The paired gain of ``treatment`` over ``baseline`` (see :class:`Gain`).

    Args:
        baseline, treatment: two :class:`Runs` from the same seeds (their
            ``split`` scores are paired by seed), or two equally long sequences of
            per-seed values in the same seed order (accuracies, losses).
        split: the scores compared when given :class:`Runs`.
        higher_is_better: ``False`` for losses and error rates.
        names: what the verdict calls the two arms (default: the runs' names,
            else ``"baseline"`` and ``"treatment"``).

    Raises:
        ValueError: runs from different seeds, sequences of different lengths, or
            nothing to compare.
    """
    if isinstance(baseline, Runs) and isinstance(treatment, Runs):
        if baseline.seeds != treatment.seeds:
            raise ValueError(f"baseline seeds {baseline.seeds} differ from treatment seeds "
                             f"{treatment.seeds}: a paired gain needs runs from the same seeds")
        default = (baseline.name, treatment.name)
        b, t = baseline.scores(split), treatment.scores(split)
    elif isinstance(baseline, Runs) or isinstance(treatment, Runs):
        raise TypeError("pass two Runs or two sequences of per-seed values, not one of each")
    else:
        default = ("baseline", "treatment")
        b, t = [float(v) for v in baseline], [float(v) for v in treatment]
        if len(b) != len(t):
            raise ValueError(f"{len(b)} baseline values and {len(t)} treatment values: a paired "
                             "gain needs one value per seed in each, in the same seed order")
    if not b:
        raise ValueError("nothing to compare: pass at least one seed's values")
    first, second = names or default
    return Gain(first, second, tuple(y - x for x, y in zip(b, t, strict=True)), higher_is_better)


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
    """Emit the ``cnnbook-compare`` record of a headline comparison and return it.

    In a notebook the record is saved as an invisible output (see
    :func:`utils.history.emit_record`); elsewhere it is printed.

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
    emit_record(COMPARE_PREFIX, record)
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

