"""Profiles, devices, plotting and models."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure

import utils

REPO = Path(__file__).resolve().parent.parent


def test_profile_from_environment(monkeypatch):
    monkeypatch.delenv("CNNBOOK_PROFILE", raising=False)
    assert utils.get_profile().name == "quick"
    monkeypatch.setenv("CNNBOOK_PROFILE", "FULL")
    assert utils.get_profile().name == "full"
    monkeypatch.setenv("CNNBOOK_PROFILE", "fast")
    with pytest.raises(ValueError, match="unknown profile 'fast'.*quick, full"):
        utils.get_profile()


def test_budgets_exist_in_both_profiles_and_describe():
    quick, full = utils.get_profile("quick"), utils.get_profile("full")
    assert set(quick.budgets) == set(full.budgets)
    for name, budget in quick.budgets.items():
        assert budget.num_epochs > 0 and budget.batch_size > 0 and budget.lr > 0
        big = full.budget(name)
        seen = lambda b: b.num_epochs * (b.train_size or 60_000)  # noqa: E731
        assert seen(big) >= seen(budget), f"full budget {name!r} trains on less than quick"
    for budget in (*quick.budgets.values(), *full.budgets.values()):   # describe() states it all
        text = budget.describe()
        assert text.startswith(f"{budget.num_epochs} epochs, batch {budget.batch_size}, "
                               f"lr {budget.lr:g}, "), text
        side = budget.resize or 28
        assert f"input {side}x{side}" in text
        assert all(f"{k}={v!r}" in text for k, v in budget.model.items()), text
    made = utils.Budget(num_epochs=2, batch_size=64, train_size=1_000, resize=32, lr=0.05,
                        widths=(1, 2, 3, 4), model={"growth_rate": 12})
    assert made.describe() == ("2 epochs, batch 64, lr 0.05, train on 1,000 images, test on "
                               "all 10,000, input 32x32, stage widths (1, 2, 3, 4), "
                               "growth_rate=12; 32 updates per run (2,000 examples seen)")
    assert made.updates == 2 * 16 and made.examples == 1_000            # 1,000 / 64: 15 + 1
    whole = utils.Budget(num_epochs=3, batch_size=256, val_size=5_000)
    assert whole.examples == 55_000 and whole.updates == 3 * 215        # 55,000 / 256 = 214.8
    assert "645 updates per run (165,000 examples seen)" in whole.describe()
    for name, budget in quick.budgets.items():   # ResNet stage widths live in the table too
        big = full.budget(name)
        assert (budget.widths is None) == (big.widths is None), name
        if budget.widths is not None:
            assert len(budget.widths) == 4 and all(0 < a <= b for a, b in
                                                   zip(budget.widths, big.widths, strict=True))
            assert f"stage widths {budget.widths}" in budget.describe()
    with pytest.raises(ValueError, match="no budget named 'vgg'"):
        quick.budget("vgg")


def test_every_budget_is_read_somewhere():
    """A budget that no notebook, script or benchmark asks for is a stale entry."""
    import re

    sources = [p for d in ("chapters", "exercises", "appendix", "bench", "scripts", "utils")
               for p in (REPO / d).rglob("*.py")]
    text = "\n".join(p.read_text() for p in sources)
    asked = set(re.findall(r"""budget\(\s*["']([a-z_0-9]+)["']""", text))
    assert asked, "found no budget(...) calls: the pattern is out of date"
    unused = sorted(set(utils.get_profile("quick").budgets) - asked)
    assert not unused, f"budgets no source reads: {unused}; delete them from utils/profile.py"


def test_device_order_is_cuda_then_mps_then_cpu(monkeypatch):
    import utils.device as device

    for cuda, mps, first, every in [(2, True, "cuda:0", ["cuda:0", "cuda:1"]),
                                    (0, True, "mps", ["mps"]), (0, False, "cpu", ["cpu"])]:
        monkeypatch.setattr(torch.cuda, "device_count", lambda n=cuda: n)
        monkeypatch.setattr(device, "_mps_available", lambda m=mps: m)
        assert str(utils.try_gpu()) == first
        assert [str(d) for d in utils.try_all_gpus()] == every
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(device, "_mps_available", lambda: False)
    assert str(utils.try_gpu(1)) == "cpu"   # no second GPU


def test_devices_on_this_machine():
    device = utils.try_gpu()
    assert device.type in {"cuda", "mps", "cpu"}
    if not torch.cuda.is_available():
        assert utils.try_gpu(5).type in {"cpu", "mps"}
    assert len(utils.try_all_gpus()) >= 1
    with pytest.raises(ValueError, match="GPU index must be >= 0"):
        utils.try_gpu(-1)


def test_seed_everything_repeats_random_numbers():
    utils.seed_everything(7)
    a = torch.rand(3)
    gen = utils.seed_everything(7)
    assert torch.equal(a, torch.rand(3))
    again = utils.seed_everything(7)
    assert torch.equal(torch.rand(2, generator=gen), torch.rand(2, generator=again))


def test_import_has_no_side_effects():
    code = ("import random, torch, matplotlib; s = torch.random.get_rng_state(); "
            "r = random.getstate(); rc = dict(matplotlib.rcParams); import utils; "
            "assert torch.equal(s, torch.random.get_rng_state()); "
            "assert r == random.getstate(); assert rc == dict(matplotlib.rcParams)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


def test_public_functions_have_docstrings_and_no_star_imports():
    for path in (REPO / "utils").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert all(alias.name != "*" for alias in node.names), path
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                overload = any(getattr(d, "id", None) == "overload" for d in
                               getattr(node, "decorator_list", []))   # typing stubs
                if node in tree.body and not overload:
                    assert ast.get_docstring(node), f"{path.name}: {node.name} has no docstring"


def test_show_images_grid_and_errors():
    fig = utils.show_images(torch.rand(5, 1, 28, 28), 2, 3, titles=list("abcde"))
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) == 6 and [ax.get_title() for ax in axes[:5]] == list("abcde")
    assert not axes[5].images  # the sixth cell stays empty
    fig = utils.show_images(torch.rand(2, 3, 8, 8), 1, 2)
    assert fig.get_axes()[0].images[0].get_array().shape == (8, 8, 3)
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        utils.show_images(torch.rand(3, 8, 8), 1, 3, titles=["a", "b"])
    with pytest.raises(ValueError, match="must be positive"):
        utils.show_images(torch.rand(3, 8, 8), 0, 3)


def test_history_plots():
    history = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5 + e / 10,
                "test_acc": 0.4 + e / 10} for e in (1, 2, 3)]
    fig = utils.plot_history(history, title="demo")
    loss_ax, acc_ax = fig.get_axes()
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylim() == (0.0, 1.0)
    assert len(acc_ax.get_lines()) == 2
    fig = utils.compare_histories({"a": history, "b": history})
    assert [t.get_text() for t in fig.get_axes()[0].get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match="history is empty"):
        utils.plot_history([])
    with pytest.raises(ValueError, match="no 'val_acc' values"):
        utils.compare_histories({"a": history}, metric="val_acc")


