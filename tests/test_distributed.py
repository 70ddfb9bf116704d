"""scripts/train_ddp.py: its checks and the torchrun command it builds (no processes start)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import train_ddp  # noqa: E402


def test_per_process_batch_splits_the_global_batch():
    assert train_ddp.per_process_batch(64, 2) == 32
    assert train_ddp.per_process_batch(3, 3) == 1


@pytest.mark.parametrize("batch, world, words", [
    (1, 2, "per-process batch of 0 (< 1)"),
    (0, 1, "per-process batch of 0 (< 1)"),
    (10, 4, "does not split evenly over 4 processes"),
])
def test_per_process_batch_refuses(batch, world, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        train_ddp.per_process_batch(batch, world)


def test_check_port_names_a_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"port {port} on 127.0.0.1 is already in use"):
            train_ddp.check_port(port)
    train_ddp.check_port(port)  # free again


def test_torchrun_command_binds_to_localhost():
    cmd = train_ddp.torchrun_command(2, ["--steps", "3"])
    assert cmd[1:3] == ["-m", "torch.distributed.run"]
    assert "--standalone" in cmd and "--nproc_per_node=2" in cmd
    assert "--local-addr=127.0.0.1" in cmd and cmd[-2:] == ["--steps", "3"]
    fixed = train_ddp.torchrun_command(2, [], port=29511)
    assert "--rdzv-endpoint=127.0.0.1:29511" in fixed and "--standalone" not in fixed


def test_launch_refuses_a_port_in_use_before_starting(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(OSError, match="already in use"):
            train_ddp.launch(2, tmp_path, port=busy.getsockname()[1])
    assert not list(tmp_path.iterdir())  # nothing ran


def test_main_without_torchrun_says_how_to_start(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("RANK", raising=False)
    assert train_ddp.main(["--out", str(tmp_path)]) == 2
    assert "start this script with torchrun" in capsys.readouterr().err


def test_two_processes_train_and_a_failing_rank_ends_the_job(tmp_path, data_root,
                                                              monkeypatch):
    monkeypatch.setenv("CNNBOOK_DATA", str(data_root))
    args = ["--steps", "3", "--batch-size", "8", "--train-size", "64", "--test-size", "32"]
    result = train_ddp.launch(2, tmp_path / "ok", args, timeout=240)
    assert result["world_size"] == 2 and result["per_process_batch"] == 4
    assert len(result["losses"]) == 3 and (tmp_path / "ok" / "checkpoint.pt").is_file()
    with pytest.raises(train_ddp.JobFailed, match="rank 1 of 2 failed: RuntimeError"):
        train_ddp.launch(2, tmp_path / "fail", [*args, "--fail-rank", "1", "--fail-step", "1"],
                         timeout=240)
    with pytest.raises(train_ddp.JobFailed, match="world_size 2 is larger than the data"):
        train_ddp.launch(2, tmp_path / "small", [*args[:4], "--train-size", "1"], timeout=240)
