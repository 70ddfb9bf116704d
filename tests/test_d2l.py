"""utils against d2l 1.0.3, the reference most readers come from.

Each test backs one row of the appendix page "Coming from d2l"
(appendix/from_d2l.md): where the two agree, they give the same numbers on the
same inputs; where they differ, the test pins the difference the page names.
d2l is a test dependency only (installed by `make venv` with --no-deps, since its
exact pins do not install on current Python); no notebook imports it.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest
import torch
from conftest import make_loaders
from torch import nn

import utils

REPO = Path(__file__).resolve().parent.parent

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from d2l import torch as d2l
except ImportError:  # pragma: no cover - depends on the machine
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("d2l is not installed: make venv installs it", allow_module_level=True)


def test_corr2d_matches():
    gen = torch.Generator().manual_seed(0)
    for shape, kernel in [((6, 7), (2, 3)), ((5, 5), (5, 5)), ((8, 3), (1, 1))]:
        X, K = torch.randn(shape, generator=gen), torch.randn(kernel, generator=gen)
        torch.testing.assert_close(utils.corr2d(X, K), d2l.corr2d(X, K))


def copy_residual(ours: utils.Residual, theirs: nn.Module) -> None:
    """Give d2l's block our weights; its convolutions' biases (ours have none) are zero."""
    with torch.no_grad():
        for name in ("conv1", "conv2", "conv3"):
            if getattr(ours, name) is None:
                assert getattr(theirs, name) is None
                continue
            getattr(theirs, name).weight.copy_(getattr(ours, name).weight)
            getattr(theirs, name).bias.zero_()
        for name in ("bn1", "bn2"):
            getattr(theirs, name).load_state_dict(getattr(ours, name).state_dict())


@pytest.mark.parametrize("cin, cout, proj, stride", [(3, 3, False, 1), (3, 6, True, 2),
                                                     (4, 4, True, 1)])
def test_residual_block_matches(cin, cout, proj, stride):
    torch.manual_seed(0)
    X = torch.randn(4, cin, 8, 8)
    ours = utils.Residual(cin, cout, use_1x1conv=proj, stride=stride)
    theirs = d2l.Residual(cout, use_1x1conv=proj, strides=stride)
    theirs(X)                      # materialise d2l's lazy layers
    copy_residual(ours, theirs)
    for mode in (True, False):     # training mode (batch statistics), then evaluation
        ours.train(mode)
        theirs.train(mode)
        torch.testing.assert_close(ours(X), theirs(X))
    assert all(m.bias is None for m in ours.modules() if isinstance(m, nn.Conv2d))


def test_lenet_matches_d2ls_lazy_lenet():
    torch.manual_seed(0)
    X = torch.rand(2, 1, 28, 28)
    ours, theirs = utils.lenet(), d2l.LeNet().net
    theirs(X)                      # d2l 1.0 builds LeNet from lazy layers
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]
    theirs.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(X), theirs(X))


def test_evaluate_accuracy_matches_and_restores_the_mode():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 26 * 26, 10))
    _, test_iter = make_loaders(n=300, batch_size=64)
    net.train()
    ours = utils.evaluate_accuracy(net, test_iter)
    assert net.training                       # utils gives the model its mode back
    theirs = d2l.evaluate_accuracy_gpu(net, test_iter)
    assert not net.training                   # d2l leaves it in evaluation mode
    assert ours == theirs


def test_devices(monkeypatch):
    import utils.device

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(utils.device, "_mps_available", lambda: False)
    assert utils.try_gpu() == d2l.try_gpu() == torch.device("cpu")
    assert utils.try_all_gpus() == [torch.device("cpu")]
    assert d2l.try_all_gpus() == []           # its docstring promises [cpu()]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert utils.try_gpu(1) == d2l.try_gpu(1) == torch.device("cuda:1")
    assert utils.try_all_gpus() == d2l.try_all_gpus()


def test_labels_match():
    labels = torch.arange(10).repeat(2)
    assert utils.get_fashion_mnist_labels(labels) == d2l.get_fashion_mnist_labels(labels)


def test_resnet18_differs_only_where_the_page_says():
    """d2l's resnet18 (its multi-GPU chapter) drops the 7x7 stem and the max pooling."""
    ours, theirs = utils.resnet18(num_classes=10), d2l.resnet18(10, 1)
    X = torch.rand(2, 1, 28, 28)
    assert ours(X).shape == theirs(X).shape == (2, 10)
    stem = 64 * 1 * 7 * 7 + 2 * 64             # our 7x7 stem without bias, and its norm
    their_stem = 64 * 1 * 3 * 3 + 64 + 2 * 64  # their 3x3 stem with bias, and its norm
    biases = sum(m.bias.numel() for m in theirs.modules()
                 if isinstance(m, nn.Conv2d) and m.bias is not None) - 64
    assert utils.num_params(ours) - stem == utils.num_params(theirs) - their_stem - biases