def test_lenet_shapes_and_parameters():
    X = torch.zeros(2, 1, 28, 28)
    for make in (utils.lenet, utils.lenet_modern):
        net = make()
        assert net(X).shape == (2, 10)
        assert sum(p.numel() for p in net.parameters()) == 61_706
    table = utils.layer_summary(utils.lenet(), X[:1])
    assert "(1, 16, 5, 5)" in table and table.splitlines()[-1].endswith("61,706")


def test_xavier_init_changes_conv_and_linear_weights_only():
    net = utils.lenet()
    before = [p.clone() for p in net.parameters()]
    torch.manual_seed(0)
    net.apply(utils.init_xavier)
    changed = [not torch.equal(a, b) for a, b in zip(before, net.parameters())]
    assert changed == [True, False] * 5  # weights re-drawn, biases kept


def test_residual_blocks_and_resnet18():
    X = torch.randn(4, 3, 6, 6)
    assert utils.Residual(3, 3)(X).shape == (4, 3, 6, 6)
    assert utils.Residual(3, 6, use_1x1conv=True, stride=2)(X).shape == (4, 6, 3, 3)
    with pytest.raises(ValueError, match="needs use_1x1conv=True"):
        utils.Residual(3, 6)
    net = utils.resnet18()
    assert net(torch.zeros(2, 1, 96, 96)).shape == (2, 10)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    n_params = sum(p.numel() for p in net.parameters())
    assert 11_000_000 < n_params < 11_300_000  # ResNet-18 has about 11.2M parameters
    small = utils.resnet18(widths=(16, 32, 64, 128))
    assert small(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_layer_summary_traces_in_eval_mode_and_restores_it():
    net = utils.resnet18(widths=(8, 16, 32, 64))
    net.train()
    before = net[0][1].running_mean.clone()
    table = utils.layer_summary(net, torch.randn(1, 1, 28, 28))  # one example: BN needs eval
    assert net.training and torch.equal(before, net[0][1].running_mean)
    assert "(1, 64, 1, 1)" in table
    net[0][1].eval()  # a BN layer frozen inside a training model stays frozen
    utils.layer_summary(net, torch.randn(1, 1, 28, 28))
    assert net.training and net[0][0].training and not net[0][1].training


def test_figures_render_as_png_in_a_kernel_without_pyplot():
    """In Jupyter, a Figure returned by utils shows as an image, pyplot imported or not."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        fig = utils.show_images(torch.rand(2, 8, 8), 1, 2)
        data, _ = shell.display_formatter.format(fig)
        assert "image/png" in data and data["image/png"]
    finally:
        InteractiveShell.clear_instance()


def test_num_params_and_count_macs_by_hand():
    net = utils.lenet()
    assert utils.num_params(net) == (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) \
        + (120 * 84 + 84) + (84 * 10 + 10)
    by_hand = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    net.train()
    assert utils.count_macs(net, (1, 28, 28)) == by_hand
    assert net.training and net[0].weight.device.type == "cpu"   # the model is untouched
    grouped = torch.nn.Conv2d(8, 8, 3, padding=1, groups=4)
    assert utils.count_macs(grouped, (8, 5, 5)) == 5 * 5 * 8 * 9 * 2
    resnet = utils.count_macs(utils.resnet18(num_classes=1000, in_channels=3), (3, 224, 224))
    assert abs(resnet / 1.8e9 - 1) < 0.02   # the published 1.8 billion


def test_best_time_calls_once_more_than_it_times():
    calls = []
    seconds = utils.best_time(lambda: calls.append(1), repeats=3)
    assert len(calls) == 4 and 0 <= seconds < 1
    with pytest.raises(ValueError, match="repeats must be positive"):
        utils.best_time(lambda: None, repeats=0)


def test_recompute_bn_statistics_averages_the_batch_statistics():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3, momentum=0.3),
                              torch.nn.Flatten(), torch.nn.LazyLinear(2),
                              torch.nn.BatchNorm1d(2))
    net(torch.randn(4, 1, 6, 6))
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    batches = [(torch.randn(5, 1, 6, 6) * (k + 1) + k, torch.zeros(5)) for k in range(4)]
    fixed = utils.recompute_bn_statistics(net, batches, num_batches=3)
    conv_out = [net[0](X) for X, _ in batches[:3]]
    with torch.no_grad():
        means = torch.stack([z.mean(dim=(0, 2, 3)) for z in conv_out]).mean(0)
        variances = torch.stack([z.var(dim=(0, 2, 3)) for z in conv_out]).mean(0)
    torch.testing.assert_close(fixed[1].running_mean, means)
    torch.testing.assert_close(fixed[1].running_var, variances)
    assert not fixed.training and fixed[1].momentum == 0.3 and fixed[4].momentum == 0.1
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # untouched
    assert not torch.equal(fixed[1].running_mean, net[1].running_mean)
    # A shorter iterable is used whole; fewer batches than asked is not an error.
    torch.testing.assert_close(utils.recompute_bn_statistics(net, batches[:1])[1].running_mean,
                               conv_out[0].mean(dim=(0, 2, 3)).detach())
    with pytest.raises(ValueError, match="no batch-normalization layer"):
        utils.recompute_bn_statistics(utils.lenet(), batches)
    with pytest.raises(ValueError, match="yielded no batches"):
        utils.recompute_bn_statistics(net, [])
    with pytest.raises(ValueError, match="num_batches must be positive"):
        utils.recompute_bn_statistics(net, batches, num_batches=0)
