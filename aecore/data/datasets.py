"""Datasets in memory as uint8 tensors, checked against the published checksums.

Images: uint8 [N, 28, 28]; labels: int64 [N]. Train 60,000, test 10,000.
"""

from __future__ import annotations

import functools
import hashlib
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import torch

from aecore.core.config import DATASETS, TRAIN_SIZE, check_dataset_name
from aecore.core.errors import DatasetCorrupt, DatasetUnavailable, InvalidConfig
from aecore.core.paths import cache_dir, data_dirs
from aecore.data import folders

# torchvision's folder name and the md5 of each uncompressed IDX file with its size in bytes.
_IMAGES_TRAIN, _IMAGES_TEST = 47_040_016, 7_840_016
_LABELS_TRAIN, _LABELS_TEST = 60_008, 10_008
SOURCES: dict[str, tuple[str, dict[str, tuple[str, int]]]] = {
    "mnist": ("MNIST", {
        "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", _IMAGES_TRAIN),
        "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", _LABELS_TRAIN),
        "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", _IMAGES_TEST),
        "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", _LABELS_TEST),
    }),
    "fashion": ("FashionMNIST", {
        "train-images-idx3-ubyte": ("f4a8712d7a061bf5bd6d2ca38dc4d50a", _IMAGES_TRAIN),
        "train-labels-idx1-ubyte": ("9018921c3c673c538a1fc5bad174d6f9", _LABELS_TRAIN),
        "t10k-images-idx3-ubyte": ("8181f5470baa50b63fa0f6fddb340f0a", _IMAGES_TEST),
        "t10k-labels-idx1-ubyte": ("15d484375f8d13e6eb1aabb0c3f46965", _LABELS_TEST),
    }),
}
LABEL_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion": ["T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Boot"],
}


class Nouns(NamedTuple):
    """What the pages call a dataset's images, and the dataset in a sentence."""
    one: str
    many: str
    name: str
    drawn: str  # what the Draw page asks for

    @property
    def with_article(self) -> str:
        return f"{'an' if self.one[0] in 'aeiou' else 'a'} {self.one}"


UNLABELLED = "unlabelled"
NOUNS = {"mnist": Nouns("digit", "digits", "MNIST", "a digit"),
         "fashion": Nouns("image", "images", "Fashion-MNIST", "a piece of clothing")}


@dataclass(frozen=True)
class Dataset:
    name: str
    train_x: torch.Tensor  # uint8 [60000, 28, 28] (an added one: [N, s, s] or [N, s, s, 3])
    train_y: torch.Tensor  # int64 [60000]
    test_x: torch.Tensor   # uint8 [10000, 28, 28]
    test_y: torch.Tensor   # int64 [10000]
    label_names: list[str] = field(default_factory=lambda: LABEL_NAMES["mnist"])
    nouns: Nouns = field(default_factory=lambda: NOUNS["mnist"])
    labelled: bool = True  # an unlabelled one has every label 0 and one name

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    @property
    def drawable(self) -> bool:
        """Grey 28x28 like MNIST: what Draw's canvas makes."""
        return self.image_shape == (28, 28)


def raw_folder(root: Path, name: str) -> Path:
    return root / SOURCES[name][0] / "raw"


def check_file(path: Path, md5: str, size: int) -> None:
    """Refuse a truncated or altered IDX file before anything parses it."""
    actual = path.stat().st_size
    if actual != size:
        raise DatasetCorrupt(f"{path} has {actual} bytes, expected {size}: it is truncated or "
                             "not the original file; delete it and load again")
    digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    if digest != md5:
        raise DatasetCorrupt(f"{path} has md5 {digest}, expected {md5}: the file is altered; "
                             "delete it and load again")


def _complete(folder: Path, name: str) -> bool:
    return all((folder / f).is_file() for f in SOURCES[name][1])


