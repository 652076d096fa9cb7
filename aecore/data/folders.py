"""A folder of images (or a .zip of one) imported as a dataset: uint8 arrays in the cache.

Labels come from the first level of sub-folders (`FOLDER/cat/*.png`), as torchvision's
ImageFolder reads them; a folder without sub-folders is unlabelled. `train/` and `test/` at
the top give the split; otherwise a seeded, stratified share is held out. Nothing is extracted
to disk: each file is read (bounded) and decoded in memory, so a path in a zip never becomes a
path here. The arrays are written into a fresh folder beside the target and renamed at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import lzma
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np
from PIL import Image

from aecore import FORMAT_VERSION
from aecore.core.config import DATASET_NAME
from aecore.core.errors import (
    CacheWriteFailed,
    DatasetExists,
    DatasetUnavailable,
    InvalidConfig,
    InvalidImage,
)
from aecore.core.paths import cache_dir
from aecore.data.preprocess import MAX_BYTES, load_image

NAME = DATASET_NAME
SIZES = (16, 64)
MAX_FILES = 250_000
MAX_UNZIPPED = 4 * 2**30      # the sum of a zip's declared sizes, checked before reading any
# images x size x size x channels, checked before decoding any: the server keeps float copies
# of a dataset for its maps and baselines, so this is what one server can hold a few of.
MAX_ARRAY_BYTES = 512 * 2**20
MAX_CLASSES = 1_000
MAX_DECODED_PIXELS = 10_000_000_000  # in all: 200,000 photos of 224x224; read from headers
TMP_PREFIX = ".tmp-"           # what the store's sweep of temp folders removes when stale
MIN_IMAGES = 100
MIN_TEST = 20                 # a map draws each test image among its 15 nearest
TEST_SHARE = 1 / 7            # MNIST's 10,000 of 70,000 (more in a small dataset: MIN_TEST)
SPLITS = {"train": "train", "training": "train", "test": "test", "testing": "test",
          "val": "test", "valid": "test", "validation": "test"}  # folder names, any case
SKIPPED_KEPT = 200            # reasons listed in the manifest (the count is always exact)
IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db")


class Entry(NamedTuple):
    path: str                      # relative, with "/" (what a person sees in the summary)
    size: int
    read: Callable[[], bytes]


class Skipped(NamedTuple):
    path: str
    why: str


@dataclass(frozen=True)
class Manifest:
    name: str
    source: str
    size: int
    channels: int
    classes: list[str]             # [] when unlabelled
    train: dict[str, int]          # images per class ("" when unlabelled)
    test: dict[str, int]
    files_hash: str                # sha256 of the sorted (path, size) list read
    skipped: int
    skipped_files: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    format_version: int = FORMAT_VERSION

    @property
    def labelled(self) -> bool:
        return bool(self.classes)

    @property
    def images(self) -> int:
        return sum(self.train.values()) + sum(self.test.values())

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.size, self.size) if self.channels == 1 else (self.size, self.size, 3)

    def summary(self) -> dict:
        """What `aecore data add --json` prints."""
        return {"name": self.name, "images": self.images, "skipped": self.skipped,
                "classes": self.classes, "train": sum(self.train.values()),
                "test": sum(self.test.values()), "size": self.size, "channels": self.channels}


def root() -> Path:
    return cache_dir() / "datasets"


def check_name(name: str, taken: tuple[str, ...]) -> None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidConfig(f"a dataset name is 1 to 32 lower-case letters, digits, - or _, "
                            f"starting with a letter, not {str(name)[:60]!r}")
    if name in taken:
        raise InvalidConfig(f"{name!r} is a built-in dataset's name: choose another")


def printable(path: str) -> str:
    """A file's path as a summary may print it: control characters (a terminal's escape
    sequences) become "?", and it is cut at 200 characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in path[:200])


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p in IGNORED for p in parts)


