"""utils.experiment: seeds, choosing on validation, comparisons; the validation split."""

from __future__ import annotations

import json

import pytest
import torch

import utils
from tests.conftest import make_loaders, small_net


def fingerprints(loader: utils.DeviceLoader) -> list[int]:
    """One integer per image (a weighted sum of its pixels), to compare sets of images."""
    weights = torch.randint(1, 2**20, (28 * 28,), generator=torch.Generator().manual_seed(0))
    return (loader.images.reshape(len(loader.images), -1).long() @ weights).tolist()


def test_validation_split_is_disjoint_from_training(data_root):
    train_iter, val_iter, test_iter = utils.load_fashion_mnist(
        256, root=data_root, val_size=5_000, seed=3)
    everything, _ = utils.load_fashion_mnist(256, root=data_root)
    assert (train_iter.num_examples, val_iter.num_examples) == (55_000, 5_000)
    assert test_iter.num_examples == 10_000 and not val_iter.shuffle
    # train and validation together are exactly the training split, as a multiset
    assert sorted(fingerprints(train_iter) + fingerprints(val_iter)) == sorted(
        fingerprints(everything))
    small, val_again, _ = utils.load_fashion_mnist(256, root=data_root, val_size=5_000,
                                                   train_size=1_000, seed=3)
    assert torch.equal(val_again.images, val_iter.images)     # the split depends on the seed only
    assert small.num_examples == 1_000
    assert not set(fingerprints(small)) - set(fingerprints(train_iter))
    _, other_val, _ = utils.load_fashion_mnist(256, root=data_root, val_size=5_000, seed=4)
    assert not torch.equal(other_val.images, val_iter.images)


@pytest.mark.parametrize("kwargs, words", [
    ({"val_size": 0}, "val_size must be between 1 and 59999"),
    ({"val_size": 60_000}, "val_size must be between 1 and 59999"),
    ({"val_size": 10_000, "train_size": 50_001}, "train_size must be between 1 and 50000"),
])
def test_bad_validation_sizes(data_root, kwargs, words):
    with pytest.raises(ValueError, match=words):
        utils.load_fashion_mnist(64, root=data_root, **kwargs)


