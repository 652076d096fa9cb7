"""The Data page's work: the datasets known by name (listed, downloaded on a click) and those
added from uploads (the upload kept in a private temp file while the engine reads it, the
listings, and the caches to drop when one is removed)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from aecore.data import datasets, folders
from aecore.runs import imported, store
from dashboard import cached, widgets

# A dataset's zip may be far larger than a drawing (the server's cap, config.toml, is for
# those): this widget's own cap.
UPLOAD_MB = 500


def add_upload(upload, name: str, size: int, colour: bool,
               on_progress: Callable[[int, int], None]) -> folders.Manifest:
    """The uploaded zip written to a fresh file (O_EXCL, a random name) in the cache's temp
    folder, read by the engine, then removed whatever happens."""
    temp_dir = store.cache_dir() / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=store.TMP_PREFIX, suffix=".zip", dir=temp_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: upload.read(1 << 20), b""):
                out.write(chunk)
        upload.seek(0)
        manifest = imported.add(Path(path), name, size=size, colour=colour,
                                on_progress=on_progress)
    finally:
        os.unlink(path)
    return manifest


def known_table(known: list[datasets.Known]) -> pd.DataFrame:
    return pd.DataFrame([{
        "dataset": datasets.label(k.name), "name": k.name, "classes": k.classes,
        "train": k.train, "test": k.test,
        "files": widgets.without_paths(str(k.folder)) if k.folder
        else "not here: download it below"} for k in known])


def download(name: str) -> None:
    """Heavy work from a click: torchvision's download, checked, renamed into the cache."""
    datasets.locate(name, download=True)


def listing() -> list[imported.Listed]:
    return imported.listing()


def summary_table(m: folders.Manifest) -> pd.DataFrame:
    """One row: what a person checks first (plain cells, never Markdown)."""
    return pd.DataFrame([{
        "images": m.images, "train": sum(m.train.values()), "test": sum(m.test.values()),
        "classes": len(m.classes) or "unlabelled", "size": f"{m.size}x{m.size}",
        "colour": "colour" if m.channels == 3 else "grey", "skipped": m.skipped,
        "read in": f"{m.seconds:.1f} s"}])


def skipped_table(m: folders.Manifest) -> pd.DataFrame:
    return pd.DataFrame(m.skipped_files, columns=["file", "why"])


def runs_on(name: str) -> int:
    return sum(r["config"]["dataset"] == name for r in cached.runs_listing())


def remove(name: str) -> imported.Removed:
    removed = imported.remove(name)
    st.cache_data.clear()  # listings and reports that held its runs
    return removed


def shown(name: str) -> bool:
    """Samples are read for the sidebar's dataset only: a rerun of the Data page never loads
    every dataset (the server keeps two)."""
    return st.session_state.get("dataset") == name
