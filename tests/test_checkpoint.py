from __future__ import annotations

import pytest
import torch
from conftest import make_loaders, small_net

import utils


class Payload:
    """An arbitrary object: unpickling it would import and run this module's code."""


def params(net):
    return [p.detach().clone() for p in net.parameters()]


def test_round_trip_with_optimizer_and_extra(tmp_path):
    net = small_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    train_iter, _ = make_loaders()
    utils.train(net, train_iter, None, 1, optimizer=opt, plot=False, verbose=False)
    path = utils.save_checkpoint(tmp_path / "ck" / "net.pt", net, opt, epoch=1)
    other = small_net()
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    extra = utils.load_checkpoint(path, other, other_opt)
    assert extra == {"epoch": 1}
    for a, b in zip(params(net), params(other)):
        assert torch.equal(a, b)
    assert other_opt.state_dict()["state"].keys() == opt.state_dict()["state"].keys()
    assert not list(tmp_path.glob("ck/*.tmp"))  # no temporary file left behind


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    """Train 2 epochs, save, load into fresh objects, train 2 more == train 4 at once."""
    def fresh():
        utils.seed_everything(0)
        net = small_net()
        return net, torch.optim.SGD(net.parameters(), lr=0.2, momentum=0.9)

    train_a, test_a = make_loaders()
    net, opt = fresh()
    full = utils.train(net, train_a, test_a, 4, optimizer=opt, plot=False, verbose=False)

    train_b, test_b = make_loaders()
    net1, opt1 = fresh()
    utils.train(net1, train_b, test_b, 2, optimizer=opt1, plot=False, verbose=False)
    utils.save_checkpoint(tmp_path / "mid.pt", net1, opt1,
                          generator=train_b.generator.get_state())
    net2, opt2 = fresh()
    extra = utils.load_checkpoint(tmp_path / "mid.pt", net2, opt2)
    train_b.generator.set_state(extra["generator"])
    rest = utils.train(net2, train_b, test_b, 2, optimizer=opt2, plot=False, verbose=False)
    assert [r["train_loss"] for r in rest] == [r["train_loss"] for r in full[2:]]
    for a, b in zip(params(net), params(net2)):
        assert torch.equal(a, b)


def test_crash_while_saving_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    net = small_net()
    path = utils.save_checkpoint(tmp_path / "net.pt", net)
    before = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        utils.save_checkpoint(path, small_net())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.pt"]


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_checkpoint_is_rejected_and_model_untouched(tmp_path, damage):
    path = utils.save_checkpoint(tmp_path / "net.pt", small_net())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage" * 50)
    net = small_net()
    before = params(net)
    with pytest.raises(utils.CheckpointError, match="not a readable checkpoint"):
        utils.load_checkpoint(path, net)
    for a, b in zip(before, params(net)):
        assert torch.equal(a, b)


def test_wrong_model_and_missing_pieces(tmp_path):
    path = utils.save_checkpoint(tmp_path / "net.pt", small_net())
    with pytest.raises(utils.CheckpointError, match="does not fit this model"):
        utils.load_checkpoint(path, utils.lenet())
    net = small_net()
    with pytest.raises(utils.CheckpointError, match="holds no optimizer state"):
        utils.load_checkpoint(path, net, torch.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(utils.CheckpointError, match="no checkpoint at"):
        utils.load_checkpoint(tmp_path / "missing.pt", net)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(utils.CheckpointError, match="not written by save_checkpoint"):
        utils.load_checkpoint(tmp_path / "other.pt", net)


def test_loading_refuses_pickled_code(tmp_path):
    """weights_only=True: a checkpoint holding arbitrary objects is refused."""
    torch.save({"model": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(utils.CheckpointError, match="not a readable checkpoint"):
        utils.load_checkpoint(tmp_path / "evil.pt", small_net())
