"""The datasets known by name, all in MNIST's IDX format: where their files go, their published
checksums, reading them without extracting anything, and fetching them with torchvision.

MNIST and Fashion-MNIST are checked file by file, uncompressed; KMNIST by its four `.gz` files
and EMNIST by NIST's one `gzip.zip`, since only those archives' md5s are published. A `.gz` or
a zip member is decompressed in memory, never past the size its header count implies.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import torch
from filelock import FileLock, Timeout

from aecore.core.errors import DatasetCorrupt, DatasetUnavailable
from aecore.core.paths import cache_dir, data_dirs

SIDE = 28
PARTS = ("train-images", "train-labels", "test-images", "test-labels")


@dataclass(frozen=True)
class Source:
    folder: str                                  # torchvision's: <data dir>/<folder>/raw/
    files: dict[str, tuple[str, int | None]]     # each file on disk -> md5 and size (None: any)
    parts: tuple[str, str, str, str]             # PARTS' files, "archive.zip/member" inside one
    counts: tuple[int, int]                      # images in train, in test
    fetcher: str                                 # torchvision's class that downloads it
    first_label: int = 0                         # EMNIST letters counts from 1
    transposed: bool = False                     # EMNIST stores each image column by column


def _mnist_like(folder: str, md5s: tuple[str, str, str, str], fetcher: str) -> Source:
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    sizes = (16 + 60_000 * SIDE * SIDE, 8 + 60_000, 16 + 10_000 * SIDE * SIDE, 8 + 10_000)
    return Source(folder, {n: (m, s) for n, m, s in zip(names, md5s, sizes, strict=True)},
                  names, (60_000, 10_000), fetcher)


def _kmnist() -> Source:
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    md5s = ("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
            "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134")
    return Source("KMNIST", {n: (m, None) for n, m in zip(names, md5s, strict=True)},
                  names, (60_000, 10_000), "KMNIST")


def _emnist(split: str, counts: tuple[int, int], first_label: int) -> Source:
    parts = tuple(f"gzip.zip/gzip/emnist-{split}-{part}-idx{3 if 'images' in part else 1}"
                  "-ubyte.gz" for part in PARTS)
    return Source("EMNIST", {"gzip.zip": ("58c8d27c78d21e728a6bc7b3cc06412e", None)},
                  parts, counts, "EMNIST", first_label, transposed=True)


SOURCES: dict[str, Source] = {
    "mnist": _mnist_like("MNIST", ("6bbc9ace898e44ae57da46a324031adb",
                                   "a25bea736e30d166cdddb491f175f624",
                                   "2646ac647ad5339dbf082846283269ea",
                                   "27ae3e4e09519cfbb04c329615203637"), "MNIST"),
    "fashion": _mnist_like("FashionMNIST", ("f4a8712d7a061bf5bd6d2ca38dc4d50a",
                                            "9018921c3c673c538a1fc5bad174d6f9",
                                            "8181f5470baa50b63fa0f6fddb340f0a",
                                            "15d484375f8d13e6eb1aabb0c3f46965"), "FashionMNIST"),
    "kmnist": _kmnist(),
    "emnist-letters": _emnist("letters", (124_800, 20_800), first_label=1),
    "emnist-balanced": _emnist("balanced", (112_800, 18_800), first_label=0),
}


def raw_folder(root: Path, name: str) -> Path:
    return root / SOURCES[name].folder / "raw"


def unavailable(name: str, why: str) -> DatasetUnavailable:
    folder, files = SOURCES[name].folder, ", ".join(SOURCES[name].files)
    searched = " or ".join(str(raw_folder(d, name)) for d in data_dirs())
    return DatasetUnavailable(
        f"{folder} is not available: {why}. Put {files} in {searched}, or set "
        f"AECORE_DATA_DIR to a folder holding {folder}/raw/ with them")


def present(name: str) -> Path | None:
    """The raw folder holding every file of the dataset, or None: a few stats, nothing read."""
    for root in data_dirs():
        folder = raw_folder(root, name)
        if all((folder / f).is_file() for f in SOURCES[name].files):
            return folder
    return None


def check_bytes(path: Path, data: bytes, md5: str, size: int | None) -> None:
    """Refuse a truncated or altered file before anything parses it."""
    if size is not None and len(data) != size:
        raise DatasetCorrupt(f"{path} has {len(data)} bytes, expected {size}: it is truncated "
                             "or not the original file; delete it and load again")
    digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if digest != md5:
        raise DatasetCorrupt(f"{path} has md5 {digest}, expected {md5}: the file is altered; "
                             "delete it and load again")


MAX_FILE_BYTES = 1 << 30  # a file of unpublished size (NIST's zip is 562 MB): read up to this


def read_checked(path: Path, md5: str, size: int | None) -> bytes:
    """The file's bytes once its size (from stat, before any read) and md5 are right."""
    actual = path.stat().st_size
    if actual != (size if size is not None else actual) or actual > MAX_FILE_BYTES:
        raise DatasetCorrupt(f"{path} has {actual} bytes, expected "
                             f"{size if size is not None else f'at most {MAX_FILE_BYTES}'}: it "
                             "is truncated or not the original file; delete it and load again")
    data = path.read_bytes()
    check_bytes(path, data, md5, size)
    return data


def check_file(path: Path, md5: str, size: int | None) -> None:
    read_checked(path, md5, size)


def _dims(name: str, part: str) -> tuple[int, ...]:
    n = SOURCES[name].counts[part.startswith("test")]
    return (n, SIDE, SIDE) if part.endswith("images") else (n,)


