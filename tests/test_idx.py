"""KMNIST and EMNIST by name, on small stand-ins in their published formats (KMNIST's four
`.gz` files, NIST's `gzip.zip` of `.gz` members), whose md5s replace the published ones: read
from the archives, checked, refused when altered or oversized, downloaded from a local mirror
through torchvision, and trained on."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import os
import struct
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from aecore.core.config import TrainConfig
from aecore.core.errors import DatasetCorrupt, DatasetUnavailable
from aecore.data import datasets, idx
from aecore.runs import pipeline
from tests.support import train_tiny

COUNTS = (130, 52)  # a multiple of 26 and of 10 would do; these are neither, on purpose


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape) + \
        array.astype(np.uint8).tobytes()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclasses.dataclass
class Standins:
    images: list[np.ndarray]  # upright: train, test
    labels: list[np.ndarray]  # from 0: train, test
    kmnist: dict[str, bytes]  # file name -> bytes
    emnist: bytes             # gzip.zip


def make_standins() -> Standins:
    data = datasets.bars(*COUNTS, seed=3)
    images = [data.train_x.numpy(), data.test_x.numpy()]
    images[0][:, 0, :5] = 200  # a mark in the first row: transposed, it would be a column
    labels = [np.arange(n) % 26 for n in COUNTS]
    kmnist = {}
    for prefix, x, y in zip(("train", "t10k"), images, labels, strict=True):
        kmnist[f"{prefix}-images-idx3-ubyte.gz"] = gz(idx_bytes(x))
        kmnist[f"{prefix}-labels-idx1-ubyte.gz"] = gz(idx_bytes(y % 10))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for split, first in (("letters", 1), ("balanced", 0)):
            for part, x, y in zip(("train", "test"), images, labels, strict=True):
                z.writestr(f"gzip/emnist-{split}-{part}-images-idx3-ubyte.gz",
                           gz(idx_bytes(x.transpose(0, 2, 1))))
                z.writestr(f"gzip/emnist-{split}-{part}-labels-idx1-ubyte.gz",
                           gz(idx_bytes(y + first)))
    return Standins(images, labels, kmnist, buffer.getvalue())


def trust(monkeypatch, standins: Standins) -> None:
    """The stand-ins' md5s and counts in place of the published ones."""
    sources = dict(idx.SOURCES)
    k = sources["kmnist"]
    sources["kmnist"] = dataclasses.replace(
        k, counts=COUNTS, files={f: (md5(standins.kmnist[f]), None) for f in k.files})
    for name in ("emnist-letters", "emnist-balanced"):
        sources[name] = dataclasses.replace(sources[name], counts=COUNTS,
                                            files={"gzip.zip": (md5(standins.emnist), None)})
    monkeypatch.setattr(idx, "SOURCES", sources)


def write(root: Path, standins: Standins) -> None:
    (root / "KMNIST" / "raw").mkdir(parents=True)
    for file, data in standins.kmnist.items():
        (root / "KMNIST" / "raw" / file).write_bytes(data)
    (root / "EMNIST" / "raw").mkdir(parents=True)
    (root / "EMNIST" / "raw" / "gzip.zip").write_bytes(standins.emnist)


@pytest.fixture(scope="module")
def standins() -> Standins:
    return make_standins()


@pytest.fixture
def here(cache, tmp_path, monkeypatch, standins) -> Path:
    """The stand-ins in AECORE_DATA_DIR, trusted."""
    root = tmp_path / "data"
    write(root, standins)
    monkeypatch.setenv("AECORE_DATA_DIR", str(root))
    trust(monkeypatch, standins)
    return root


def test_read_from_their_archives(here, standins):
    kmnist = datasets.load("kmnist", download=False)
    assert kmnist.train_x.shape == (COUNTS[0], 28, 28) and kmnist.test_x.shape[0] == COUNTS[1]
    assert np.array_equal(kmnist.train_x.numpy(), standins.images[0])
    assert kmnist.label_names[:3] == ["o", "ki", "su"] and kmnist.nouns.one == "character"
    letters = datasets.load("emnist-letters", download=False)
    assert np.array_equal(letters.train_x.numpy(), standins.images[0]), "not upright"
    assert np.array_equal(letters.train_y.numpy(), standins.labels[0]), "labels not from 0"
    assert letters.label_names[0] == "A" and len(letters.label_names) == 26
    balanced = datasets.load("emnist-balanced", download=False)
    assert np.array_equal(balanced.test_y.numpy(), standins.labels[1])
    assert len(balanced.label_names) == 47 and balanced.label_names[36] == "a"
    assert datasets.train_size("emnist-letters") == COUNTS[0]


