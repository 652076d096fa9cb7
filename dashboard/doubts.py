"""The Data quality page's reading of a run: its suspects, odd images and clusters (computed on
a click, then cached server-wide by the run's weights), the images it shows, and the marks."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from aecore.analysis import quality
from aecore.figures import plots
from aecore.runs import dataquality, marks, pipeline
from aecore.training import latents
from dashboard import cached

BY_WEIGHTS = cached.BY_WEIGHTS


_READY: set[tuple[str, str]] = set()  # (the run's derived folder, split) found valid once


def stored(r: pipeline.Run, split: str) -> bool:
    """Whether this run's ranking of the split is stored and reads right: a page load shows
    it, never computes it (that takes the button). Checked in full once per weights: after
    that it sits in `suspects`' cache, and a verdict's rerun does not read it again."""
    key = (str(r.derived_dir), split)  # its path holds the cache, the run and its weights
    if key not in _READY and dataquality.suspects_ready(r, split):
        _READY.add(key)
    return key in _READY


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def suspects(r: pipeline.Run, split: str) -> dataquality.SuspectResult:
    return dataquality.suspects(r, split)


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def odd(r: pipeline.Run, split: str) -> quality.Odd:
    return dataquality.odd(r, split)


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def clusters(r: pipeline.Run) -> dataquality.ClusterResult:
    """Read once the background job (derive.derived_job("clusters")) stored them."""
    return dataquality.clusters(r, cached.UMAP)


def images(r: pipeline.Run, split: str) -> torch.Tensor:
    data = cached.dataset(r.config.dataset)
    return data.test_x if split == "test" else data.train_x


def pairs(r: pipeline.Run, split: str, indices) -> list[np.ndarray]:
    """Each image beside its reconstruction, as the Explore page shows them."""
    indices = [int(i) for i in indices]
    if not indices:
        return []
    train_codes, test_codes = cached.codes(r)
    codes = (test_codes if split == "test" else train_codes)[indices]
    originals = images(r, split)[indices].float().numpy() / 255.0
    recon = latents.decode(r.model, codes).numpy()
    return [plots.side_by_side(o, c) for o, c in zip(originals, recon, strict=True)]


def plain_images(r: pipeline.Run, split: str, indices) -> list[np.ndarray]:
    return [plots.to_uint8(images(r, split)[int(i)].float().numpy() / 255.0) for i in indices]


def verdicts(dataset: str) -> dict[tuple[str, int], marks.Mark]:
    return {(m.split, m.index): m for m in marks.checked(dataset)}


def verdict_of(mark: marks.Mark | None) -> str | None:
    return None if mark is None else ("wrong" if mark.wrong else "right")


def kept_text(mark: marks.Mark | None, names: list[str]) -> str:
    """What the stored verdict holds, which may come from another run's suggestion."""
    if mark is None or not mark.wrong:
        return ""
    return "\nkept: left out" if mark.corrected == marks.UNKNOWN else \
        f"\nkept: → {names[mark.corrected]}"


def correction(given: int, suggested: int, verdict: str | None) -> int | None:
    """What a verdict stores: the suggested class for a wrong label (UNKNOWN when the
    suggestion is the given label itself), the given one for a right label, None to forget."""
    if verdict is None:
        return None
    if verdict == "right":
        return given
    return suggested if suggested != given else marks.UNKNOWN