def _folder_entries(folder: Path) -> tuple[list[Entry], list[Skipped]]:
    entries, skipped = [], []
    for top, dirs, files in os.walk(folder, followlinks=False):
        here = Path(top)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                skipped.append(Skipped(printable(str((here / name).relative_to(folder))),
                                       "a symbolic link"))
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if _hidden(PurePosixPath(rel).parts):
                continue
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                skipped.append(Skipped(printable(rel), "a symbolic link"))
            elif not stat.S_ISREG(info.st_mode):
                skipped.append(Skipped(printable(rel), "not a regular file"))
            else:
                entries.append(Entry(rel, info.st_size, lambda p=path: _read_bounded(p.open("rb"))))
            if len(entries) > MAX_FILES:
                raise InvalidConfig(f"{folder} holds more than {MAX_FILES:,} files; the limit "
                                    f"is {MAX_FILES:,}")
    return entries, skipped


def _read_bounded(stream) -> bytes:
    with stream:
        data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InvalidImage(f"the file is larger than {MAX_BYTES // 1_048_576} MiB")
    return data


def _zip_entries(path: Path, stack: contextlib.ExitStack) -> tuple[list[Entry], list[Skipped]]:
    try:
        archive = stack.enter_context(zipfile.ZipFile(path))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidConfig(f"{path.name} is not a readable zip file ({exc})") from exc
    if len(infos) > MAX_FILES:
        raise InvalidConfig(f"{path.name} holds {len(infos):,} entries; the limit is "
                            f"{MAX_FILES:,}")
    declared = sum(i.file_size for i in infos)
    if declared > MAX_UNZIPPED:
        raise InvalidConfig(f"{path.name} unpacks to {declared / 2**30:.1f} GiB; the limit is "
                            f"{MAX_UNZIPPED / 2**30:.0f} GiB (a zip bomb?)")
    entries, skipped = [], []
    for info in infos:
        name = info.filename.replace("\\", "/")
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or re.match(r"[A-Za-z]:", name):
            raise InvalidConfig(f"{path.name} holds the path {name[:80]!r}, which points outside "
                                "its folder: refused (a zip-slip archive?)")
        if info.is_dir() or _hidden(pure.parts):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            skipped.append(Skipped(printable(name), "a symbolic link"))
            continue
        entries.append(Entry(name, info.file_size,
                             lambda i=info: _read_bounded(archive.open(i))))
    return entries, skipped


class Layout(NamedTuple):
    entries: list[Entry]
    splits: list[str | None]       # "train", "test" or None (held out by share)
    labels: list[str | None]       # class folder, or None when unlabelled
    skipped: list[Skipped]


def _strip_wrapper(entries: list[Entry]) -> tuple[list[Entry], list[Skipped]]:
    """A zip of a folder holds one top folder around everything: that folder is the dataset
    (paths compared by their parts: "./a/b", "a//b" and "a/b" are one path). Loose files
    beside it (a README, a LICENSE) are skipped, not read as the dataset's own layout."""
    parts = [PurePosixPath(e.path).parts for e in entries]
    tops = {p[0] for p in parts if len(p) > 1}
    loose = [e for e, p in zip(entries, parts, strict=True) if len(p) == 1]
    if len(tops) == 1 and next(iter(tops)).lower() not in SPLITS and len(loose) < len(entries):
        kept = [e._replace(path="/".join(p[1:]))
                for e, p in zip(entries, parts, strict=True) if len(p) > 1]
        return kept, [Skipped(printable(e.path), "beside the zip's folder") for e in loose]
    return [e._replace(path="/".join(p)) for e, p in zip(entries, parts, strict=True)], []


def class_names(raw: set[str]) -> dict[str, str]:
    """Each class folder's name as the pages show it (safe_label), 40 characters at most;
    names that become equal are told apart by a number."""
    if len(raw) > MAX_CLASSES:  # before any naming work: a zip can hold 250,000 folders
        raise InvalidConfig(f"the images sit in {len(raw):,} class folders; the limit is "
                            f"{MAX_CLASSES:,}")
    shown: dict[str, str] = {}
    taken: set[str] = set()
    clashes: dict[str, int] = {}
    for name in sorted(raw):
        safe = base = safe_label(name)
        while safe in taken:  # numbered per base name: one step per clash, not a scan
            clashes[base] = clashes.get(base, 1) + 1
            suffix = f" {clashes[base]}"
            safe = base[:40 - len(suffix)] + suffix
        shown[name] = safe
        taken.add(safe)
    return shown


