"""utils.speed: the layout, precision and compilation policy, and its fallbacks."""

from __future__ import annotations

import warnings

import pytest
import torch
from conftest import make_loaders, small_net
from torch import nn

import utils
from utils import speed

CUDA, CPU = torch.device("cuda"), torch.device("cpu")


@pytest.mark.parametrize("capability, dtype, scaled", [((7, 5), torch.float16, True),   # T4
                                                       ((8, 0), torch.bfloat16, False),  # A100
                                                       ((9, 0), torch.bfloat16, False)])  # H100
def test_autocast_on_cuda_reads_the_compute_capability(monkeypatch, capability, dtype, scaled):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # as on a T4
    assert speed.autocast_dtype(CUDA, None) == dtype   # on by default on CUDA
    assert speed.autocast_dtype(CUDA, True) == dtype
    assert speed.autocast_dtype(CUDA, False) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # GradScaler warns when this machine has no CUDA
        scaler = speed.grad_scaler(CUDA, dtype)
    assert (scaler is not None) == scaled


def test_autocast_on_other_devices():
    assert speed.autocast_dtype(CPU, None) is None   # off by default on the CPU
    assert speed.autocast_dtype(CPU, True) == torch.bfloat16
    assert speed.grad_scaler(CPU, torch.bfloat16) is None
    with pytest.raises(ValueError, match="not on 'mps'"):
        speed.autocast_dtype(torch.device("mps"), True)
    assert speed.autocast_dtype(torch.device("mps"), None) is None


def test_channels_last_policy():
    narrow = small_net()
    wide = nn.Sequential(nn.Conv2d(1, speed.CPU_CHANNELS_LAST_MAX_WIDTH * 2, 3))
    dense = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    lazy = nn.Sequential(nn.LazyConv2d(8, 3))
    use = speed.use_channels_last
    assert use(narrow, CPU, None) and use(narrow, CUDA, None)
    assert not use(wide, CPU, None) and use(wide, CUDA, None)
    assert not use(narrow, torch.device("mps"), None)
    assert not use(dense, CPU, None) and not use(lazy, CPU, None)
    assert use(wide, CPU, True) and not use(narrow, CPU, False)


def test_layout_gives_the_parameters_back_contiguous():
    net = small_net()
    with speed.Layout(net, active=True) as layout:
        assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
        assert layout.input(torch.zeros(2, 3, 5, 5)).is_contiguous(
            memory_format=torch.channels_last)
    assert net[0].weight.is_contiguous()
    net[0].weight.view(4, -1)   # works again after training


class ViewNet(nn.Module):
    """Flattens with .view, which fails on a channels-last activation."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(4)
        self.fc = nn.Linear(4 * 7 * 7, 10)

    def forward(self, X):
        Y = self.pool(torch.relu(self.conv(X)))
        return self.fc(Y.view(Y.shape[0], -1))


def test_a_model_that_calls_view_falls_back_to_the_contiguous_layout(capsys):
    net = ViewNet()
    X = torch.rand(8, 3, 28, 28)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        with speed.Layout(net, active=True) as layout:
            net(layout.input(X))
    utils.seed_everything(0)
    train_iter, test_iter = make_loaders()
    rgb = [[(X.repeat(1, 3, 1, 1), y) for X, y in data] for data in (train_iter, test_iter)]
    history = utils.train(net, *rgb, 3, 0.1, plot=False, verbose=False)  # layout chosen: CL
    assert "channels-last failed (RuntimeError: view size is not compatible" in \
        capsys.readouterr().out
    assert history.last["train_loss"] < history[0]["train_loss"]
    assert net.conv.weight.is_contiguous()


def test_a_genuine_error_is_raised_as_it_is():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(10, 10))  # wrong size
    train_iter, test_iter = make_loaders()
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        utils.train(net, train_iter, test_iter, 1, 0.1, plot=False, verbose=False)


def test_a_failing_compile_falls_back_to_eager(monkeypatch, capsys):
    def broken_compile(net, *args, **kwargs):
        def run(X):
            raise RuntimeError("backend compiler failed (stand-in)")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    utils.seed_everything(0)
    train_iter, test_iter = make_loaders()
    history = utils.train(small_net(), train_iter, test_iter, 2, 0.5, plot=False,
                          verbose=False, speed=utils.Speed(compile=True))
    assert "torch.compile failed (RuntimeError: backend compiler failed" in \
        capsys.readouterr().out
    assert history.last["train_loss"] < history[0]["train_loss"]


@pytest.mark.parametrize("gpu, capability, dtype, scaled", [
    ("T4 (Colab)", (7, 5), torch.float16, True),
    ("A100", (8, 0), torch.bfloat16, False)])
def test_what_train_does_on_a_cuda_gpu(monkeypatch, gpu, capability, dtype, scaled):
    """utils.train takes its decisions from speed.plan: ask it about GPUs we lack."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # as on a T4
    decided = speed.plan(utils.lenet(), torch.device("cuda:0"))
    assert decided.autocast_dtype == dtype and decided.grad_scaling == scaled, gpu
    assert decided.channels_last and decided.non_blocking and not decided.compile
    assert not decided.hold_memory                            # the C heap is the CPU's
    assert speed.plan(utils.resnet18(), CUDA).channels_last   # 512 channels: still on CUDA
    assert speed.plan(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), CUDA).channels_last \
        is False                                              # no convolution, no layout
    off = speed.plan(utils.lenet(), CUDA, utils.Speed(amp=False, channels_last=False))
    assert off.autocast_dtype is None and not off.grad_scaling and not off.channels_last
    expected = "float16 autocast with gradient scaling" if scaled else "bfloat16 autocast"
    assert decided.describe() == f"cuda: {expected}, channels-last"


