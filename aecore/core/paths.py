"""Where the cache and the datasets live."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """AECORE_CACHE_DIR, else cache/ of the checkout aecore runs from, else ~/.cache/aecore."""
    if env := os.environ.get("AECORE_CACHE_DIR"):
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]  # aecore/core/paths.py
    if (checkout / "pyproject.toml").is_file():
        return checkout / "cache"
    return Path.home() / ".cache" / "aecore"


def data_dirs() -> list[Path]:
    """Folders searched for datasets, in order: AECORE_DATA_DIR, then the cache's data/."""
    dirs = []
    if env := os.environ.get("AECORE_DATA_DIR"):
        dirs.append(Path(env).expanduser().resolve())
    dirs.append(cache_dir() / "data")
    return dirs


def set_numba_cache() -> None:
    """numba reads NUMBA_CACHE_DIR when first imported: call before importing umap."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