def test_xavier_init_matches_init_cnn():
    torch.manual_seed(0)
    ours = utils.lenet().apply(utils.init_xavier)
    torch.manual_seed(0)
    theirs = utils.lenet().apply(d2l.init_cnn)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(p, q)


def test_show_images_returns_the_figure():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    images = torch.rand(6, 1, 8, 8)
    fig = utils.show_images(images, 2, 3)
    axes = d2l.show_images(images.squeeze(1), 2, 3)   # d2l needs (n, h, w) and gives axes
    assert isinstance(fig, Figure) and len(fig.axes) == len(axes) == 6
    plt.close("all")


def test_accuracy_is_one_line_of_pytorch():
    torch.manual_seed(0)
    y_hat, y = torch.randn(50, 10), torch.randint(0, 10, (50,))
    assert d2l.accuracy(y_hat, y) == (y_hat.argmax(dim=1) == y).sum().item()


def test_train_ch6_reinitializes_the_weights(capsys):
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    train_iter, test_iter = make_loaders(n=80, batch_size=16)
    net = utils.lenet()
    before = [p.detach().clone() for p in net.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # its plot warns about a 1-epoch x-axis
        d2l.train_ch6(net, list(train_iter), list(test_iter), 1, 0.0, torch.device("cpu"))
    plt.close("all")
    after = list(net.parameters())
    weights = [i for i, p in enumerate(before) if p.dim() > 1]
    assert all(not torch.equal(before[i], after[i]) for i in weights)   # lr 0, yet changed
    assert all(torch.equal(before[i], after[i]) for i in range(len(before)) if i not in weights)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        utils.train(utils.lenet(), train_iter, None, 1, 0.0, plot=False, verbose=False)


def test_the_page_names_only_what_exists():
    page = (REPO / "appendix" / "from_d2l.md").read_text()
    ours = set(re.findall(r"`utils\.([A-Za-z_][A-Za-z_0-9]*)", page))
    theirs = set(re.findall(r"`d2l\.([A-Za-z_][A-Za-z_0-9]*)", page))
    assert ours and theirs
    assert not {n for n in ours if not hasattr(utils, n)}, "the page names missing utils"
    assert not {n for n in theirs if not hasattr(d2l, n)}, "the page names missing d2l"


def test_classifier_loss_and_accuracy_are_cross_entropy_and_the_share_correct():
    torch.manual_seed(0)
    y_hat, y = torch.randn(64, 10), torch.randint(0, 10, (64,))
    model = d2l.Classifier()
    torch.testing.assert_close(model.loss(y_hat, y), nn.functional.cross_entropy(y_hat, y))
    assert model.accuracy(y_hat, y).item() == (y_hat.argmax(dim=1) == y).float().mean().item()


def test_trainer_fit_is_the_loop_utils_train_runs():
    """d2l.Trainer.fit and utils.train: the same minibatch SGD, one update per batch."""
    train_iter, val_iter = make_loaders(n=192, batch_size=32)
    train_iter.shuffle = False                 # one fixed order, handed to both

    class Net(d2l.Classifier):
        def __init__(self, lr):
            super().__init__()
            self.save_hyperparameters()
            torch.manual_seed(0)
            self.net = utils.lenet()

        def plot(self, key, value, train):     # d2l's live plot only; nothing to draw here
            pass

    class Data(d2l.DataModule):
        def __init__(self):
            super().__init__()

        def get_dataloader(self, train):
            return list(train_iter if train else val_iter)

    theirs = Net(lr=0.1)
    d2l.Trainer(max_epochs=2).fit(theirs, Data())
    torch.manual_seed(0)
    ours = utils.lenet()
    utils.train(ours, train_iter, val_iter, 2, 0.1, plot=False, verbose=False,
                speed=utils.Speed(amp=False, channels_last=False))
    for a, b in zip(theirs.net.parameters(), ours.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_fashion_mnist_validates_on_the_test_set(tmp_path, monkeypatch):
    """d2l.FashionMNIST's val_dataloader() is Fashion-MNIST's test set."""
    data = os.environ.get("CNNBOOK_DATA")
    if not data or not (Path(data) / "FashionMNIST").is_dir():
        pytest.skip("set CNNBOOK_DATA to a folder holding FashionMNIST/")
    (tmp_path / "data").symlink_to(Path(data).resolve())
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")      # d2l reads ../data
    fmnist = d2l.FashionMNIST(batch_size=256)
    assert not fmnist.val.train and len(fmnist.val) == 10_000 and len(fmnist.train) == 60_000
    X, y = utils.read_fashion_mnist("test", root=data)
    assert torch.equal(fmnist.val.targets, y)