def safe_label(name: str) -> str:
    """Letters, digits, spaces and inner hyphens: nothing Markdown or HTML reads as markup (a
    class name is shown in captions, legends and the report)."""
    text = "".join(ch if ch.isalnum() or ch == "-" else " " for ch in name)
    return " ".join(text.split()).strip("-").strip()[:40] or "class"


def layout(entries: list[Entry]) -> Layout:
    """Each file's split and class from where it sits; files that fit no place are skipped."""
    parts = [PurePosixPath(e.path).parts for e in entries]
    split_given = any(len(p) > 1 and p[0].lower() in SPLITS for p in parts)
    if split_given:
        rest = [p[1:] if len(p) > 1 and p[0].lower() in SPLITS else () for p in parts]
        splits = [SPLITS[p[0].lower()] if r else None for p, r in zip(parts, rest, strict=True)]
    else:
        rest, splits = parts, [None] * len(parts)
    labelled = any(len(r) > 1 for r in rest)
    shown = class_names({r[0] for r in rest if len(r) > 1})
    kept, skipped = Layout([], [], [], []), []
    for entry, r, split in zip(entries, rest, splits, strict=True):
        if split_given and not r:
            skipped.append(Skipped(printable(entry.path), "outside train/ and test/"))
        elif labelled and len(r) == 1:
            skipped.append(Skipped(printable(entry.path), "not in a class folder"))
        else:
            kept.entries.append(entry)
            kept.splits.append(split)
            kept.labels.append(shown[r[0]] if labelled else None)
    return kept._replace(skipped=skipped)


class Budget:
    """The pixels decoded so far, from each image's header before it is decoded: a zip of
    small files that hold huge blank images is refused, not decoded for hours."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit, self.used = limit or MAX_DECODED_PIXELS, 0

    def take(self, image: Image.Image) -> None:
        self.used += image.width * image.height
        if self.used > self.limit:
            raise InvalidConfig(f"the images hold more than {self.limit:,} pixels in all: "
                                "scale them down before adding them")


# What one damaged file among good ones raises while it is read and decoded: it is skipped.
UNREADABLE = (InvalidImage, OSError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError,
              SyntaxError, zlib.error, lzma.LZMAError, NotImplementedError,
              Image.DecompressionBombError)


def _decode(data: bytes, size: int, colour: bool, budget: Budget) -> np.ndarray:
    image = load_image(data, decode=False)
    budget.take(image)
    if image.format == "JPEG":  # decoded at a fraction of its size: far less work
        image.draft("RGB" if colour else "L", (size * 2, size * 2))
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImage(f"the image is damaged or truncated ({exc})") from exc
    return as_dataset_image(image, size, colour)


def as_dataset_image(image: Image.Image, size: int, colour: bool,
                     paper: int = 255) -> np.ndarray:
    """An image as an added dataset holds it: uint8 [size, size] (or [size, size, 3]).
    Transparent parts read as white paper, as a viewer shows them (a canvas's ink on a
    transparent ground asks for black paper)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        ground = Image.new("RGBA", image.size, (paper, paper, paper, 255))
        image = Image.alpha_composite(ground, image)
    image = image.convert("RGB" if colour else "L").resize((size, size),
                                                           Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def _held_out(labels: np.ndarray, seed: int) -> np.ndarray:
    """A boolean mask: TEST_SHARE of each class (at least one when it has two; a larger share
    when that would hold fewer than MIN_TEST in all), seeded."""
    rng = np.random.default_rng(seed)
    share = max(TEST_SHARE, MIN_TEST / len(labels))
    test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(len(idx) * share)) if len(idx) > 1 else 0
        test[idx[:max(n, 1 if len(idx) > 1 else 0)]] = True
    return test


def _files_hash(entries: list[Entry]) -> str:
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.path):
        digest.update(f"{entry.path}\0{entry.size}\n".encode())
    return digest.hexdigest()


