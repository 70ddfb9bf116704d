"""What training leaves behind: the per-epoch history and the result line."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from .profile import get_profile

RESULT_PREFIX = "cnnbook-result "


class History(list):
    """One record (a ``dict``) per finished epoch, as returned by :func:`train`.

    Keys: ``epoch``, ``train_loss``, ``train_acc``, ``test_acc``,
    ``examples_per_sec`` (training steps only) and ``seconds`` (the whole epoch,
    evaluation included). ``train_loss`` and ``train_acc`` are averages over the
    batches as they were trained on (augmented ones, if the loader augments,
    with the weights changing during the epoch); for a clean figure call
    :func:`evaluate_accuracy` on the training data.

    Attributes:
        interrupted: training was stopped (Ctrl-C, the notebook's stop button)
            before the last epoch.
        train_examples: training examples in the last finished epoch.

    Both survive slicing (``history[:2]``), ``copy.copy``, ``copy.deepcopy``
    and pickling.
    """

    def __init__(self, records: Iterable[dict[str, float]] = (), *, interrupted: bool = False,
                 train_examples: int = 0) -> None:
        super().__init__(records)
        self.interrupted, self.train_examples = interrupted, train_examples

    def _like(self, records: Iterable[dict[str, float]]) -> History:
        return History(records, interrupted=self.interrupted,
                       train_examples=self.train_examples)

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        return self._like(item) if isinstance(index, slice) else item

    def copy(self) -> History:  # list.copy would return a plain list
        return self._like(self)

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> History:
        return self._like(copy.deepcopy(list(self), memo))

    def __reduce__(self) -> Any:
        return (History, (list(self),), {"interrupted": self.interrupted,
                                         "train_examples": self.train_examples})

    @property
    def last(self) -> dict[str, float]:
        """The record of the last finished epoch.

        Raises:
            ValueError: no epoch finished.
        """
        if not self:
            raise ValueError("the history is empty: no epoch finished")
        return self[-1]

    def table(self) -> str:
        """A fixed-width text table of all epochs."""
        head = (f"{'epoch':>5}  {'loss':>7}  {'train acc':>9}  {'test acc':>8}  "
                f"{'ex/s':>8}  {'s':>6}")
        return "\n".join([head] + [
            f"{r['epoch']:>5}  {r['train_loss']:>7.4f}  {r['train_acc']:>9.3f}  "
            f"{r['test_acc']:>8.3f}  {r['examples_per_sec']:>8.0f}  {r['seconds']:>6.1f}"
            for r in self])


def report_result(model: str, history: History,
                  profile_name: str | None = None) -> dict[str, Any]:
    """Emit one machine-readable record summarising a trained model.

    The book's landing page builds its results table from these records in the
    committed notebooks, so no number in that table is typed by hand. In a
    notebook the record is an invisible output (:func:`emit_record`); elsewhere
    it is printed.

    Args:
        model: a short name, e.g. ``"LeNet (sigmoid, avg pool)"``.
        history: what :func:`train` returned.
        profile_name: the profile trained under (default: the active one,
            ``get_profile().name``).

    Returns:
        The record: model, profile, epochs, training examples per epoch,
        final test accuracy and mean training examples per second.

    Raises:
        ValueError: the history is empty or does not come from :func:`train`.
    """
    last = history.last
    if history.train_examples <= 0:
        raise ValueError("the history does not say how many examples it trained on: "
                         "pass the History that utils.train returned")
    record = {"model": model, "profile": profile_name or get_profile().name,
              "epochs": len(history), "train_examples": history.train_examples,
              "test_acc": round(last["test_acc"], 4),
              "examples_per_sec": round(sum(r["examples_per_sec"] for r in history)
                                        / len(history))}
    emit_record(RESULT_PREFIX, record)
    return record


def _in_notebook() -> bool:
    """Running in a Jupyter kernel (Jupyter, VS Code, Colab, nbclient)?"""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def emit_record(prefix: str, record: dict) -> None:
    """Hand one record to the landing page's results table, out of the reader's sight.

    In a notebook the line ``prefix + json`` is displayed as an HTML comment,
    which Jupyter, Colab and the website render as nothing, and which is saved
    with the notebook's outputs, where ``tools/results_table.py`` reads it.
    Elsewhere (a script, a test) it is printed.
    """
    line = prefix + json.dumps(record)
    if _in_notebook():
        from IPython.display import display
        # "--" may not appear inside an HTML comment; JSON reads "\u002d" as "-"
        display({"text/html": "<!-- " + line.replace("--", "-\\u002d") + " -->"}, raw=True)
    else:
        print(line)