def test_reseed_repeats_the_order():
    train_iter, _ = make_loaders()
    first = [y.clone() for _, y in train_iter.reseed(5)]
    other = [y.clone() for _, y in train_iter.reseed(6)]
    again = [y.clone() for _, y in train_iter.reseed(5)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_train_seeds_is_repeatable_and_seeds_differ(capsys):
    train_iter, val_iter = make_loaders(n=256)
    runs = utils.train_seeds(small_net, train_iter, val_iter, 2, 0.1, seeds=[0, 1], name="small")
    again = utils.train_seeds(small_net, train_iter, val_iter, 2, 0.1, seeds=[1], verbose=False)
    assert runs.seeds == [0, 1] and runs.config == {"lr": 0.1, "num_epochs": 2}
    assert len(runs) == 2 and all(len(r.history) == 2 for r in runs)
    torch.testing.assert_close(runs.runs[1].net[0].weight, again.runs[0].net[0].weight)
    assert not torch.equal(runs.runs[0].net[0].weight, runs.runs[1].net[0].weight)
    assert runs.scores("val") == [r.history.last["test_acc"] for r in runs]
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and printed[0].startswith("small"), printed  # one per config
    assert f"val acc {runs.runs[0].scores['val']:.3f} {runs.runs[1].scores['val']:.3f}" \
        in printed[0] and "seeds 0, 1" in printed[0]
    with pytest.raises(KeyError, match="no 'test' score for seeds \\[0, 1\\].*score"):
        runs.scores("test")
    test_scores = runs.score("test", val_iter)
    assert test_scores == runs.scores("test") == runs.scores("val")   # same data, same nets


def test_train_seeds_rejects_what_it_cannot_seed():
    with pytest.raises(TypeError, match="reseed"):
        utils.train_seeds(small_net, [(torch.zeros(2, 1, 28, 28), torch.zeros(2).long())],
                          None, 1, 0.1, seeds=[0])
    train_iter, val_iter = make_loaders(n=64)
    with pytest.raises(ValueError, match="seeds is empty"):
        utils.train_seeds(small_net, train_iter, val_iter, 1, 0.1, seeds=[])


def fake_runs(name: str, values: list[float], seeds=(0, 1, 2), split="val") -> utils.Runs:
    return utils.Runs(name, [utils.Run(s, torch.nn.Identity(), utils.History(), {split: v})
                             for s, v in zip(seeds, values, strict=True)], {"lr": 0.1})


def test_statistics_choose_table_and_gain():
    low, high = fake_runs("low", [0.5, 0.6, 0.7]), fake_runs("high", [0.8, 0.8, 0.9])
    assert low.mean() == pytest.approx(0.6) and low.std() == pytest.approx(0.1)
    assert low.summary() == "0.600 (sd 0.100, 3 seeds)"
    assert utils.choose({0.1: low, 1.0: high}) == 1.0
    with pytest.raises(ValueError, match="no candidates"):
        utils.choose({})
    table = utils.runs_table([low, high]).splitlines()
    assert table[0] == "val accuracy" and table[1].split() == ["seed", "0", "seed", "1",
                                                                 "seed", "2", "mean", "sd"]
    assert table[3].split() == ["high", "0.800", "0.800", "0.900", "0.833", "0.058"]
    with pytest.raises(ValueError, match="no runs"):
        utils.Runs("empty", [])


def test_gain_is_paired_by_seed():
    # Seed 2 is hard for both arms: unpaired, the seed-to-seed spread swamps the gain;
    # paired, the differences 0.02, 0.03, 0.025 are tight.
    base = fake_runs("base", [0.80, 0.70, 0.60], split="test")
    treat = fake_runs("treat", [0.82, 0.73, 0.625], split="test")
    g = utils.gain(base, treat)
    assert g.diffs == pytest.approx((0.02, 0.03, 0.025))
    assert g.n == 3 and g.mean == pytest.approx(0.025)
    assert g.sd == pytest.approx(0.005) and g.se == pytest.approx(0.005 / 3 ** 0.5)
    assert g.ahead == 3 and g.behind == 0 and g.resolved and g.better and not g.worse
    assert g.verdict() == "treat ahead on 3 of 3 paired seeds, +0.025 ± 0.003 (SE)"
    assert str(g) == "+0.025 ± 0.003 (SE, 3 paired seeds)"
    mean, se = g                                          # unpacks as (mean, se)
    assert (mean, se) == (g.mean, g.se)
    # the same values, as sequences in seed order, give the same gain
    same = utils.gain([0.80, 0.70, 0.60], [0.82, 0.73, 0.625])
    assert same.diffs == g.diffs and (same.baseline, same.treatment) == ("baseline", "treatment")
    # and the order of the values matters: shuffled pairs are other pairs
    assert utils.gain([0.80, 0.70, 0.60], [0.625, 0.73, 0.82]).se > 10 * g.se


def test_gain_decision_rule():
    # the 95% interval mean ± t(n-1) SE must exclude zero: with 3 seeds t(2) = 4.303
    def diffs_with_t(t: float) -> list[float]:      # mean 0.01, sd 0.01 * sqrt(3) / t
        sd = 0.01 * 3 ** 0.5 / t
        return [0.01 - sd, 0.01, 0.01 + sd]
    assert utils.gain([0, 0, 0], diffs_with_t(4.4)).resolved
    unresolved = utils.gain([0, 0, 0], diffs_with_t(4.2), names=("plain", "BN"))
    assert not unresolved.resolved and unresolved.ahead == 3
    assert unresolved.verdict() == ("no difference this budget resolves "
                                    "(BN ahead on 3 of 3 paired seeds, +0.010 ± 0.002 (SE))")
    worse = utils.gain([0.9, 0.8, 0.7], [0.8, 0.7, 0.61], names=("A", "B"))
    assert worse.worse and worse.verdict().startswith("A ahead on 3 of 3 paired seeds, -0.097")
    # losses: lower is better
    loss = utils.gain([1.0, 1.1, 1.2], [0.5, 0.62, 0.7], higher_is_better=False)
    assert loss.better and loss.ahead == 3 and loss.mean < 0
    one = utils.gain([0.5], [0.6])
    assert one.mean == pytest.approx(0.1) and one.se == 0 and not one.resolved
    assert "no difference this budget resolves" in one.verdict()


def test_gain_rejects_what_it_cannot_pair():
    with pytest.raises(ValueError, match="same seeds"):
        utils.gain(fake_runs("a", [0.5, 0.6], seeds=(0, 1)),
                   fake_runs("b", [0.5, 0.6], seeds=(1, 2)), "val")
    with pytest.raises(ValueError, match="one value per seed"):
        utils.gain([0.5, 0.6], [0.7])
    with pytest.raises(ValueError, match="nothing to compare"):
        utils.gain([], [])
    with pytest.raises(TypeError, match="two Runs or two sequences"):
        utils.gain(fake_runs("a", [0.5, 0.6, 0.7]), [0.5, 0.6, 0.7])


def test_t_quantiles_match_scipy():
    from scipy import stats

    for df in range(1, 40):
        expected = stats.t.ppf(0.975, df) if df <= 30 else 1.960
        assert utils.t_quantile(df) == pytest.approx(expected, abs=6e-4), df
    with pytest.raises(ValueError, match="at least 1"):
        utils.t_quantile(0)


def test_sweep_widens_the_grid_at_an_edge_and_flags_ties(monkeypatch, capsys):
    # A fake trainer: validation accuracy peaks near lr 0.03, and seeds shift every rate
    # alike (lr 0.1 a little less alike, so that its paired gap has a spread).
    def fake_train_seeds(make_net, train_iter, val_iter, num_epochs, lr, seeds, *, name,
                         verbose, **kwargs):
        peak = {0.0111: 0.70, 0.0333: 0.80, 0.1: 0.79, 0.3: 0.60}[round(lr, 4)]
        return fake_runs(name, [peak + 0.01 * s + (0.002 * s * s if lr == 0.1 else 0)
                                for s in (0, 1, 2)])
    monkeypatch.setattr(utils.experiment, "train_seeds", fake_train_seeds)
    result = utils.sweep(None, None, None, 1, [0.1, 0.3], seeds=[0, 1, 2], name="net")
    # 0.1 was at the edge: 0.0333 added; then 0.0333 was: 0.0111 added, and it lost
    assert list(result.runs) == [0.0111, 0.0333, 0.1, 0.3]
    assert result.lr == 0.0333 and not result.at_edge
    printed = capsys.readouterr().out
    assert "net: lr 0.1 is at the edge of the grid; trying lr 0.0333" in printed
    assert "net: lr 0.0333 is at the edge of the grid; trying lr 0.0111" in printed
    assert result.ties == [0.1]                          # 0.80 vs 0.79-0.80: not resolved
    assert result.describe().startswith(
        "net: lr 0.0333 chosen from {0.0111, 0.0333, 0.1, 0.3}, val 0.810 (sd 0.010, 3 seeds)")
    assert "tied with lr 0.1" in result.describe() and "EDGE" not in result.describe()
    stuck = utils.sweep(None, None, None, 1, [0.1, 0.3], seeds=[0, 1, 2], name="net", widen=0)
    assert stuck.at_edge and stuck.lr == 0.1 and "AT THE EDGE" in stuck.describe()
    single = utils.sweep(None, None, None, 1, [0.3], seeds=[0, 1, 2], name="net")
    assert list(single.runs) == [0.3] and not single.at_edge
    with pytest.raises(ValueError, match="positive"):
        utils.sweep(None, None, None, 1, [], seeds=[0])


def test_train_seeds_takes_an_optimizer_factory():
    train_iter, val_iter = make_loaders(n=256)
    made = []

    def momentum(params, lr):
        made.append(lr)
        return torch.optim.SGD(params, lr, momentum=0.9)
    runs = utils.train_seeds(small_net, train_iter, val_iter, 1, 0.05, seeds=[0, 1],
                             optimizer=momentum, verbose=False)
    assert made == [0.05, 0.05] and len(runs) == 2
    plain = utils.train_seeds(small_net, train_iter, val_iter, 1, 0.05, seeds=[0],
                              verbose=False)
    assert not torch.equal(plain.runs[0].net[0].weight, runs.runs[0].net[0].weight)
    lazy = lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(10))  # noqa: E731
    with pytest.raises(ValueError, match="lazy layers"):
        utils.train_seeds(lazy, train_iter, val_iter, 1, 0.05, seeds=[0], optimizer=momentum)


