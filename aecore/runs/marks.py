"""A person's verdicts on suspect labels, kept per dataset for everyone on the server: an image
whose label is right keeps it, one whose label is wrong gets the corrected class. They download
as CSV (index, given, corrected) and a head can be trained again with the corrections."""

from __future__ import annotations

import io
import json
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from aecore.analysis.classify import scores, train_head
from aecore.core.config import HeadConfig, check_dataset_name
from aecore.core.errors import CacheCorrupt, InvalidConfig
from aecore.core.paths import cache_dir
from aecore.data import datasets
from aecore.runs import pipeline, store

MAX_MARKS = 100_000  # a marks file is read whole: bounded


def folder() -> Path:
    return cache_dir() / "marks"


def path(dataset: str) -> Path:
    check_dataset_name(dataset)  # so the name is a plain file name
    return folder() / f"{dataset}.json"


UNKNOWN = -1  # a wrong label whose class the person did not name: left out, not corrected


@dataclass(frozen=True)
class Mark:
    split: str
    index: int
    given: int
    corrected: int  # == given: the label is right; UNKNOWN: wrong, class not named

    @property
    def wrong(self) -> bool:
        return self.corrected != self.given


def read(dataset: str) -> list[Mark]:
    """The dataset's marks, oldest first; a damaged file reads as CacheCorrupt, never as none."""
    file = path(dataset)
    try:  # no symlink followed, no FIFO waited on: a regular file or nothing
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CacheCorrupt(f"{file} cannot be read ({exc.strerror}): remove it") from exc
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CacheCorrupt(f"{file} is not a regular file: remove it")
        blob = f.read(128 * MAX_MARKS + 1)
    try:
        rows = json.loads(blob)
        marks = [Mark(str(r["split"]), int(r["index"]), int(r["given"]), int(r["corrected"]))
                 for r in rows]
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise CacheCorrupt(f"{file} is not a list of marks: remove it") from exc
    if len(marks) > MAX_MARKS or any(m.split not in ("test", "train") for m in marks):
        raise CacheCorrupt(f"{file} is not a list of marks: remove it")
    return marks


def checked(dataset: str) -> list[Mark]:
    """read(), each mark checked against the dataset as it is now: a mark naming an image or
    class it lacks, or whose given label is not the image's (a dataset of that name added
    again since), is dropped, never applied to another image."""
    data = datasets.load(dataset)
    labels = {"test": data.test_y, "train": data.train_y}
    n = len(data.label_names)
    return [m for m in read(dataset)
            if 0 <= m.index < len(labels[m.split]) and 0 <= m.given < n
            and (0 <= m.corrected < n or m.corrected == UNKNOWN)
            and int(labels[m.split][m.index]) == m.given]


def _write(dataset: str, marks: list[Mark]) -> None:
    """Written beside the target under a fresh name (O_EXCL) and renamed: never half a file,
    never through a symlink."""
    target = path(dataset)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=store.TMP_PREFIX, suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump([m.__dict__ for m in marks], f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def mark(dataset: str, split: str, index: int, corrected: int | None) -> list[Mark]:
    """Record a verdict on one image (corrected None: forget it); the marks after it. Two
    sessions marking at once take turns, so neither loses the other's."""
    data = datasets.load(dataset)
    labels = data.test_y if split == "test" else data.train_y
    if split not in ("test", "train") or not 0 <= index < len(labels):
        raise InvalidConfig(f"no {split} image {index} in {dataset}")
    if corrected is not None and corrected != UNKNOWN and \
            not 0 <= corrected < len(data.label_names):
        raise InvalidConfig(f"{dataset} has no class {corrected}")
    with store.lock(f"marks-{dataset}"):
        marks = [m for m in checked(dataset) if (m.split, m.index) != (split, index)]
        if corrected is not None:
            if len(marks) >= MAX_MARKS:
                raise InvalidConfig(f"{dataset} has {MAX_MARKS:,} marks already")
            marks.append(Mark(split, index, int(labels[index]), corrected))
        _write(dataset, marks)
    return marks


def csv_bytes(dataset: str) -> bytes:
    """split, index, given, corrected: with class names, one row per mark."""
    names = datasets.load(dataset).label_names
    table = pd.DataFrame([{"split": m.split, "index": m.index, "given": names[m.given],
                           "corrected": "" if m.corrected == UNKNOWN else names[m.corrected]}
                          for m in checked(dataset)],
                         columns=["split", "index", "given", "corrected"])
    out = io.StringIO()
    table.to_csv(out, index=False)
    return out.getvalue().encode()


@dataclass(frozen=True)
class Corrected:
    labels: torch.Tensor  # int64 [N]: the marks' corrections applied
    keep: torch.Tensor    # bool [N]: False where a label is wrong but its class not named
    fixed: int            # labels changed or left out


def corrected_labels(labels: torch.Tensor, marks: list[Mark], split: str) -> Corrected:
    fixed, keep = labels.clone(), torch.ones(len(labels), dtype=torch.bool)
    for m in marks:
        if m.split == split and m.wrong:
            if m.corrected == UNKNOWN:
                keep[m.index] = False
            else:
                fixed[m.index] = m.corrected
    return Corrected(fixed, keep, int(((fixed != labels) | ~keep).sum()))


@dataclass(frozen=True)
class Retrained:
    before: float        # the run's head, on the test labels as corrected
    after: float         # a head trained on the corrected training labels, on the same
    train_fixed: int     # training labels changed or left out
    test_fixed: int      # test labels changed or left out
    seconds: float


def retrain(run: pipeline.Run, cfg: HeadConfig | None = None,
            marks: list[Mark] | None = None) -> Retrained:
    """The run's head against a head of the same config trained with the marks (by default
    the dataset's) applied to the training labels; both scored on the test labels with their
    marks applied."""
    cfg = cfg or HeadConfig()
    start = time.perf_counter()
    data = datasets.load(run.config.dataset)
    marks = checked(run.config.dataset) if marks is None else marks
    train = corrected_labels(data.train_y, marks, "train")
    test = corrected_labels(data.test_y, marks, "test")
    train_codes, test_codes = pipeline.codes(run)
    n = len(data.label_names)
    test_codes, test_y = test_codes[test.keep], test.labels[test.keep]
    before = pipeline.classify(run, cfg).head.probabilities(test_codes).argmax(1)
    head = train_head(train_codes[train.keep], train.labels[train.keep], cfg, n)
    after = head.probabilities(test_codes).argmax(1)
    return Retrained(scores(before, test_y, n)["accuracy"], scores(after, test_y, n)["accuracy"],
                     train.fixed, test.fixed, time.perf_counter() - start)
