from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

import utils
from utils.data import _CACHE, _DIGESTS


def copy_raw(src: Path, dst: Path) -> Path:
    raw = dst / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (src / "FashionMNIST" / "raw").iterdir():
        if not f.name.endswith(".gz"):
            shutil.copy(f, raw / f.name)
    return raw


def test_load_shapes_dtypes_and_ranges(data_root):
    train_iter, test_iter = utils.load_fashion_mnist(1000, root=data_root)
    assert train_iter.num_examples == 60_000 and test_iter.num_examples == 10_000
    assert len(train_iter) == 60 and len(test_iter) == 10
    X, y = next(iter(train_iter))
    assert X.shape == (1000, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (1000,) and y.dtype == torch.int64
    assert 0.0 <= X.min() and X.max() <= 1.0 and X.max() > 0.5
    counts = torch.bincount(test_iter.labels, minlength=10)
    assert counts.tolist() == [1000] * 10  # every class has 1,000 test images


def test_env_variable_is_used(data_root, monkeypatch):
    monkeypatch.setenv("CNNBOOK_DATA", str(data_root))
    root, may_download = utils.data.resolve_data_root()
    assert root == data_root and not may_download


def test_subset_resize_and_seeded_shuffle(data_root):
    a, test = utils.load_fashion_mnist(32, resize=40, root=data_root, train_size=100,
                                       test_size=50, seed=3)
    b, _ = utils.load_fashion_mnist(32, resize=40, root=data_root, train_size=100,
                                    test_size=50, seed=3)
    assert a.num_examples == 100 and test.num_examples == 50
    Xa, ya = next(iter(a))
    Xb, yb = next(iter(b))
    assert Xa.shape == (32, 1, 40, 40)
    assert torch.equal(Xa, Xb) and torch.equal(ya, yb)  # same seed, same batches
    Xa2, _ = next(iter(a))  # second pass: a new permutation
    assert not torch.equal(Xa, Xa2)
    assert [len(y) for _, y in a] == [32, 32, 32, 4]
    seen = torch.cat([y for _, y in a])
    assert torch.equal(seen.sort().values, a.labels.sort().values)  # each example once


def test_gzipped_files_are_read(data_root, tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    src = data_root / "FashionMNIST" / "raw"
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with open(src / name, "rb") as f, gzip.open(raw / f"{name}.gz", "wb") as g:
            g.write(f.read())
    images, labels = utils.read_fashion_mnist("test", root=tmp_path)
    ref_images, ref_labels = utils.read_fashion_mnist("test", root=data_root)
    assert torch.equal(images, ref_images) and torch.equal(labels, ref_labels)


@pytest.mark.parametrize("kwargs, words", [
    ({"batch_size": 0}, "batch_size must be positive, got 0"),
    ({"batch_size": 8, "resize": 0}, "resize must be a positive"),
    ({"batch_size": 8, "train_size": 60_001}, "train_size must be between 1 and 60000"),
    ({"batch_size": 8, "test_size": 0}, "test_size must be between 1 and 10000"),
])
def test_bad_arguments(data_root, kwargs, words):
    with pytest.raises(ValueError, match=words):
        utils.load_fashion_mnist(root=data_root, **kwargs)


def test_missing_files_name_the_variable_and_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_DATA", str(tmp_path))
    with pytest.raises(utils.DataError) as info:
        utils.load_fashion_mnist(64)
    msg = str(info.value)
    assert "CNNBOOK_DATA" in msg and "train-images-idx3-ubyte" in msg
    assert str(tmp_path / "FashionMNIST" / "raw") in msg


def test_offline_without_data_or_cache_fails_clearly(tmp_path, monkeypatch):
    """CNNBOOK_DATA unset, empty cache, no network: torchvision's download fails."""
    monkeypatch.delenv("CNNBOOK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (simulated offline)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(utils.DataError) as info:
        utils.load_fashion_mnist(64)
    msg = str(info.value)
    assert "downloading Fashion-MNIST" in msg and "failed" in msg
    assert "Set CNNBOOK_DATA to the folder that holds FashionMNIST/" in msg


def test_download_into_the_cache_from_a_local_mirror(data_root, tmp_path, monkeypatch):
    """Colab's path: CNNBOOK_DATA unset, so torchvision downloads into the cache.

    A local HTTP server stands in for the internet, serving this copy's archives;
    torchvision's md5s are set to theirs (the copy's images are a reconstruction,
    so they differ from the official ones).
    """
    import functools
    import http.server
    import threading

    from torchvision.datasets import FashionMNIST
    from torchvision.datasets.utils import calculate_md5

    served = tmp_path / "mirror"
    served.mkdir()
    for name, _ in FashionMNIST.resources:
        shutil.copy(data_root / "FashionMNIST" / "raw" / name, served / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(FashionMNIST, "mirrors",
                            [f"http://127.0.0.1:{server.server_address[1]}/"])
        monkeypatch.setattr(FashionMNIST, "resources",
                            [(name, calculate_md5(served / name))
                             for name, _ in FashionMNIST.resources])
        monkeypatch.delenv("CNNBOOK_DATA", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        images, labels = utils.read_fashion_mnist("test")
    finally:
        server.shutdown()
        server.server_close()
    raw = tmp_path / "cache" / "cnnbook" / "data" / "FashionMNIST" / "raw"
    assert (raw / "t10k-images-idx3-ubyte").is_file()        # downloaded and extracted
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)
    reference, _ = utils.read_fashion_mnist("test", root=data_root)
    assert torch.equal(images, reference)


def test_truncated_file_is_detected(data_root, tmp_path):
    raw = copy_raw(data_root, tmp_path)
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(utils.DataError, match="truncated") as info:
        utils.read_fashion_mnist("test", root=tmp_path)
    assert str(path) in str(info.value)


def test_wrong_magic_number_is_detected(data_root, tmp_path):
    raw = copy_raw(data_root, tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    images = raw / "t10k-images-idx3-ubyte"
    labels.write_bytes(images.read_bytes()[:16] + labels.read_bytes()[16:])
    with pytest.raises(utils.DataError, match="magic number 2051") as info:
        utils.read_fashion_mnist("test", root=tmp_path)
    assert "t10k-labels-idx1-ubyte" in str(info.value)


def test_corrupt_gzip_is_detected(data_root, tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    shutil.copy(data_root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte", raw)
    with pytest.raises(utils.DataError, match="cannot read"):
        utils.read_fashion_mnist("test", root=tmp_path)


def test_unknown_split_and_labels():
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        utils.read_fashion_mnist("valid")
    assert utils.get_fashion_mnist_labels([0, 9]) == ["t-shirt", "ankle boot"]
    assert utils.get_fashion_mnist_labels(torch.tensor([1])) == ["trouser"]
    with pytest.raises(ValueError, match="labels are 0..9"):
        utils.get_fashion_mnist_labels([10])


def test_cache_is_reused(data_root):
    first = utils.read_fashion_mnist("test", root=data_root)
    again = utils.read_fashion_mnist("test", root=data_root)
    assert again[0] is first[0] and again[1] is first[1]  # the same tensors, not a re-read
    assert any(value[0] is first[0] for value in _CACHE.values())


def test_device_loader_validation():
    images = torch.zeros(10, 28, 28, dtype=torch.uint8)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        utils.DeviceLoader(images, torch.zeros(9, dtype=torch.int64), 4)
    loader = utils.DeviceLoader(images, torch.zeros(10, dtype=torch.int64), 4, drop_last=True)
    assert len(loader) == 2 and sum(len(y) for _, y in loader) == 8
    assert "10 examples" in repr(loader)


def copy_test_split_with_sums(data_root: Path, dst: Path) -> Path:
    """The test split's two unpacked files and the copy's SHA256SUMS (it lists all files)."""
    src = data_root / "FashionMNIST"
    if not (src / "SHA256SUMS").is_file():
        pytest.skip(f"{src} ships no SHA256SUMS")
    raw = dst / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    shutil.copy(src / "SHA256SUMS", raw.parent)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(src / "raw" / name, raw / name)
    return raw


def test_intact_copy_with_sums_is_verified(data_root, tmp_path):
    raw = copy_test_split_with_sums(data_root, tmp_path)
    images, labels = utils.read_fashion_mnist("test", root=tmp_path)
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)
    hashed = {Path(key[0]).name for key in _DIGESTS}
    assert {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} <= hashed
    assert utils.data.verify_file(raw / "t10k-labels-idx1-ubyte")  # listed, so checked


def test_corrupt_byte_names_the_file_and_both_digests(data_root, tmp_path):
    raw = copy_test_split_with_sums(data_root, tmp_path)
    path = raw / "t10k-images-idx3-ubyte"
    expected = utils.data.read_sums(raw.parent / "SHA256SUMS")["raw/t10k-images-idx3-ubyte"]
    data = bytearray(path.read_bytes())
    data[16 + 28 * 14 + 14] ^= 0xFF  # one pixel: header and length stay valid
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(data).hexdigest()
    with pytest.raises(utils.DataError) as info:
        utils.read_fashion_mnist("test", root=tmp_path)
    msg = str(info.value)
    assert str(path) in msg and expected in msg and actual in msg
    assert "SHA256SUMS" in msg


def test_each_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    path = tmp_path / "raw" / "file"
    path.parent.mkdir()
    path.write_bytes(b"cnnbook")
    (tmp_path / "SHA256SUMS").write_text(
        f"{hashlib.sha256(b'cnnbook').hexdigest()}  raw/file\n")
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(utils.data.hashlib, "sha256",
                        lambda *a: calls.append(1) or real(*a))
    for _ in range(5):
        assert utils.data.verify_file(path)
    assert len(calls) == 1
    path.write_bytes(b"changed")  # a changed file (size, mtime) is hashed again
    with pytest.raises(utils.DataError, match="expected"):
        utils.data.verify_file(path)
    assert len(calls) == 2


def test_files_the_sums_do_not_list_are_not_checked(tmp_path):
    path = tmp_path / "raw" / "file"
    path.parent.mkdir()
    path.write_bytes(b"x")
    assert not utils.data.verify_file(path)  # no sums file at all
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64} *raw/other\n")
    assert not utils.data.verify_file(path)  # a sums file that does not list it
    (path.parent / "SHA256SUMS").write_text("not a checksum line\n")
    with pytest.raises(utils.DataError, match="line 1, is not"):
        utils.data.verify_file(path)


class FakeResponse(io.BytesIO):
    """What urlopen returns, serving the same wrong bytes for every URL."""

    def __init__(self, url: str) -> None:
        super().__init__(b"not the Fashion-MNIST archive")
        self.url, self.length = url, len(self.getvalue())


def test_corrupt_download_names_the_file_and_both_md5s(tmp_path, monkeypatch):
    """torchvision rejects the download by its md5; the message is the book's."""
    monkeypatch.delenv("CNNBOOK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda request, *a, **k: FakeResponse(request.full_url))
    with pytest.raises(utils.DataError) as info:
        utils.read_fashion_mnist("test")
    msg = str(info.value)
    served = hashlib.md5(b"not the Fashion-MNIST archive").hexdigest()
    assert "train-images-idx3-ubyte.gz has md5 " + served in msg  # the first file fetched
    assert "expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d (the official checksum)" in msg
    assert "downloading Fashion-MNIST" in msg and "run again" in msg


# Sharding for data-parallel training (chapter 11).

def _shard_loaders(n: int, batch_size: int, world_size: int, **kwargs):
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1).expand(n, 28, 28).clone()
    labels = torch.arange(n)
    return [utils.DeviceLoader(images, labels, batch_size, rank=r, world_size=world_size,
                               **kwargs) for r in range(world_size)]


@pytest.mark.parametrize("n, batch_size, world_size", [(10, 2, 2), (10, 3, 3), (9, 2, 4),
                                                       (7, 5, 7), (100, 8, 3)])
def test_shards_are_disjoint_and_cover_every_epoch(n, batch_size, world_size):
    loaders = _shard_loaders(n, batch_size, world_size, shuffle=True, seed=5)
    for _ in range(3):  # every epoch, with its new permutation
        shards = [torch.cat([y for _, y in loader]) for loader in loaders]
        seen = torch.cat(shards)
        assert len(seen) == n and torch.equal(seen.sort().values, torch.arange(n))
        assert [len(s) for s in shards] == [loader.num_examples for loader in loaders]
        assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_shards_split_the_global_batches_of_one_process():
    """The k-th batches of all ranks together are one process's k-th batch of size b*ws."""
    (one,) = _shard_loaders(96, 12, 1, shuffle=True, seed=3)
    two = _shard_loaders(96, 6, 2, shuffle=True, seed=3)
    for _ in range(2):
        for (_, y), (_, y0), (_, y1) in zip(one, *two, strict=True):
            assert torch.equal(y.sort().values, torch.cat([y0, y1]).sort().values)
    # without shuffling too
    (one,) = _shard_loaders(20, 4, 1)
    two = _shard_loaders(20, 2, 2)
    for (_, y), (_, y0), (_, y1) in zip(one, *two, strict=True):
        assert torch.equal(y.sort().values, torch.cat([y0, y1]).sort().values)


def test_drop_last_gives_every_rank_the_same_number_of_full_batches():
    loaders = _shard_loaders(23, 2, 4, shuffle=True, drop_last=True)
    assert [len(loader) for loader in loaders] == [2, 2, 2, 2]
    sizes = [[len(y) for _, y in loader] for loader in loaders]
    assert sizes == [[2, 2]] * 4
    loose = _shard_loaders(9, 2, 4, shuffle=True)  # 3, 2, 2, 2 examples: uneven
    assert [len(loader) for loader in loose] == [2, 1, 1, 1]


def test_same_shuffle_on_every_rank_and_repeatable():
    a = _shard_loaders(50, 5, 2, shuffle=True, seed=1)
    b = _shard_loaders(50, 5, 2, shuffle=True, seed=1)
    for la, lb in zip(a, b, strict=True):
        assert all(torch.equal(ya, yb) for (_, ya), (_, yb) in zip(la, lb, strict=True))
    assert "rank 1 of 2" in repr(a[1])


@pytest.mark.parametrize("rank, world_size, n, words", [
    (2, 2, 10, "rank must be between 0 and world_size - 1 = 1, got rank 2"),
    (-1, 2, 10, "rank must be between 0"),
    (0, 0, 10, "world_size must be at least 1, got 0"),
    (0, 11, 10, "world_size 11 is larger than the data (10 examples)"),
])
def test_bad_shards(rank, world_size, n, words):
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    with pytest.raises(ValueError) as err:
        utils.DeviceLoader(images, torch.zeros(n, dtype=torch.long), 2, rank=rank,
                           world_size=world_size)
    assert words in str(err.value)


def test_load_fashion_mnist_shards_the_training_set_only(data_root):
    shards = [utils.load_fashion_mnist(100, root=data_root, train_size=1_000,
                                       test_size=300, rank=r, world_size=3, seed=2)
              for r in range(3)]
    (whole, _) = utils.load_fashion_mnist(100, root=data_root, train_size=1_000,
                                          test_size=300, seed=2)
    for _, test_iter in shards:
        assert test_iter.num_examples == 300 and test_iter.world_size == 1

    def keys(loader):  # an image's pixels as one integer key per image, sorted
        X = torch.cat([X.flatten(1) for X, _ in loader]).mul(255).round().long()
        return (X * torch.arange(1, 785)).sum(1).sort().values

    seen = torch.cat([keys(t) for t, _ in shards]).sort().values
    assert torch.equal(seen, keys(whole))  # the same images, split three ways
    assert sum(t.num_examples for t, _ in shards) == 1_000
    with pytest.raises(ValueError, match="world_size 1001 is larger than the data"):
        utils.load_fashion_mnist(8, root=data_root, train_size=1_000, world_size=1001)
    with pytest.raises(ValueError, match="got rank 3"):
        utils.load_fashion_mnist(8, root=data_root, train_size=1_000, rank=3, world_size=3)