class Progress:
    """A bar on stderr while images decode (tqdm's), or nothing; every TICK images the work
    folder is touched, so the store's sweep of stale temp folders (store.STALE_TMP_SECONDS)
    never takes a long import for a killed one."""

    TICK = 256

    def __init__(self, total: int, show: bool, callback: Callable[[int, int], None] | None,
                 alive: Path | None = None):
        self.total, self.callback, self.done, self.alive = total, callback, 0, alive
        self.bar = None
        if show:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="img", file=sys.stderr, desc="reading images")

    def step(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        if self.done % self.TICK and self.done != self.total:
            return
        if self.alive is not None:
            os.utime(self.alive)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def entries_of(source: Path, stack: contextlib.ExitStack) -> tuple[list[Entry], list[Skipped]]:
    """Every file's entry (read later), and what was skipped already; a zip stays open until
    `stack` closes."""
    if source.is_dir():
        entries, skipped = _folder_entries(source)
    elif source.is_file() and zipfile.is_zipfile(source):
        entries, skipped = _zip_entries(source, stack)
        if entries:
            entries, loose = _strip_wrapper(entries)
            skipped += loose
    elif source.exists():
        raise InvalidConfig(f"{source} is neither a folder nor a .zip file")
    else:
        raise InvalidConfig(f"{source} does not exist")
    return entries, skipped


def _check_layout(found: Layout, source: Path, size: int, channels: int) -> None:
    if len(found.entries) < MIN_IMAGES:
        raise InvalidConfig(f"{source.name} holds {len(found.entries)} candidate image files; a "
                            f"dataset needs at least {MIN_IMAGES}")
    classes = sorted({c for c in found.labels if c is not None})
    if len(classes) > MAX_CLASSES:
        raise InvalidConfig(f"{source.name} has {len(classes):,} class folders; the limit is "
                            f"{MAX_CLASSES:,}")
    if len(classes) == 1:
        raise InvalidConfig(f"{source.name} has one class folder ({classes[0][:40]}): add a "
                            "second, or put the images at the top for an unlabelled dataset")
    need = len(found.entries) * size * size * channels
    if need > MAX_ARRAY_BYTES:
        raise InvalidConfig(f"{len(found.entries):,} images of {size}x{size}x{channels} need "
                            f"{need / 2**30:.1f} GiB; the limit is "
                            f"{MAX_ARRAY_BYTES / 2**30:.0f} GiB: use a smaller --size or grey")


def add(source: Path, name: str, taken: tuple[str, ...], size: int = 28, colour: bool = False,
        seed: int = 0, show_progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None) -> Manifest:
    """Read, check and store a dataset; nothing stays in the cache unless all of it is written."""
    check_name(name, taken)
    if isinstance(size, bool) or not isinstance(size, int) or not SIZES[0] <= size <= SIZES[1]:
        raise InvalidConfig(f"size must be a whole number from {SIZES[0]} to {SIZES[1]}, not "
                            f"{size!r}")
    target = root() / name
    if target.exists():
        raise DatasetExists(f"a dataset called {name!r} exists: remove it first "
                            f"(aecore data remove {name})")
    with contextlib.ExitStack() as stack:
        return _add(source, name, target, size, colour, seed, show_progress, on_progress, stack)


def _add(source, name, target, size, colour, seed, show_progress, on_progress,
         stack: contextlib.ExitStack) -> Manifest:
    started = time.perf_counter()
    entries, skipped = entries_of(Path(source), stack)
    found = layout(entries)
    skipped += found.skipped
    channels = 3 if colour else 1
    _check_layout(found, Path(source), size, channels)
    root().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{name}.", dir=root()))
    try:
        manifest = _write(found, work, name, Path(source), size, colour, seed, skipped,
                          show_progress, on_progress)
        manifest = replace(manifest, seconds=round(time.perf_counter() - started, 2))
        _write_manifest(work, manifest)
        try:
            os.rename(work, target)
        except OSError as exc:
            if not target.exists():
                raise CacheWriteFailed(f"the dataset could not be moved into {root()}: "
                                       f"{exc.strerror}") from exc
            raise DatasetExists(f"a dataset called {name!r} was added meanwhile (by another "
                                "session?): it is kept, this copy is dropped") from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _write(found: Layout, work: Path, name: str, source: Path, size: int, colour: bool,
           seed: int, skipped: list[Skipped], show_progress: bool,
           on_progress: Callable[[int, int], None] | None) -> Manifest:
    shape = (size, size, 3) if colour else (size, size)
    n = len(found.entries)
    # Decoded straight into a file: 200,000 images never sit twice in memory.
    images = _array_file(work / "all.npy", (n, *shape))
    ok = np.zeros(n, dtype=bool)
    progress = Progress(n, show_progress, on_progress, alive=work)
    budget = Budget()
    try:
        for i, entry in enumerate(found.entries):
            try:
                images[i] = _decode(entry.read(), size, colour, budget)
                ok[i] = True
            except InvalidConfig:  # the whole import's limit (a ValueError too): not one file's
                raise
            except UNREADABLE as exc:
                skipped.append(Skipped(printable(entry.path),
                                       printable(str(exc)) or type(exc).__name__))
            progress.step()
    finally:
        progress.close()
    images.flush()
    if ok.sum() < MIN_IMAGES:
        raise InvalidConfig(f"only {int(ok.sum())} of {n} files are readable images; a dataset "
                            f"needs at least {MIN_IMAGES}")
    classes = sorted({c for c, good in zip(found.labels, ok, strict=True)
                      if good and c is not None})
    if found.labels[0] is not None and len(classes) < 2:
        raise InvalidConfig(f"only one class ({classes[0][:40]}) has readable images: a "
                            "labelled dataset needs two")
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index.get(c, 0) if c is not None else 0 for c in found.labels],
                      dtype=np.int64)
    kept = np.flatnonzero(ok)
    if any(s is not None for s in found.splits):
        test = np.array([found.splits[i] == "test" for i in kept])
    else:
        test = _held_out(labels[kept], seed)
    counts = {}
    for split, mask in (("train", ~test), ("test", test)):
        rows = kept[mask]
        if len(rows) < MIN_TEST:
            raise InvalidConfig(f"the {split} split holds {len(rows)} readable images; it needs "
                                f"at least {MIN_TEST}")
        _save(work / f"{split}_x.npy", images, rows)
        np.save(work / f"{split}_y.npy", labels[rows], allow_pickle=False)
        counts[split] = dict(Counter(classes[c] if classes else "" for c in labels[rows]))
    del images
    (work / "all.npy").unlink()
    return Manifest(name=name, source=str(source)[:500], size=size, channels=3 if colour else 1,
                    classes=classes, train=counts["train"], test=counts["test"],
                    files_hash=_files_hash(found.entries), skipped=len(skipped),
                    skipped_files=skipped[:SKIPPED_KEPT])


