from __future__ import annotations

import json

import pytest
import torch
from conftest import make_loaders, small_net

import utils

TIMING_KEYS = {"examples_per_sec", "seconds"}


def fit(seed: int = 0, epochs: int = 3, lr: float = 0.5, **kwargs):
    utils.seed_everything(seed)
    train_iter, test_iter = make_loaders(seed=seed)
    net = small_net()
    history = utils.train(net, train_iter, test_iter, epochs, lr, plot=False,
                          verbose=False, **kwargs)
    return net, history, test_iter


def test_history_records_and_learning():
    net, history, test_iter = fit()
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert set(history.last) == {"epoch", "train_loss", "train_acc", "test_acc"} | TIMING_KEYS
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history.last["test_acc"] > 0.5  # chance is 0.1 on this easy task
    assert history.last["test_acc"] == utils.evaluate_accuracy(net, test_iter)
    assert not history.interrupted
    assert history.table().splitlines()[0].split()[:2] == ["epoch", "loss"]


def test_runs_with_same_seed_are_identical():
    """Two seeded runs on the CPU give the same history (timings aside)."""
    _, h1, _ = fit(seed=1)
    _, h2, _ = fit(seed=1)
    strip = [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in h1]
    assert strip == [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in h2]
    _, h3, _ = fit(seed=2)
    assert h3[0]["train_loss"] != h1[0]["train_loss"]


def test_real_data_determinism(data_root):
    """Same as above on a slice of Fashion-MNIST with LeNet, as a notebook does."""
    def run():
        utils.seed_everything(0)
        train_iter, test_iter = utils.load_fashion_mnist(
            128, root=data_root, train_size=1024, test_size=256)
        net = utils.lenet()
        net.apply(utils.init_xavier)
        return utils.train(net, train_iter, test_iter, 2, 0.9, plot=False, verbose=False)
    a, b = run(), run()
    assert [r["train_loss"] for r in a] == [r["train_loss"] for r in b]
    assert [r["test_acc"] for r in a] == [r["test_acc"] for r in b]


def test_nan_loss_names_epoch_batch_and_lr():
    with pytest.raises(utils.TrainingDivergedError) as info:
        fit(lr=1e30, epochs=2)
    msg = str(info.value)
    assert "epoch 1, batch" in msg and "learning rate 1e+30" in msg
    assert "try a smaller one" in msg


def test_nan_in_a_later_batch_is_located():
    train_iter, _ = make_loaders()

    class PoisonAt:
        def __init__(self, k):
            self.k = k

        def __len__(self):
            return len(train_iter)

        def __iter__(self):
            for i, (X, y) in enumerate(train_iter, start=1):
                yield (X * float("nan") if i == self.k else X), y

    with pytest.raises(utils.TrainingDivergedError, match="epoch 1, batch 5,"):
        utils.train(small_net(), PoisonAt(5), None, 1, 0.1, plot=False, verbose=False)


def test_keyboard_interrupt_keeps_model_and_history(capsys):
    train_iter, test_iter = make_loaders()

    class StopInSecondEpoch:
        def __init__(self):
            self.passes = 0

        def __len__(self):
            return len(train_iter)

        def __iter__(self):
            self.passes += 1
            for i, batch in enumerate(train_iter):
                if self.passes == 2 and i == 3:
                    raise KeyboardInterrupt
                yield batch

    net = small_net()
    history = utils.train(net, StopInSecondEpoch(), test_iter, 5, 0.5, plot=False)
    assert history.interrupted and len(history) == 1
    assert "interrupted in epoch 2" in capsys.readouterr().out
    assert utils.evaluate_accuracy(net, test_iter) > 0.1  # the model is still usable


def test_device_mismatch_says_which_is_where():
    net = small_net().to("meta")
    X = torch.zeros(2, 1, 28, 28)
    with pytest.raises(utils.DeviceMismatchError) as info:
        utils.check_batch(net, X)
    msg = str(info.value)
    assert "parameters are on meta" in msg and "batch is on cpu" in msg
    only_buffers = torch.nn.BatchNorm2d(3, affine=False).to("meta")
    assert utils.model_device(only_buffers).type == "meta"
    with pytest.raises(utils.DeviceMismatchError, match="on meta but the batch is on cpu"):
        utils.check_batch(only_buffers, X)


@pytest.mark.parametrize("dtype, fix", [(torch.float64, "X.to(torch.float32)"),
                                        (torch.uint8, "X.float() / 255")])
def test_a_batch_of_the_wrong_dtype_is_named_not_blamed_on_the_device(dtype, fix):
    X = torch.zeros(4, 1, 28, 28, dtype=dtype)
    with pytest.raises(TypeError) as info:
        utils.check_batch(small_net(), X)
    msg = str(info.value)
    assert f"the batch has dtype {dtype}" in msg and "parameters are torch.float32" in msg
    assert fix in msg and "device" not in msg
    y = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(TypeError, match=f"the batch has dtype {dtype}"):
        utils.train(small_net(), [(X, y)], None, 1, 0.1, plot=False, verbose=False)
    with pytest.raises(TypeError, match=f"the batch has dtype {dtype}"):
        utils.evaluate_accuracy(small_net(), [(X, y)])