def test_what_train_does_on_a_mac_and_on_the_cpu():
    mac = speed.plan(utils.lenet(), torch.device("mps"))
    assert mac.autocast_dtype is None and not mac.grad_scaling
    assert not mac.channels_last and not mac.non_blocking and not mac.hold_memory
    assert mac.describe() == "mps: float32, contiguous layout"
    with pytest.raises(ValueError, match="not on 'mps'"):
        speed.plan(utils.lenet(), torch.device("mps"), utils.Speed(amp=True))
    cpu = speed.plan(utils.lenet(), CPU)
    assert cpu.autocast_dtype is None and cpu.channels_last and not cpu.non_blocking
    assert cpu.hold_memory
    assert not speed.plan(utils.resnet18(), CPU).channels_last   # wider than the CPU limit
    assert speed.plan(utils.lenet(), CPU, utils.Speed(amp=True)).autocast_dtype == torch.bfloat16


def test_train_follows_the_plan(monkeypatch):
    """The loop takes its precision from speed.plan, not from decisions of its own."""
    import dataclasses

    import utils.training as training

    def bfloat16_plan(net, device, chosen=None):
        return dataclasses.replace(speed.plan(net, device, chosen), autocast_dtype=torch.bfloat16)

    monkeypatch.setattr(training, "plan", bfloat16_plan)
    net, dtypes = small_net(), set()
    net[-1].register_forward_hook(lambda module, args, out: dtypes.add(out.dtype))
    train_iter, test_iter = make_loaders(n=64)
    utils.train(net, train_iter, None, 1, 0.1, plot=False, verbose=False)  # amp off by default
    assert dtypes == {torch.bfloat16}


STORM = """
import resource, sys, torch
sys.path.insert(0, {repo!r})
from utils import speed
if {hold}:
    assert speed.hold_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():   # 32 blocks of 4 MiB (activations and gradients), written, then freed
    blocks = [torch.empty(1 << 20).fill_(1.0) for _ in range(32)]
    del blocks
step()        # the first free of a block served by mmap raises glibc's thresholds
before = faults()
for _ in range(10):
    step()
print((faults() - before) / 10)
"""
# With glibc's dynamic thresholds the step's 128 MB end up at the top of the heap
# (whatever holes importing torch left, which vary from run to run) and are handed back
# when freed: 3,000 to 33,000 faults per step. With hold_freed_memory's, about 100.


def test_held_memory_is_not_faulted_in_again_every_step():
    """The pattern of a training step (allocate, touch, free) with glibc's default
    thresholds and with hold_freed_memory's, each in a fresh process."""
    import subprocess
    import sys
    from pathlib import Path

    def faults_per_step(hold: bool) -> float:
        code = STORM.format(repo=str(Path(__file__).resolve().parent.parent), hold=hold)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        return float(out.stdout)

    if not speed.hold_freed_memory():
        pytest.skip("no glibc here: hold_freed_memory does nothing")
    default, held = faults_per_step(False), faults_per_step(True)
    assert default > 1_000, f"glibc's defaults did not hand the step's memory back: {default}"
    assert held < default / 10, (default, held)


def test_hold_freed_memory_does_nothing_without_glibc(monkeypatch):
    import platform

    monkeypatch.setattr(speed, "_held", None)
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("", ""))
    assert speed.hold_freed_memory() is False
    assert speed.hold_freed_memory() is False   # decided once, kept


def test_train_holds_freed_memory_when_the_plan_says_so(monkeypatch):
    import dataclasses

    import utils.training as training

    calls = []
    monkeypatch.setattr(training, "hold_freed_memory", lambda: calls.append(1) or True)
    train_iter, _ = make_loaders(n=64)
    utils.train(small_net(), train_iter, None, 1, 0.1, plot=False, verbose=False)
    assert calls == [1]   # on the CPU; a plan that does not hold memory (a GPU's): no call

    monkeypatch.setattr(training, "plan", lambda net, device, chosen=None: dataclasses.replace(
        speed.plan(net, device, chosen), hold_memory=False))
    utils.train(small_net(), train_iter, None, 1, 0.1, plot=False, verbose=False)
    assert calls == [1]
