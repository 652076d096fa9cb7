"""Datasets a person adds from their own image folders, with the runs trained on them."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from aecore.core.config import DATASETS
from aecore.core.errors import DatasetExists, DatasetUnavailable
from aecore.data import folders
from aecore.runs import marks, pipeline, store

# Names kept for datasets offered by name (built in, or known IDX sets in AECORE_DATA_DIR).
RESERVED = (*DATASETS, "emnist", "data")


class Removed(NamedTuple):
    name: str
    runs: list[str]
    bytes_freed: int


class Listed(NamedTuple):
    name: str
    manifest: folders.Manifest | None  # None: damaged, and why
    problem: str = ""


def _baselines(name: str) -> Path:
    return store.cache_dir() / "baselines" / name


def runs_on(name: str) -> list[str]:
    return [r["run_id"] for r in pipeline.list_runs() if r["config"]["dataset"] == name]


def add(source: Path, name: str, size: int = 28, colour: bool = False,
        show_progress: bool = False, on_progress=None) -> folders.Manifest:
    """A new dataset. Runs and baselines are keyed by the dataset's name, so a name whose
    earlier dataset left some behind is refused: they were trained on other images."""
    folders.check_name(name, RESERVED)
    if name not in folders.names() and (left := len(runs_on(name))
                                        + _baselines(name).is_dir()):
        raise DatasetExists(f"{left} runs or baselines of an earlier dataset called {name!r} "
                            f"are still stored: remove them (aecore data remove {name}) or "
                            "choose another name")
    return folders.add(source, name, RESERVED, size=size, colour=colour,
                       show_progress=show_progress, on_progress=on_progress)


def listing() -> list[Listed]:
    """Every added dataset, a damaged one with why (so that it can still be removed)."""
    found = []
    for name in folders.names():
        try:
            found.append(Listed(name, folders.manifest(name)))
        except DatasetUnavailable as exc:
            found.append(Listed(name, None, str(exc)))
    return found


def remove(name: str) -> Removed:
    """The dataset and every run trained on it (a run without its data cannot be mapped), and
    its baselines; also what an earlier dataset of that name left, when the folder is gone."""
    folders.check_name(name, RESERVED)
    runs = runs_on(name)
    if name not in folders.names() and not (folders.root() / name).is_dir() and not runs \
            and not _baselines(name).is_dir():
        raise DatasetUnavailable(f"no dataset called {name!r} (aecore data list shows them)")
    freed = sum(pipeline.remove_run(run_id) for run_id in runs)
    if _baselines(name).is_dir() and not _baselines(name).is_symlink():
        freed += store.remove_artefact(_baselines(name))
    with store.lock(f"marks-{name}"):  # its indices would name another dataset's images
        marks.path(name).unlink(missing_ok=True)
    if (folders.root() / name).is_dir():
        folders.remove(name)
    return Removed(name, runs, freed)