def test_a_tensor_made_on_another_device_inside_forward_keeps_pytorchs_error():
    """Parameters and batch agree, so this is not ours to diagnose: PyTorch's error stands."""
    class Bad(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 2)

        def forward(self, X):
            return self.lin(X) + torch.zeros(2, device="meta")

    X, y = torch.zeros(3, 4), torch.zeros(3, dtype=torch.int64)
    with pytest.raises(RuntimeError) as info:
        utils.train(Bad(), [(X, y)], None, 1, 0.1, plot=False, verbose=False)
    assert not isinstance(info.value, utils.DeviceMismatchError)


def lazy_lenet() -> torch.nn.Sequential:
    """LeNet as d2l 1.0 writes it, with lazy layers."""
    nn = torch.nn
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(), nn.LazyLinear(10))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_model_with_lazy_layers_trains(optimizer):
    utils.seed_everything(0)
    train_iter, test_iter = make_loaders()
    net = lazy_lenet()
    lr = 0.9 if optimizer == "sgd" else 0.01
    history = utils.train(net, train_iter, test_iter, 3, lr, optimizer=optimizer,
                          plot=False, verbose=False)
    assert utils.num_params(net) == utils.num_params(utils.lenet())
    assert history.last["train_loss"] < history[0]["train_loss"]


def test_lazy_batch_norm_in_the_channels_last_layout():
    """Lazy buffers (LazyBatchNorm2d) have no shape before the first batch either."""
    nn = torch.nn
    net = nn.Sequential(nn.LazyConv2d(8, 3, padding=1), nn.LazyBatchNorm2d(), nn.ReLU(),
                        nn.MaxPool2d(4), nn.Flatten(), nn.LazyLinear(10))
    utils.seed_everything(0)
    train_iter, test_iter = make_loaders()
    history = utils.train(net, train_iter, test_iter, 3, 0.1, plot=False, verbose=False,
                          speed=utils.Speed(channels_last=True))
    assert not any(utils.is_lazy(t) for t in (*net.parameters(), *net.buffers()))
    assert history.last["train_loss"] < history[0]["train_loss"]


def test_bad_arguments():
    train_iter, test_iter = make_loaders()
    with pytest.raises(ValueError, match="num_epochs must be a positive integer"):
        utils.train(small_net(), train_iter, test_iter, 0, 0.1)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        utils.train(small_net(), train_iter, test_iter, 1, -1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        utils.train(small_net(), train_iter, test_iter, 1, 0.1, optimizer="rmsprop")
    net = small_net()
    sgd = torch.optim.SGD(net.parameters(), lr=0.5)
    with pytest.raises(ValueError, match="lr=0.1 and an optimizer object.*drop lr"):
        utils.train(net, train_iter, test_iter, 1, 0.1, optimizer=sgd)
    with pytest.raises(ValueError, match="yielded no examples"):
        utils.evaluate_accuracy(small_net(), [])
    with pytest.raises(ValueError, match="history is empty"):
        _ = utils.History().last


def test_adam_and_optimizer_objects():
    net = small_net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    train_iter, test_iter = make_loaders()
    history = utils.train(net, train_iter, test_iter, 2, optimizer=opt, plot=False,
                          verbose=False)
    assert history.last["test_acc"] > 0.3


def test_evaluate_restores_training_mode():
    net = small_net()
    _, test_iter = make_loaders()
    net.train()
    utils.evaluate_accuracy(net, test_iter)
    assert net.training
    net.eval()
    utils.evaluate_accuracy(net, test_iter)
    assert not net.training


def test_evaluate_restores_each_submodule_mode():
    """A BN layer frozen with .eval() inside a training net stays frozen."""
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 28 * 28, 10))
    net.train()
    net[1].eval()
    _, test_iter = make_loaders()
    utils.evaluate_accuracy(net, test_iter)
    assert [m.training for m in net] == [True, False, True, True]


def test_printed_lines(capsys):
    utils.seed_everything(0)
    train_iter, test_iter = make_loaders()
    utils.train(small_net(), train_iter, test_iter, 2, 0.5, plot=False)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("epoch 1/2  loss ") and out[0].endswith("cpu")
    assert out[-1].startswith("done: 2 epochs in ")


def test_live_plot_in_a_notebook_is_updated_in_place(monkeypatch):
    """In a notebook the figure is displayed once and then updated (one saved image)."""
    calls = []

    class Handle:
        def update(self, fig):
            calls.append(("update", fig))

    def fake_display(fig, display_id=False):
        calls.append(("display", fig))
        return Handle()

    import IPython.display
    monkeypatch.setattr(IPython.display, "display", fake_display)
    train_iter, test_iter = make_loaders()
    plot = utils.LivePlot(3, min_interval=0.0)
    monkeypatch.setattr(utils.training, "LivePlot", lambda n: plot)
    utils.train(small_net(), train_iter, test_iter, 3, 0.5, plot=True, verbose=False)
    assert [c[0] for c in calls][0] == "display"
    assert all(kind == "update" for kind, _ in calls[1:]) and len(calls) >= 3
    assert len(plot.test_acc) == 3 and len(plot.train_x) >= 3


