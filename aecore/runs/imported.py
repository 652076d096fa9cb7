"""Datasets a person adds from their own image folders, with the runs trained on them."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from aecore.core.config import DATASETS
from aecore.core.errors import DatasetUnavailable
from aecore.data import folders
from aecore.runs import pipeline, store

# Names kept for datasets offered by name (built in, or known IDX sets in AECORE_DATA_DIR).
RESERVED = (*DATASETS, "kmnist", "emnist", "emnist-letters", "emnist-balanced", "data")


class Removed(NamedTuple):
    name: str
    runs: list[str]
    bytes_freed: int


def add(source: Path, name: str, size: int = 28, colour: bool = False,
        show_progress: bool = False, on_progress=None) -> folders.Manifest:
    return folders.add(source, name, RESERVED, size=size, colour=colour,
                       show_progress=show_progress, on_progress=on_progress)


def listing() -> list[folders.Manifest]:
    found = []
    for name in folders.names():
        try:
            found.append(folders.manifest(name))
        except DatasetUnavailable:  # damaged: `data remove` still takes it away
            continue
    return found


def remove(name: str) -> Removed:
    """The dataset and every run trained on it (a run without its data cannot be mapped)."""
    folders.check_name(name, RESERVED)
    if name not in folders.names() and not (folders.root() / name).is_dir():
        folders.remove(name)  # raises the sentence
    runs = [r["run_id"] for r in pipeline.list_runs() if r["config"]["dataset"] == name]
    freed = sum(pipeline.remove_run(run_id) for run_id in runs)
    # Its baselines are keyed by its name: a dataset added again under it must not read them.
    baselines = store.cache_dir() / "baselines" / name
    if baselines.is_dir() and not baselines.is_symlink():
        freed += store.remove_artefact(baselines)
    folders.remove(name)
    return Removed(name, runs, freed)