def _reachable(urls: list[str], timeout: float = 5.0) -> bool:
    """Whether any mirror answers a TCP connection: offline, the error comes alone, at once."""
    for url in urls:
        parsed = urlsplit(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            return True
        except OSError:
            continue
    return False


def _download(name: str, root: Path) -> None:
    """torchvision's own mirrors and progress bar; any failure becomes DatasetUnavailable."""
    from torchvision import datasets

    cls = {"mnist": datasets.MNIST, "fashion": datasets.FashionMNIST}[name]
    if not _reachable(cls.mirrors):
        hosts = ", ".join(urlsplit(u).hostname or u for u in cls.mirrors)
        raise unavailable(name, f"no download mirror answers ({hosts}): this machine "
                                "seems offline")
    print(f"downloading {SOURCES[name][0]} into {root} ...", file=sys.stderr)
    try:
        for train in (True, False):
            cls(root=str(root), train=train, download=True)
    except (OSError, RuntimeError) as exc:
        raise unavailable(name, f"the download failed ({type(exc).__name__})") from exc


def unavailable(name: str, why: str) -> DatasetUnavailable:
    folder, files = SOURCES[name]
    searched = " or ".join(str(raw_folder(d, name)) for d in data_dirs())
    return DatasetUnavailable(
        f"{folder} is not available: {why}. Put the four files {', '.join(files)} in "
        f"{searched}, or set AECORE_DATA_DIR to a folder holding {folder}/raw/ with them")


def locate(name: str, download: bool = True) -> Path:
    """The raw folder holding the dataset's four IDX files, downloading them if allowed."""
    if name not in SOURCES:
        raise InvalidConfig(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    for root in data_dirs():
        if _complete(raw_folder(root, name), name):
            return raw_folder(root, name)
    if not download:
        raise unavailable(name, "its files were not found")
    target = cache_dir() / "data"
    target.mkdir(parents=True, exist_ok=True)
    _download(name, target)
    if not _complete(raw_folder(target, name), name):
        raise unavailable(name, "the download left files missing")
    return raw_folder(target, name)


def _read(folder: Path, name: str, file: str) -> torch.Tensor:
    from torchvision.datasets.mnist import read_image_file, read_label_file

    md5, size = SOURCES[name][1][file]
    path = folder / file
    check_file(path, md5, size)
    reader = read_image_file if "images" in file else read_label_file
    return reader(str(path))


def load(name: str = "mnist", download: bool = True) -> Dataset:
    """The whole dataset in memory; shared by every caller in the process, so never mutate it."""
    if name in SOURCES:
        return _load(locate(name, download), name)
    check_dataset_name(name)
    return _load_added(name, folders.stamp(name))


@functools.lru_cache(maxsize=2)
def _load(folder: Path, name: str) -> Dataset:
    parts = [_read(folder, name, f) for f in SOURCES[name][1]]
    return Dataset(name, parts[0], parts[1].long(), parts[2], parts[3].long(),
                   LABEL_NAMES[name], NOUNS[name])


@functools.lru_cache(maxsize=2)
def _load_added(name: str, stamp: tuple) -> Dataset:
    """An added dataset, keyed by its manifest's stat: removed and added again, it reloads."""
    manifest = folders.manifest(name)
    train_x, train_y, test_x, test_y = (torch.from_numpy(a) for a in folders.arrays(name))
    return Dataset(name, train_x, train_y, test_x, test_y,
                   list(manifest.classes) or [UNLABELLED],
                   nouns(name), manifest.labelled)


def names() -> list[str]:
    """Every dataset a run can name: the built-in ones, then those added."""
    return [*DATASETS, *folders.names()]


def nouns(name: str) -> Nouns:
    """What the pages call the dataset's images, without loading it."""
    return NOUNS.get(name) or Nouns("image", "images", name, "an image")


def version(name: str) -> tuple:
    """Changes when an added dataset is removed and added again; () for a built-in one."""
    return () if name in SOURCES else folders.stamp(name)


def train_size(name: str) -> int:
    """Images in the training split, without loading the dataset (a progress bar's steps)."""
    return TRAIN_SIZE if name in SOURCES else sum(folders.manifest(name).train.values())


def classes(name: str) -> list[str]:
    """The class names, without loading the dataset ([] when it has no labels)."""
    return LABEL_NAMES[name] if name in SOURCES else folders.manifest(name).classes


def image_shape(name: str) -> tuple[int, ...]:
    """An image's shape, without loading the dataset: [H, W] grey or [H, W, 3] colour."""
    return (28, 28) if name in SOURCES else folders.manifest(name).shape


def bars(n_train: int = 600, n_test: int = 200, seed: int = 0, name: str = "mnist") -> Dataset:
    """A tiny synthetic stand-in, served under `name`: ten classes of 28x28 uint8 images, class
    c a bright bar at a class-specific place (rows for even c, columns for odd), jittered by a
    pixel over faint noise. An autoencoder learns it in a few epochs and a head separates it,
    so smoke runs (`aecore-bench --smoke`) and the unit tests exercise every stage in seconds."""
    gen = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(n) % 10
        images = torch.rand(n, 28, 28, generator=gen) * 40
        shift = torch.randint(-1, 2, (n,), generator=gen)
        for i, (c, s) in enumerate(zip(labels.tolist(), shift.tolist(), strict=True)):
            row = 4 + 2 * c + s
            if c % 2:
                images[i, 4:24, row:row + 3] = 255
            else:
                images[i, row:row + 3, 4:24] = 255
        return images.to(torch.uint8), labels

    train_x, train_y = split(n_train)
    test_x, test_y = split(n_test)
    return Dataset(name, train_x, train_y, test_x, test_y,
                   LABEL_NAMES.get(name, LABEL_NAMES["mnist"]), NOUNS.get(name, NOUNS["mnist"]))