def test_offered_once_their_files_are_here(cache, tmp_path, monkeypatch, standins):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "data"))
    assert datasets.offered() == ["mnist", "fashion"]
    write(tmp_path / "data", standins)
    assert datasets.offered() == ["mnist", "fashion", "kmnist", "emnist-letters",
                                  "emnist-balanced"]
    assert [k.folder is not None for k in datasets.known()] == [False, False, True, True, True]


def test_an_altered_archive_is_refused(here):
    path = here / "EMNIST" / "raw" / "gzip.zip"
    data = bytearray(path.read_bytes())
    data[-30] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetCorrupt, match="md5 .* the file is altered"):
        datasets.load("emnist-letters", download=False)


def test_more_images_than_published_are_refused(here, monkeypatch, standins):
    """A trusted archive that decompresses past its count stops there: it is no bomb."""
    big = gz(idx_bytes(np.zeros((COUNTS[1] * 50, 28, 28), np.uint8)))
    (here / "KMNIST" / "raw" / "t10k-images-idx3-ubyte.gz").write_bytes(big)
    standins = dataclasses.replace(standins, kmnist={**standins.kmnist,
                                                     "t10k-images-idx3-ubyte.gz": big})
    trust(monkeypatch, standins)
    with pytest.raises(DatasetCorrupt, match="not the IDX file of 52 images"):
        datasets.load("kmnist", download=False)


def test_absent_names_the_files_and_where(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetUnavailable) as info:
        datasets.load("emnist-balanced", download=False)
    assert "gzip.zip" in str(info.value)
    assert str(tmp_path / "nowhere" / "EMNIST" / "raw") in str(info.value)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that closes early (torchvision's redirect check) is no failure


@pytest.fixture
def mirror(tmp_path, standins):
    served = tmp_path / "mirror"
    served.mkdir()
    for file, data in standins.kmnist.items():
        (served / file).write_bytes(data)
    (served / "gzip.zip").write_bytes(standins.emnist)
    handler = functools.partial(Quiet, directory=str(served))
    server = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_downloaded_through_torchvision_from_a_mirror(cache, tmp_path, monkeypatch, standins,
                                                      mirror):
    from torchvision import datasets as tv

    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "nowhere"))
    trust(monkeypatch, standins)
    killed = cache / "data" / "KMNIST" / "raw" / f"{idx.DOWNLOAD_PREFIX}killed"
    killed.mkdir(parents=True)
    os.utime(killed, (time.time() - 2 * idx.STALE_DOWNLOAD_SECONDS,) * 2)
    monkeypatch.setattr(tv.KMNIST, "mirrors", [mirror])
    monkeypatch.setattr(tv.KMNIST, "resources",
                        [(f, md5(d)) for f, d in standins.kmnist.items()])
    monkeypatch.setattr(tv.EMNIST, "url", f"{mirror}gzip.zip")
    monkeypatch.setattr(tv.EMNIST, "md5", md5(standins.emnist))
    assert np.array_equal(datasets.load("kmnist").test_x.numpy(), standins.images[1])
    assert np.array_equal(datasets.load("emnist-letters").test_y.numpy(), standins.labels[1])
    raw = cache / "data"
    assert sorted(p.name for p in (raw / "KMNIST" / "raw").iterdir()) == sorted(standins.kmnist)
    assert [p.name for p in (raw / "EMNIST" / "raw").iterdir()] == ["gzip.zip"]
    assert "emnist-balanced" in datasets.offered()


def test_offline_is_one_message(cache, tmp_path, monkeypatch, capsys):
    from torchvision import datasets as tv

    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(tv.EMNIST, "url", "http://127.0.0.1:9/gzip.zip")
    with pytest.raises(DatasetUnavailable, match="no download mirror answers .127.0.0.1."):
        datasets.load("emnist-letters")
    assert "downloading" not in capsys.readouterr().err
    assert not (cache / "data" / "EMNIST" / "raw").exists() or \
        not any((cache / "data" / "EMNIST" / "raw").iterdir())


def test_trained_mapped_and_classified(here):
    run = train_tiny(TrainConfig(dataset="emnist-letters", latent_dim=4, epochs=1)).run
    assert run.model.shape == (28, 28)
    report = pipeline.classify(run).report
    assert len(report["confusion"]) == 26 and len(report["per_class"]) == 26