def _array_file(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A uint8 .npy file mapped for writing, its blocks reserved first: a full disk is one
    sentence here, not a bus error that ends the process later."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    try:
        with open(path, "r+b") as f:
            if hasattr(os, "posix_fallocate"):  # not on macOS: written unreserved there
                os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
    except OSError as exc:
        raise CacheWriteFailed(f"no room for the images in {root()}: {exc.strerror}") from exc
    return array


def _save(path: Path, images: np.ndarray, rows: np.ndarray) -> None:
    out = _array_file(path, (len(rows), *images.shape[1:]))
    for start in range(0, len(rows), 4096):
        out[start:start + 4096] = images[rows[start:start + 4096]]
    out.flush()


def _write_manifest(work: Path, manifest: Manifest) -> None:
    data = asdict(manifest)
    data["skipped_files"] = [list(s) for s in manifest.skipped_files]
    (work / "manifest.json").write_text(json.dumps(data, indent=1))


def _open_regular(path: Path):
    """A file of the cache opened for reading, never through a symlink nor a FIFO's wait."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    return os.fdopen(fd, "rb")


def _damaged(name: str, why: str) -> DatasetUnavailable:
    return DatasetUnavailable(f"the dataset {name!r} is damaged ({why}): remove it (aecore data "
                              f"remove {name}) and add it again")


def _counts(value) -> dict[str, int]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and type(v) is int and v >= 0 for k, v in value.items()):
        raise ValueError("counts per class are not a mapping of names to counts")
    return value


def manifest(name: str) -> Manifest:
    """The stored manifest, every field checked (a cache file is hostile until checked)."""
    path = root() / name / "manifest.json"
    try:
        with _open_regular(path) as f:
            data = json.loads(f.read(4 * 2**20))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        if data.get("format_version") != FORMAT_VERSION:
            raise DatasetUnavailable(f"the dataset {name!r} was stored by another version of "
                                     f"aecore: remove it (aecore data remove {name}) and add it "
                                     "again")
        classes = data.get("classes")
        if (not isinstance(classes, list) or len(classes) > MAX_CLASSES
                or not all(isinstance(c, str) for c in classes)):
            raise ValueError("its classes are not a list of names")
        found = Manifest(
            name=name, source=str(data.get("source", ""))[:500], size=data["size"],
            channels=data["channels"], classes=[safe_label(c) for c in classes],
            train=_counts(data["train"]), test=_counts(data["test"]),
            files_hash=str(data.get("files_hash", ""))[:64], skipped=int(data["skipped"]),
            skipped_files=[Skipped(printable(str(p)), printable(str(w)))
                           for p, w in list(data.get("skipped_files", []))[:SKIPPED_KEPT]],
            seconds=float(data.get("seconds", 0.0)))
        if type(found.size) is not int or not SIZES[0] <= found.size <= SIZES[1] \
                or found.channels not in (1, 3):
            raise ValueError("its image size is out of range")
    except FileNotFoundError as exc:
        raise DatasetUnavailable(f"no dataset called {name!r}: add one with aecore data add "
                                 f"FOLDER --name {name}") from exc
    except DatasetUnavailable:
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise _damaged(name, f"its manifest: {exc}") from exc
    return found


def stamp(name: str) -> tuple:
    """Changes when the dataset is removed and added again (its manifest is a new file)."""
    try:
        info = (root() / name / "manifest.json").stat()
    except OSError:
        manifest(name)  # raises the sentence saying why
        raise
    return info.st_ino, info.st_mtime_ns


def names() -> list[str]:
    if not root().is_dir():
        return []
    return sorted(p.name for p in root().iterdir()
                  if NAME.fullmatch(p.name) and (p / "manifest.json").is_file())


def arrays(name: str) -> Iterator[np.ndarray]:
    """train_x, train_y, test_x, test_y, read without unpickling; each file's header is checked
    against the manifest before its data is read (a header can claim a terabyte)."""
    m = manifest(name)
    folder = root() / name
    labels = max(len(m.classes), 1)
    for split in ("train", "test"):
        count = sum(getattr(m, split).values())
        for part, dtype, shape in ((f"{split}_x", np.uint8, (count, *m.shape)),
                                   (f"{split}_y", np.int64, (count,))):
            try:
                with _open_regular(folder / f"{part}.npy") as f:
                    major, _ = np.lib.format.read_magic(f)
                    read_header = (np.lib.format.read_array_header_1_0 if major == 1
                                   else np.lib.format.read_array_header_2_0)
                    header = read_header(f)
                    if header[0] != shape or header[1] or header[2] != np.dtype(dtype):
                        raise ValueError(f"holds {header[2]} {header[0]}, not {shape}")
                    f.seek(0)
                    array = np.load(f, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise _damaged(name, f"{part}: {exc}") from exc
            if dtype is np.int64 and len(array) and not 0 <= array.min() <= array.max() < labels:
                raise _damaged(name, f"{part}: labels out of range")
            yield array


def remove(name: str) -> None:
    folder = root() / name
    if not NAME.fullmatch(name) or not folder.is_dir():
        raise DatasetUnavailable(f"no dataset called {str(name)[:60]!r}")
    # Renamed first, so no reader sees a half-removed dataset.
    gone = root() / f"{TMP_PREFIX}{name}.removed-{os.getpid()}-{time.time_ns()}"
    os.rename(folder, gone)
    shutil.rmtree(gone, ignore_errors=True)