def test_plot_runs_draws_every_seed():
    fig = utils.plot_runs([fake_runs("a", [0.5, 0.6, 0.7]), fake_runs("b", [0.8, 0.8, 0.9])])
    ax = fig.axes[0]
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert sum(len(line.get_ydata()) for line in dots) == 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]


def test_compare_prints_one_line(capsys):
    budget = utils.Budget(num_epochs=3, train_size=1_000, val_size=500)
    b = fake_runs("plain", [0.7, 0.71, 0.72], split="test")
    t = fake_runs("treated", [0.8, 0.81, 0.79], split="test")
    record = utils.compare("06_batch_norm", b, t, budget)
    line = capsys.readouterr().out.strip()
    assert line.startswith(utils.experiment.COMPARE_PREFIX)
    printed = json.loads(line[len(utils.experiment.COMPARE_PREFIX):])
    assert printed == record
    assert printed["baseline_runs"] == [0.7, 0.71, 0.72] and printed["metric"] == "test_acc"
    assert printed["budget"]["num_epochs"] == 3 and printed["budget"]["val_size"] == 500
    assert printed["seeds"] == [0, 1, 2] and printed["treatment_config"] == {"lr": 0.1}
    with pytest.raises(ValueError, match="same seeds"):
        utils.compare("x", b, fake_runs("t", [0.8, 0.8], seeds=(0, 1), split="test"), budget)


