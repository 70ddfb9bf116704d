"""Fashion-MNIST, loaded once into device memory and batched on the device.

The IDX files are read into ``uint8`` tensors that live on the training
device. Each batch is an index into those tensors, converted to ``float32`` in
``[0, 1]`` (and resized, if asked) on the device: no per-image Python
transform, no worker processes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np
import torch
import torch.nn.functional as F

TEXT_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}
_IDX_MAGIC = {3: 2051, 1: 2049}  # images (3 dims), labels (1 dim)
_CACHE: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
# SHA-256 of each file hashed in this process, keyed on (resolved path, size,
# mtime): a file is hashed once, and again only if it changes.
_DIGESTS: dict[tuple[str, int, int], str] = {}
SUMS_FILE = "SHA256SUMS"  # `sha256sum` output that a local copy may ship


class DataError(FileNotFoundError):
    """The Fashion-MNIST files are missing, unreadable or corrupt."""


def get_fashion_mnist_labels(labels: Sequence[int] | torch.Tensor) -> list[str]:
    """Turn numeric labels into the class names of Fashion-MNIST.

    Raises:
        ValueError: a label is outside ``0..9``.
    """
    values = labels.tolist() if isinstance(labels, torch.Tensor) else list(labels)
    bad = [v for v in values if not 0 <= int(v) < len(TEXT_LABELS)]
    if bad:
        raise ValueError(f"Fashion-MNIST labels are 0..9, got {bad[:5]}")
    return [TEXT_LABELS[int(v)] for v in values]


def default_cache_dir() -> Path:
    """Where torchvision downloads to when ``CNNBOOK_DATA`` is not set."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnbook" / "data"


def _layout_help(root: Path) -> str:
    return (f"Expected {root / 'FashionMNIST' / 'raw'} to hold train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
            "(each may be .gz). Set CNNBOOK_DATA to the folder that holds FashionMNIST/ "
            "(in a clone of cnnbook next to shared/: CNNBOOK_DATA=../shared/data), or "
            "connect to the internet so that torchvision can download it.")