def test_live_plot_points_are_means_since_the_previous_point(monkeypatch):
    """Each point averages the batches since the one before, so an epoch's points
    average to the epoch's loss (a running mean restarting every epoch would not)."""
    import IPython.display

    class Handle:
        def update(self, fig):
            pass

    monkeypatch.setattr(IPython.display, "display", lambda fig, display_id=False: Handle())
    utils.seed_everything(0)
    train_iter, test_iter = make_loaders()   # 8 equal batches: a point every 2
    assert len(train_iter) == 8 and train_iter.num_examples % 8 == 0
    plot = utils.LivePlot(3, min_interval=0.0)
    monkeypatch.setattr(utils.training, "LivePlot", lambda n: plot)
    history = utils.train(small_net(), train_iter, test_iter, 3, 0.5, plot=True, verbose=False)
    assert plot.train_x == pytest.approx([e + k / 4 for e in range(3) for k in (1, 2, 3, 4)])
    for e, record in enumerate(history):
        points = plot.train_loss[4 * e:4 * e + 4]
        assert sum(points) / 4 == pytest.approx(record["train_loss"], rel=1e-5)
        accs = plot.train_acc[4 * e:4 * e + 4]
        assert sum(accs) / 4 == pytest.approx(record["train_acc"], rel=1e-6)
    assert len(set(plot.train_loss[:4])) == 4   # not one value repeated


def test_report_result(capsys):
    _, history, _ = fit(epochs=1)
    record = utils.report_result("tiny", history, "quick")
    line = capsys.readouterr().out.strip()
    assert line.startswith(utils.history.RESULT_PREFIX)
    assert json.loads(line[len(utils.history.RESULT_PREFIX):]) == record
    assert record["epochs"] == 1 and record["test_acc"] == round(history.last["test_acc"], 4)
    train_iter, _ = make_loaders()
    assert record["train_examples"] == history.train_examples == train_iter.num_examples
    handmade = utils.History([dict(history.last)])
    with pytest.raises(ValueError, match="pass the History that utils.train returned"):
        utils.report_result("tiny", handmade, "quick")


def test_report_result_defaults_to_the_active_profile(monkeypatch, capsys):
    _, history, _ = fit(epochs=1)
    for name in ("quick", "full"):
        monkeypatch.setenv("CNNBOOK_PROFILE", name)
        assert utils.report_result("tiny", history)["profile"] == name


def test_history_keeps_its_attributes_when_sliced_copied_and_pickled():
    import copy
    import pickle

    history = utils.History([{"epoch": 1}, {"epoch": 2}, {"epoch": 3}], interrupted=True,
                            train_examples=512)
    for other in (history[:2], history[1:], history.copy(), copy.copy(history),
                  copy.deepcopy(history), pickle.loads(pickle.dumps(history))):
        assert isinstance(other, utils.History)
        assert other.interrupted is True and other.train_examples == 512
    assert history[:2] == [{"epoch": 1}, {"epoch": 2}] and history[-1] == {"epoch": 3}
    deep = copy.deepcopy(history)
    deep[0]["epoch"] = 99
    assert history[0]["epoch"] == 1


class _DtypeProbe(torch.nn.Module):
    """Wraps a net and records the dtype of its logits (bfloat16 under CPU autocast)."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net, self.dtypes = net, set()

    def forward(self, X):
        out = self.net(X)
        self.dtypes.add(out.dtype)
        return out


def test_amp_on_the_cpu_computes_in_bfloat16_and_learns():
    utils.seed_everything(0)
    train_iter, test_iter = make_loaders()
    probe = _DtypeProbe(small_net())
    history = utils.train(probe, train_iter, test_iter, 3, 0.5, plot=False, verbose=False,
                          speed=utils.Speed(amp=True))
    assert probe.dtypes == {torch.bfloat16}
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history.last["test_acc"] > 0.5
    assert all(p.dtype == torch.float32 for p in probe.parameters())  # weights stay float32
    probe.dtypes.clear()
    utils.train(probe, train_iter, test_iter, 1, 0.5, plot=False, verbose=False)
    assert probe.dtypes == {torch.float32}  # off by default on the CPU
    probe.dtypes.clear()
    utils.evaluate_accuracy(probe, test_iter, speed=utils.Speed(amp=True))
    assert probe.dtypes == {torch.bfloat16}


def test_amp_on_an_unsupported_device_is_refused():
    train_iter, test_iter = make_loaders()
    amp = utils.Speed(amp=True)
    with pytest.raises(ValueError, match=r"not on 'mps': pass Speed\(amp=False\)"):
        utils.train(small_net(), train_iter, test_iter, 1, 0.1, device="mps", speed=amp)
    with pytest.raises(ValueError, match=r"not on 'mps': pass Speed\(amp=False\)"):
        utils.evaluate_accuracy(small_net(), test_iter, device="mps", speed=amp)
