"""Training budgets, read from ``CNNBOOK_PROFILE`` in one place.

``quick`` (the default) keeps every notebook fast enough for CI on two CPU
cores; ``full`` uses the published-scale settings and wants a GPU.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

PROFILES = ("quick", "full")


@dataclass(frozen=True)
class Budget:
    """How much training one experiment gets.

    Attributes:
        num_epochs: passes over the training set.
        batch_size: examples per minibatch.
        train_size: examples drawn from the 60,000 training images (``None``: all).
        test_size: examples drawn from the 10,000 test images (``None``: all).
        val_size: training images held out for validation, on which settings
            are chosen (``None``: no validation split).
        resize: side length the 28x28 images are resized to (``None``: keep 28).
        lr: learning rate used by the chapter for this experiment.
        widths: channels of the four stages, for an experiment that trains a
            ResNet-18 (``None``: not a ResNet experiment).
        model: keyword arguments for the function that builds the experiment's
            network (empty: its defaults), e.g. a narrower DenseNet for the CPU.
    """

    num_epochs: int
    batch_size: int = 256
    train_size: int | None = None
    test_size: int | None = None
    resize: int | None = None
    lr: float = 0.1
    widths: tuple[int, int, int, int] | None = None
    model: Mapping[str, object] = field(default_factory=dict)
    val_size: int | None = None

    @property
    def examples(self) -> int:
        """Training images per epoch: ``train_size``, else all the validation split leaves."""
        return self.train_size if self.train_size is not None else 60_000 - (self.val_size or 0)

    @property
    def updates(self) -> int:
        """Optimizer steps per run: epochs times batches per epoch (the last one partial)."""
        return self.num_epochs * math.ceil(self.examples / self.batch_size)

    def describe(self) -> str:
        """One line that states the budget, for printing above a training cell: epochs,
        batch, data sizes, and the updates and examples seen per run."""
        left = 60_000 - (self.val_size or 0)
        train = f"all {left:,}" if self.train_size is None else f"{self.train_size:,}"
        test = "all 10,000" if self.test_size is None else f"{self.test_size:,}"
        val = "" if self.val_size is None else f"validate on {self.val_size:,}, "
        side = 28 if self.resize is None else self.resize
        stages = "" if self.widths is None else f", stage widths {self.widths}"
        model = "".join(f", {k}={v!r}" for k, v in self.model.items())
        return (f"{self.num_epochs} epochs, batch {self.batch_size}, lr {self.lr:g}, "
                f"train on {train} images, {val}test on {test}, input {side}x{side}{stages}"
                f"{model}; {self.updates:,} updates per run "
                f"({self.num_epochs * self.examples:,} examples seen)")


# One row per experiment the book trains. `quick` fits CI on 2 CPU cores;
# `full` reproduces the published-scale settings (use a GPU).
_BUDGETS: dict[str, dict[str, Budget]] = {
    "quick": {
        "lenet": Budget(num_epochs=6, lr=0.9),
        "lenet_compare": Budget(num_epochs=4, batch_size=64, train_size=12_000,
                                val_size=5_000),
        "loop_check": Budget(num_epochs=2, train_size=2_048, test_size=1_024, lr=0.9),
        "batchnorm_compare": Budget(num_epochs=6, batch_size=64, train_size=10_000,
                                    val_size=3_000),
        "batchnorm_exercise": Budget(num_epochs=3, batch_size=64, train_size=3_000,
                                     val_size=1_000, test_size=1_000, lr=1.0),
        "resnet": Budget(num_epochs=3, batch_size=128, train_size=12_000,
                         test_size=2_000, lr=0.05, widths=(16, 32, 64, 128)),
        "resnet_degradation": Budget(num_epochs=3, batch_size=64, train_size=3_000,
                                     val_size=1_000, test_size=2_000, lr=0.1),
        "lenet_exercise": Budget(num_epochs=4, batch_size=64, train_size=2_500,
                                 val_size=1_500, test_size=2_000, lr=0.003),
        "lenet_exercise_digits": Budget(num_epochs=8, batch_size=64, train_size=1_000,
                                        val_size=397, test_size=400, lr=0.003),
        "exercise_deep": Budget(num_epochs=2, batch_size=64, train_size=2_000,
                                val_size=1_000, test_size=1_000, lr=0.05),
        "exercise_overfit": Budget(num_epochs=30, batch_size=64, train_size=256,
                                   test_size=500, lr=0.05),
        "exercise_plain": Budget(num_epochs=2, batch_size=64, train_size=2_000,
                                 val_size=1_000, test_size=1_000, lr=0.003),
        "augment_compare": Budget(num_epochs=30, batch_size=50, train_size=500,
                                  val_size=500, test_size=2_000, lr=0.005),
        "benchmark": Budget(num_epochs=2, lr=0.9),
        # Chapter 8: three of the families, scaled down, on 28x28 images (lr: Adam,
        # chosen on validation by utils.sweep; the budget's lr is unused).
        "classic_families": Budget(num_epochs=15, batch_size=32, train_size=500,
                                   val_size=500, test_size=2_000, lr=0.003,
                                   model={"num_channels": 8, "growth_rate": 8,
                                          "block_sizes": (3, 3), "small_input": True}),
        "classic_exercise_compare": Budget(num_epochs=3, batch_size=32, train_size=800,
                                           val_size=500, test_size=2_000, lr=0.001,
                                           model={"num_channels": 8, "growth_rate": 8,
                                                  "block_sizes": (3, 3),
                                                  "small_input": True}),
        "classic_exercise_overfit": Budget(num_epochs=50, batch_size=32, train_size=200,
                                           val_size=300, test_size=2_000, lr=0.003),
        "pooling_compare": Budget(num_epochs=2, batch_size=128, train_size=4_000,
                                  test_size=1_000, lr=0.003),
        # Chapter 11: batch_size is the global batch, split over the processes.
        "ddp": Budget(num_epochs=2, batch_size=64, train_size=6_144, test_size=1_000,
                      lr=0.2),
        "ddp_lr_scaling": Budget(num_epochs=2, batch_size=32, train_size=2_048,
                                 val_size=1_000, test_size=1_000, lr=0.05),
        "ddp_syncbn": Budget(num_epochs=2, batch_size=32, train_size=2_048,
                             val_size=1_000, test_size=1_000, lr=0.1),
    },
    "full": {
        "lenet": Budget(num_epochs=10, lr=0.9),
        "lenet_compare": Budget(num_epochs=10, batch_size=64, val_size=5_000),
        "loop_check": Budget(num_epochs=2, train_size=2_048, test_size=1_024, lr=0.9),
        "batchnorm_compare": Budget(num_epochs=10, batch_size=128, val_size=5_000),
        "batchnorm_exercise": Budget(num_epochs=3, batch_size=64, train_size=6_000,
                                     val_size=2_000, test_size=2_000, lr=1.0),
        "resnet": Budget(num_epochs=10, batch_size=256, resize=96, lr=0.05,
                         widths=(64, 128, 256, 512)),
        "resnet_degradation": Budget(num_epochs=10, batch_size=64, val_size=5_000,
                                     lr=0.1),
        "lenet_exercise": Budget(num_epochs=10, batch_size=64, val_size=5_000, lr=0.001),
        "lenet_exercise_digits": Budget(num_epochs=20, batch_size=64, train_size=1_000,
                                        val_size=397, test_size=400, lr=0.003),
        "exercise_deep": Budget(num_epochs=10, batch_size=256, resize=96, val_size=5_000,
                                lr=0.05),
        "exercise_overfit": Budget(num_epochs=30, batch_size=64, train_size=1_000,
                                   lr=0.05),
        "exercise_plain": Budget(num_epochs=5, batch_size=128, val_size=5_000, lr=0.003),
        "augment_compare": Budget(num_epochs=60, batch_size=50, train_size=1_000,
                                  val_size=1_000, lr=0.005),
        "benchmark": Budget(num_epochs=5, lr=0.9),
        "classic_families": Budget(num_epochs=15, batch_size=64, val_size=5_000,
                                   lr=0.003,
                                   model={"num_channels": 8, "growth_rate": 8,
                                          "block_sizes": (3, 3), "small_input": True}),
        "classic_exercise_compare": Budget(num_epochs=10, batch_size=64, val_size=5_000,
                                           lr=0.001,
                                           model={"num_channels": 8, "growth_rate": 8,
                                                  "block_sizes": (3, 3),
                                                  "small_input": True}),
        "classic_exercise_overfit": Budget(num_epochs=100, batch_size=64,
                                           train_size=1_000, val_size=5_000, lr=0.003),
        "pooling_compare": Budget(num_epochs=10, batch_size=128, lr=0.001),
        "ddp": Budget(num_epochs=5, batch_size=256, lr=0.2),
        "ddp_lr_scaling": Budget(num_epochs=5, batch_size=32, train_size=20_000,
                                 val_size=5_000, test_size=2_000, lr=0.05),
        "ddp_syncbn": Budget(num_epochs=5, batch_size=32, train_size=20_000,
                             val_size=5_000, test_size=2_000, lr=0.1),
    },
}


# Seeds (initial weights and data order) that every comparison repeats.
_SEEDS: dict[str, tuple[int, ...]] = {"quick": (0, 1, 2), "full": (0, 1, 2, 3, 4)}


@dataclass(frozen=True)
class Profile:
    """A named set of budgets (``quick`` or ``full``) and the seeds of its comparisons."""

    name: str
    budgets: dict[str, Budget] = field(repr=False)
    seeds: tuple[int, ...] = (0, 1, 2)

    def budget(self, experiment: str) -> Budget:
        """Return the budget of one experiment.

        Args:
            experiment: a key such as ``"lenet"`` or ``"resnet"``.

        Raises:
            ValueError: the experiment has no budget in this profile.
        """
        try:
            return self.budgets[experiment]
        except KeyError:
            known = ", ".join(sorted(self.budgets))
            raise ValueError(
                f"no budget named {experiment!r} in profile {self.name!r}; "
                f"known budgets: {known} (add one to utils/profile.py)") from None


def get_profile(name: str | None = None) -> Profile:
    """Return the active profile.

    Args:
        name: ``"quick"`` or ``"full"``; ``None`` reads ``CNNBOOK_PROFILE``
            and falls back to ``"quick"``.

    Raises:
        ValueError: the name is not a known profile.
    """
    if name is None:
        name = os.environ.get("CNNBOOK_PROFILE", "").strip() or "quick"
    key = name.lower()
    if key not in _BUDGETS:
        raise ValueError(
            f"unknown profile {name!r}: set CNNBOOK_PROFILE to one of {', '.join(PROFILES)}")
    return Profile(key, _BUDGETS[key], _SEEDS[key])
