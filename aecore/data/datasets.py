"""Datasets in memory as uint8 tensors: those known by name (`idx`, checked against their
published checksums) and those a person added (`folders`).

Images: uint8 [N, H, W] grey or [N, H, W, 3] colour; labels: int64 [N], from 0.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch

from aecore.core.config import DATASETS, check_dataset_name
from aecore.core.errors import InvalidConfig
from aecore.data import folders, idx

LABEL_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion": ["T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Boot"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    "emnist-letters": list(string.ascii_uppercase),  # each letter in either case
    # torchvision's order: 0-9, A-Z, then the 11 lower-case letters unlike their capitals
    "emnist-balanced": [*string.digits, *string.ascii_uppercase, *"abdefghnqrt"],
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
         "fashion": Nouns("image", "images", "Fashion-MNIST", "a piece of clothing"),
         "kmnist": Nouns("character", "characters", "Kuzushiji-MNIST", "a Kuzushiji character"),
         "emnist-letters": Nouns("letter", "letters", "EMNIST Letters", "a letter"),
         "emnist-balanced": Nouns("character", "characters", "EMNIST Balanced",
                                  "a letter or a digit")}


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


def locate(name: str, download: bool = True) -> Path:
    """The raw folder holding a known dataset's files, downloading them if allowed."""
    if name not in idx.SOURCES:
        raise InvalidConfig(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    if (folder := idx.present(name)) is not None:
        return folder
    if not download:
        raise idx.unavailable(name, "its files were not found")
    return idx.fetch(name)


def load(name: str = "mnist", download: bool = True) -> Dataset:
    """The whole dataset in memory; shared by every caller in the process, so never mutate it."""
    if name in idx.SOURCES:
        return _load(locate(name, download), name)
    check_dataset_name(name)
    return _load_added(name, folders.stamp(name))


@functools.lru_cache(maxsize=2)
def _load(folder: Path, name: str) -> Dataset:
    train_x, train_y, test_x, test_y = idx.read(folder, name)
    return Dataset(name, train_x, train_y, test_x, test_y, LABEL_NAMES[name], NOUNS[name])


@functools.lru_cache(maxsize=2)
def _load_added(name: str, stamp: tuple) -> Dataset:
    """An added dataset, keyed by its manifest's stat: removed and added again, it reloads."""
    manifest = folders.manifest(name)
    train_x, train_y, test_x, test_y = (torch.from_numpy(a) for a in folders.arrays(name))
    return Dataset(name, train_x, train_y, test_x, test_y,
                   list(manifest.classes) or [UNLABELLED],
                   nouns(name), manifest.labelled)


def names() -> list[str]:
    """Every dataset a run can name: those known by name (downloaded when needed), then those
    added."""
    return [*DATASETS, *folders.names()]


ALWAYS_OFFERED = ("mnist", "fashion")


def offered() -> list[str]:
    """The app's picker: MNIST and Fashion-MNIST (downloaded when first used), the other known
    ones once their files are here (the Data page downloads them), then those added."""
    found = [n for n in DATASETS if n not in ALWAYS_OFFERED and idx.present(n) is not None]
    return [*ALWAYS_OFFERED, *found, *folders.names()]


class Known(NamedTuple):
    name: str
    classes: int
    train: int
    test: int
    folder: Path | None  # where its files are; None: not here yet


def known() -> list[Known]:
    """The datasets known by name and whether their files are here (a few stats each)."""
    return [Known(n, len(LABEL_NAMES[n]), *idx.SOURCES[n].counts, idx.present(n))
            for n in DATASETS]


LABELS = {"mnist": "MNIST (digits)", "fashion": "Fashion-MNIST (clothes)",
          "kmnist": "Kuzushiji-MNIST (cursive Japanese)",
          "emnist-letters": "EMNIST Letters (handwritten)",
          "emnist-balanced": "EMNIST Balanced (letters and digits)"}


def label(name: str) -> str:
    """The picker's text for a dataset."""
    return LABELS.get(name, f"{name} (your images)")


def nouns(name: str) -> Nouns:
    """What the pages call the dataset's images, without loading it."""
    return NOUNS.get(name) or Nouns("image", "images", name, "an image")


def version(name: str) -> tuple:
    """Changes when an added dataset is removed and added again; () for a built-in one."""
    return () if name in idx.SOURCES else folders.stamp(name)


def train_size(name: str) -> int:
    """Images in the training split, without loading the dataset (a progress bar's steps)."""
    if name in idx.SOURCES:
        return idx.SOURCES[name].counts[0]
    return sum(folders.manifest(name).train.values())


def classes(name: str) -> list[str]:
    """The class names, without loading the dataset ([] when it has no labels)."""
    return LABEL_NAMES[name] if name in idx.SOURCES else folders.manifest(name).classes


def image_shape(name: str) -> tuple[int, ...]:
    """An image's shape, without loading the dataset: [H, W] grey or [H, W, 3] colour."""
    return (idx.SIDE, idx.SIDE) if name in idx.SOURCES else folders.manifest(name).shape


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