def test_profiles_name_their_seeds():
    assert len(utils.get_profile("quick").seeds) >= 3
    assert len(utils.get_profile("full").seeds) >= len(utils.get_profile("quick").seeds)


def test_a_diverging_run_is_kept_and_marked(capsys):
    train_iter, val_iter = make_loaders(n=256)
    class Exploding(torch.nn.Module):          # its logits overflow to inf
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(28 * 28, 10)

        def forward(self, X):
            return self.linear(X.flatten(1)) * 1e39

    runs = utils.train_seeds(Exploding, train_iter, val_iter, 2, 0.1, seeds=[0])
    (run,) = runs.runs
    assert run.diverged and len(run.history) == 0
    assert run.scores["val"] < 0.5          # the broken model is scored, near chance
    assert "diverged" in capsys.readouterr().out


def test_glue_stores_only_in_a_notebook(monkeypatch, capsys):
    import myst_nb

    import utils.plotting

    stored = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: stored.append(
        (name, value, display)))
    utils.glue("gain", 0.25)                     # a test run is not a notebook
    assert stored == [] and capsys.readouterr().out == ""
    monkeypatch.setattr(utils.plotting, "in_notebook", lambda: True)
    utils.glue("gain", 0.25)
    assert stored == [("gain", 0.25, False)]