def read_idx(path: str | os.PathLike[str], ndim: int, count: int) -> np.ndarray:
    """Read one IDX file (optionally gzipped) and check its header and length.

    Args:
        path: the file.
        ndim: 3 for images, 1 for labels.
        count: the number of records the file must hold.

    Returns:
        A ``uint8`` array of shape ``(count, 28, 28)`` or ``(count,)``.

    Raises:
        DataError: the file is truncated, has a wrong magic number or a wrong shape.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # also gzip's "not a gzipped file" / truncation
        raise DataError(f"cannot read {path}: {err}. Delete it and download again.") from err
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, not even an IDX header. "
                        "Delete it and download again.")
    dims = np.frombuffer(raw[:header], dtype=">u4")
    magic, shape = int(dims[0]), tuple(int(d) for d in dims[1:])
    if magic != _IDX_MAGIC[ndim]:
        raise DataError(f"{path} has magic number {magic}, expected {_IDX_MAGIC[ndim]} for "
                        f"an IDX file of {ndim} dimension(s): wrong or corrupt file.")
    expected_shape = (count, 28, 28) if ndim == 3 else (count,)
    if shape != expected_shape:
        raise DataError(f"{path} declares shape {shape}, expected {expected_shape}.")
    size = int(np.prod(shape))
    if len(raw) != header + size:
        raise DataError(f"{path} holds {len(raw) - header} data bytes, expected {size}: "
                        "the file is truncated or has extra bytes. Delete it and "
                        "download again.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(raw_dir: Path, name: str) -> Path | None:
    for candidate in (raw_dir / name, raw_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, in hex, computed once per file and process.

    The result is cached on the resolved path, size and modification time, so a
    second call for an unchanged file costs a ``stat``; a changed file is hashed again.
    """
    path = Path(path).resolve()
    info = path.stat()
    key = (str(path), info.st_size, info.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def read_sums(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a ``SHA256SUMS`` file (``sha256sum`` output) into ``{relative path: digest}``.

    Raises:
        DataError: a line is not ``<64 hex digits>  <file name>``.
    """
    path = Path(path)
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().removeprefix("*")  # "*name": sha256sum's binary mode
        if len(digest) != 64 or not name or any(c not in "0123456789abcdefABCDEF"
                                                for c in digest):
            raise DataError(f"{path}, line {number}, is not '<sha256>  <file>': {line!r}. "
                            "Regenerate it with sha256sum.")
        sums[name] = digest.lower()
    return sums


def verify_file(path: str | os.PathLike[str]) -> bool:
    """Check a data file against the ``SHA256SUMS`` of its copy, when the copy ships one.

    The sums file is looked for in the file's folder (``raw/``) and the one above it
    (``FashionMNIST/``); its names are relative to its own folder. Hashing happens
    once per file and process (:func:`file_sha256`).

    Returns:
        Whether the file was checked (``False``: no sums file lists it).

    Raises:
        DataError: the file's SHA-256 differs from the listed one; the message names
            the file and both digests.
    """
    path = Path(path)
    for folder in (path.parent, path.parent.parent):
        sums_path = folder / SUMS_FILE
        if not sums_path.is_file():
            continue
        expected = read_sums(sums_path).get(path.relative_to(folder).as_posix())
        if expected is None:
            continue
        actual = file_sha256(path)
        if actual != expected:
            raise DataError(f"{path} is corrupt or not the file that {sums_path} lists: "
                            f"its SHA-256 is {actual}, expected {expected}. Copy it again "
                            "from the original data (or download it again).")
        return True
    return False


def _download_mismatches(raw_dir: Path) -> list[str]:
    """Downloaded archives whose md5 differs from torchvision's official one."""
    from torchvision.datasets import FashionMNIST
    from torchvision.datasets.utils import calculate_md5

    found = []
    for name, md5 in FashionMNIST.resources:
        path = raw_dir / name
        if path.is_file() and (actual := calculate_md5(path)) != md5:
            found.append(f"{path} has md5 {actual}, expected {md5} (the official checksum)")
    return found


def _download(root: Path) -> None:
    try:
        import torchvision
    except ImportError as err:  # pragma: no cover - torchvision is a requirement
        raise DataError("torchvision is needed to download Fashion-MNIST: "
                        "pip install torchvision, or " + _layout_help(root)) from err
    for train in (True, False):
        try:
            torchvision.datasets.FashionMNIST(root=str(root), train=train, download=True)
        except Exception as err:  # network errors come in many types
            # torchvision checks each download's md5 and says only "File not found or
            # corrupted": name the file and both checksums instead.
            bad = _download_mismatches(root / "FashionMNIST" / "raw")
            if bad:
                raise DataError(f"downloading Fashion-MNIST into {root} failed: "
                                + "; ".join(bad) + ". The download is corrupt or "
                                "incomplete: run again (torchvision fetches a file again "
                                "while its md5 is wrong), or " + _layout_help(root)) from err
            raise DataError(f"downloading Fashion-MNIST into {root} failed "
                            f"({type(err).__name__}: {err}). " + _layout_help(root)) from err


def resolve_data_root(root: str | os.PathLike[str] | None = None) -> tuple[Path, bool]:
    """Pick the data root: the argument, else ``CNNBOOK_DATA``, else the cache.

    Returns:
        The root and whether downloading into it is allowed (only for the cache).
    """
    if root is not None:
        return Path(root).expanduser(), False
    env = os.environ.get("CNNBOOK_DATA", "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_absolute() and not path.exists():
            # A notebook's working directory is its own folder, so a path such as
            # ../shared/data that was meant relative to the repository is tried there.
            repo_relative = Path(__file__).resolve().parent.parent / path
            if repo_relative.exists():
                return repo_relative.resolve(), False
        return path, False
    return default_cache_dir(), True


def read_fashion_mnist(split: str, root: str | os.PathLike[str] | None = None,
                       download: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one split into CPU tensors: images ``(n, 28, 28)`` uint8, labels ``(n,)`` int64.

    Args:
        split: ``"train"`` or ``"test"``.
        root: folder that holds ``FashionMNIST/``; default: ``CNNBOOK_DATA``, else
            a cache folder that torchvision downloads into.
        download: allow downloading when files are missing (default: only for the cache).

    Raises:
        ValueError: unknown split.
        DataError: files missing (and not downloadable), truncated or corrupt, or
            different from the ``SHA256SUMS`` that the copy ships (:func:`verify_file`;
            checked once per file and process).
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    base, may_download = resolve_data_root(root)
    if download is not None:
        may_download = download
    raw_dir = base / "FashionMNIST" / "raw"
    key = (str(raw_dir.resolve()), split)
    if key in _CACHE:
        return _CACHE[key]
    image_name, label_name, count = _FILES[split]
    paths = [_find(raw_dir, image_name), _find(raw_dir, label_name)]
    if None in paths and may_download:
        _download(base)
        paths = [_find(raw_dir, image_name), _find(raw_dir, label_name)]
    if None in paths:
        missing = image_name if paths[0] is None else label_name
        where = (f"CNNBOOK_DATA={os.environ['CNNBOOK_DATA']}"
                 if root is None and os.environ.get("CNNBOOK_DATA") else str(base))
        raise DataError(f"no Fashion-MNIST file {missing}(.gz) under {where}. "
                        + _layout_help(base))
    images = torch.from_numpy(read_idx(paths[0], 3, count).copy())
    labels = torch.from_numpy(read_idx(paths[1], 1, count).astype(np.int64))
    for path in paths:  # readable files of the right shape: now their exact bytes
        verify_file(path)  # against the copy's SHA256SUMS, when it ships one
    _CACHE[key] = (images, labels)
    return images, labels


class DeviceLoader:
    """Minibatches of ``(X, y)`` drawn from tensors that already sit on a device.

    ``X`` is ``float32`` of shape ``(batch, 1, side, side)`` with values in
    ``[0, 1]``; ``y`` is ``int64`` of shape ``(batch,)``. With ``shuffle=True``
    each pass uses a new permutation from a seeded generator, so two runs with
    the same seed see the same batches.

    For data-parallel training (chapter 11) give every process its ``rank`` and
    the ``world_size``: each pass draws the same permutation on every rank (same
    ``seed``) and rank ``r`` takes its positions ``r, r + world_size, ...``, as
    ``torch.utils.data.DistributedSampler`` does, but on the device and without
    padding. The shards of one pass are disjoint and their union is the data. The
    ``k``-th batches of all ranks together are the ``k``-th batch of size
    ``batch_size * world_size`` that one process with the same seed would draw.
    With ``drop_last=True`` the last incomplete *global* batch is dropped, so every
    rank takes the same number of full batches (what ``DistributedDataParallel``
    needs: a rank with one batch more would wait for the others forever).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 shuffle: bool = False, resize: int | None = None, seed: int = 0,
                 drop_last: bool = False, rank: int = 0, world_size: int = 1) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        check_shard(rank, world_size, int(images.shape[0]))
        if resize is not None and resize <= 0:
            raise ValueError(f"resize must be a positive side length or None, got {resize}")
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.resize = batch_size, shuffle, resize
        self.drop_last = drop_last
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def device(self) -> torch.device:
        """The device the data (and every batch) lives on."""
        return self.images.device

    @property
    def num_examples(self) -> int:
        """Number of examples this rank sees in one pass (all of them for one process),
        before ``drop_last``."""
        return len(range(self.rank, int(self.images.shape[0]), self.world_size))

    def _stop(self) -> int:
        """End of the positions of one pass: with ``drop_last``, whole global batches."""
        n, step = int(self.images.shape[0]), self.batch_size * self.world_size
        return n - n % step if self.drop_last else n

    def reseed(self, seed: int) -> DeviceLoader:
        """Restart the shuffling from ``seed``: the next passes repeat those of any
        loader over the same data reseeded with the same ``seed``. Returns ``self``."""
        self.generator.manual_seed(seed)
        return self

    def __len__(self) -> int:
        n, b = len(range(self.rank, self._stop(), self.world_size)), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def to_float(self, images: torch.Tensor) -> torch.Tensor:
        """Turn a ``uint8`` batch ``(b, 28, 28)`` into the float input of a network."""
        X = images.unsqueeze(1).float().div_(255.0)
        if self.resize is not None and self.resize != X.shape[-1]:
            X = F.interpolate(X, size=(self.resize, self.resize), mode="bilinear",
                              align_corners=False)
        return X

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, stop = int(self.images.shape[0]), self._stop()
        if self.shuffle:
            order: torch.Tensor | None = torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n) if self.world_size > 1 else None
        if order is not None:
            # Every rank draws the same permutation and keeps its own positions.
            order = order[self.rank:stop:self.world_size].to(self.device)
            stop = order.shape[0]
        for start in range(0, stop, self.batch_size):
            if order is None:
                images = self.images[start:start + self.batch_size]
                y = self.labels[start:start + self.batch_size]
            else:
                # index_select copies whole rows; images[idx] (advanced indexing) is
                # several times slower for uint8 images on the CPU.
                idx = order[start:start + self.batch_size]
                images = self.images.index_select(0, idx)
                y = self.labels.index_select(0, idx)
            yield self.to_float(images), y

    def __repr__(self) -> str:
        side = 28 if self.resize is None else self.resize
        shard = ("" if self.world_size == 1
                 else f"rank {self.rank} of {self.world_size}, ")
        return (f"DeviceLoader({self.num_examples} examples, {shard}"
                f"batch_size={self.batch_size}, "
                f"{len(self)} batches, shuffle={self.shuffle}, input {side}x{side}, "
                f"device={self.device.type})")


def check_shard(rank: int, world_size: int, num_examples: int) -> None:
    """Check that ``rank`` of ``world_size`` processes can be given a shard of the data.

    Args:
        rank: this process's index, ``0 <= rank < world_size``.
        world_size: number of processes that share the data.
        num_examples: size of the data to be shared.

    Raises:
        ValueError: ``world_size`` below 1, ``rank`` outside ``[0, world_size)``, or
            more processes than examples (some rank would get no data).
    """
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be between 0 and world_size - 1 = {world_size - 1}, "
                         f"got rank {rank}; pass each process its own rank "
                         "(torchrun sets RANK and WORLD_SIZE)")
    if world_size > num_examples:
        raise ValueError(f"world_size {world_size} is larger than the data "
                         f"({num_examples} examples): some rank would get no example; "
                         "use fewer processes or more data")


def _subset(images: torch.Tensor, labels: torch.Tensor, size: int | None, what: str,
            seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = images.shape[0]
    if size is None:
        return images, labels
    if not 0 < size <= n:
        raise ValueError(f"{what} must be between 1 and {n} (the {what.split('_')[0]} "
                         f"split has {n} images), got {size}")
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size]
    return images[idx], labels[idx]


@overload
def load_fashion_mnist(batch_size: int, resize: int | None = None, *,
                       root: str | os.PathLike[str] | None = None,
                       device: torch.device | str | None = None,
                       train_size: int | None = None, test_size: int | None = None,
                       val_size: None = None,
                       seed: int = 0, rank: int = 0, world_size: int = 1,
                       drop_last: bool = False) -> tuple[DeviceLoader, DeviceLoader]: ...


@overload
def load_fashion_mnist(batch_size: int, resize: int | None = None, *,
                       root: str | os.PathLike[str] | None = None,
                       device: torch.device | str | None = None,
                       train_size: int | None = None, test_size: int | None = None,
                       val_size: int,
                       seed: int = 0, rank: int = 0, world_size: int = 1,
                       drop_last: bool = False
                       ) -> tuple[DeviceLoader, DeviceLoader, DeviceLoader]: ...


def load_fashion_mnist(batch_size: int, resize: int | None = None, *,
                       root: str | os.PathLike[str] | None = None,
                       device: torch.device | str | None = None,
                       train_size: int | None = None, test_size: int | None = None,
                       val_size: int | None = None,
                       seed: int = 0, rank: int = 0, world_size: int = 1,
                       drop_last: bool = False) -> tuple[DeviceLoader, ...]:
    """Load Fashion-MNIST onto ``device``: ``(train_iter, test_iter)``, or with
    ``val_size`` ``(train_iter, val_iter, test_iter)``.

    The validation set is carved out of the 60,000 training images first (a
    seeded random choice of ``val_size`` of them); ``train_size`` then draws from
    the rest, so the two never share an image. Choose settings (learning rate,
    width, epochs) by validation accuracy, and score the test set once, for the
    report.

    Args:
        batch_size: examples per batch (the last batch may be smaller).
        resize: resize the 28x28 images to ``resize x resize`` (on the device).
        root: folder holding ``FashionMNIST/``; default ``CNNBOOK_DATA``, else a
            cache folder that torchvision downloads into.
        device: where the data lives (default: the CPU).
        train_size: use a random subset of this many training images (default:
            all that the validation set leaves).
        test_size: use a random subset of this many test images.
        val_size: hold out this many training images as a validation set.
        seed: seeds the split, the subsets and the shuffling of the training set
            (reseed the training loader to vary only the order:
            :meth:`DeviceLoader.reseed`).
        rank: this process's index among ``world_size`` data-parallel processes:
            the training loader yields only this rank's shard of every pass (same
            permutation on every rank, disjoint shards; see :class:`DeviceLoader`).
            The validation and test loaders are whole, for evaluating on one rank.
        world_size: number of data-parallel processes (1: no sharding).
        drop_last: drop the training loader's last incomplete (global) batch, so
            that every rank takes the same number of steps.

    Returns:
        :class:`DeviceLoader` objects; the training one reshuffles every pass.

    Raises:
        ValueError: non-positive ``batch_size``, ``resize`` or ``val_size``, a
            subset larger than what its split has left; a ``rank`` outside
            ``[0, world_size)`` or more processes than training examples.
        DataError: the data cannot be found, downloaded or read.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if resize is not None and resize <= 0:
        raise ValueError(f"resize must be a positive side length or None, got {resize}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    images, labels = read_fashion_mnist("train", root)
    parts: list[tuple[torch.Tensor, torch.Tensor, bool]]
    if val_size is not None:
        n = images.shape[0]
        if not 0 < val_size < n:
            raise ValueError(f"val_size must be between 1 and {n - 1} (the training split "
                             f"has {n} images and some must be left to train on), "
                             f"got {val_size}")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        held, rest = order[:val_size], order[val_size:]
        train_images, train_labels = _subset(images[rest], labels[rest], train_size,
                                             "train_size", seed)
        parts = [(train_images, train_labels, True), (images[held], labels[held], False)]
    else:
        train_images, train_labels = _subset(images, labels, train_size, "train_size", seed)
        parts = [(train_images, train_labels, True)]
    test_images, test_labels = read_fashion_mnist("test", root)
    parts.append((*_subset(test_images, test_labels, test_size, "test_size", seed), False))
    check_shard(rank, world_size, int(parts[0][0].shape[0]))
    return tuple(DeviceLoader(x.to(device), y.to(device), batch_size, shuffle=shuffle,
                              resize=resize, seed=seed,
                              drop_last=drop_last and shuffle,
                              rank=rank if shuffle else 0,
                              world_size=world_size if shuffle else 1)
                 for x, y, shuffle in parts)