def _expected_bytes(dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        n *= d
    return 4 + 4 * len(dims) + n


def _parse(where_from: str, data: bytes, dims: tuple[int, ...]) -> torch.Tensor:
    header = struct.pack(f">I{len(dims)}I", 0x0800 | len(dims), *dims)
    if len(data) != _expected_bytes(dims) or data[:len(header)] != header:
        raise DatasetCorrupt(f"{where_from} is not the IDX file of {dims[0]:,} images expected: "
                             "delete it and load again")
    return torch.frombuffer(bytearray(data[len(header):]), dtype=torch.uint8).reshape(dims)


def _gunzip(stream, limit: int, where_from: str) -> bytes:
    """At most limit + 1 bytes, so a bomb stops at the size the header count implies."""
    try:
        with gzip.GzipFile(fileobj=stream) as unzipped:
            return unzipped.read(limit + 1)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetCorrupt(f"{where_from} cannot be decompressed ({type(exc).__name__}): "
                             "delete it and load again") from exc


def read(folder: Path, name: str) -> list[torch.Tensor]:
    """PARTS as tensors: images uint8 [N, 28, 28] upright, labels int64 from 0."""
    source = SOURCES[name]
    checked = {file: read_checked(folder / file, md5, size)
               for file, (md5, size) in source.files.items()}
    out = []
    for part, spec in zip(PARTS, source.parts, strict=True):
        dims = _dims(name, part)
        archive, _, member = spec.partition("/")
        if member:  # the md5 covers the whole zip, so its members are the published ones
            try:
                with zipfile.ZipFile(io.BytesIO(checked[archive])) as z, z.open(member) as f:
                    data = _gunzip(f, _expected_bytes(dims), f"{folder / archive}:{member}")
            except (KeyError, zipfile.BadZipFile) as exc:
                raise DatasetCorrupt(f"{folder / archive} has no readable {member}: delete it "
                                     "and load again") from exc
        elif spec.endswith(".gz"):
            data = _gunzip(io.BytesIO(checked[spec]), _expected_bytes(dims), str(folder / spec))
        else:
            data = checked[spec]
        tensor = _parse(f"{folder / spec}", data, dims)
        if part.endswith("labels"):
            tensor = tensor.long() - source.first_label
        elif source.transposed:
            tensor = tensor.transpose(1, 2).contiguous()
        out.append(tensor)
    return out


def reachable(urls: list[str], timeout: float = 5.0) -> bool:
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


# Not the store's ".tmp-": its hourly sweep of stale temp folders would take a slow download.
DOWNLOAD_PREFIX = ".download-"
STALE_DOWNLOAD_SECONDS = 24 * 3600
DOWNLOAD_WAIT_S = 1800  # for another session's download of the same files
STALL_S = 60            # a mirror silent this long fails the download


def _drop_stale_downloads(target: Path) -> None:
    """A download killed midway leaves its folder: gone a day later, at the next download."""
    for old in target.glob(f"{DOWNLOAD_PREFIX}*"):
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > STALE_DOWNLOAD_SECONDS:
                shutil.rmtree(old)


def fetch(name: str) -> Path:
    """Download the dataset's files with torchvision (its mirrors, md5s and progress bar) into
    a temporary folder beside the cache's raw folder, then rename each checked file into place,
    so two downloads at once or an interrupted one never leave a half-written file."""
    from torchvision import datasets as tv
    from torchvision.datasets.utils import download_url

    source = SOURCES[name]
    cls = getattr(tv, source.fetcher)
    mirrors = [cls.url] if cls is tv.EMNIST else list(cls.mirrors)
    if not reachable(mirrors):
        hosts = ", ".join(urlsplit(u).hostname or u for u in mirrors)
        raise unavailable(name, f"no download mirror answers ({hosts}): this machine seems "
                                "offline")
    target = raw_folder(cache_dir() / "data", name)
    locks = cache_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(locks / f"download-{source.folder}.lock"), timeout=DOWNLOAD_WAIT_S)
    try:
        with lock:  # two sessions: one download, the second served by it
            if (found := present(name)) is not None:
                return found
            previous = socket.getdefaulttimeout()
            socket.setdefaulttimeout(STALL_S)  # a stalled mirror fails, never hangs the lock
            try:
                return _fetch_into(name, target, cls, tv.EMNIST, download_url)
            finally:
                socket.setdefaulttimeout(previous)
    except Timeout as exc:
        raise unavailable(name, "another download of it has been running for "
                                f"{DOWNLOAD_WAIT_S // 60} minutes") from exc


def _fetch_into(name: str, target: Path, cls, emnist, download_url) -> Path:
    source = SOURCES[name]
    try:
        target.mkdir(parents=True, exist_ok=True)
        _drop_stale_downloads(target)
        work = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX, dir=target))
    except OSError as exc:
        raise unavailable(name, f"{target} cannot be written ({exc.strerror})") from exc
    print(f"downloading {source.folder} into {target} ...", file=sys.stderr)
    try:
        if cls is emnist:  # only the zip: torchvision would extract every split beside it
            download_url(cls.url, str(work / source.folder / "raw"), "gzip.zip", cls.md5)
        else:
            for train in (True, False):
                cls(root=str(work), train=train, download=True)
        for file, (md5, size) in source.files.items():
            check_file(work / source.folder / "raw" / file, md5, size)
            os.replace(work / source.folder / "raw" / file, target / file)
    except DatasetCorrupt as exc:
        raise unavailable(name, "the downloaded files are not the published ones (md5)") from exc
    except (OSError, RuntimeError) as exc:
        raise unavailable(name, f"the download failed ({type(exc).__name__}: "
                                f"{str(exc)[:120]})") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
