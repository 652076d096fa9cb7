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


def suspects_folder(r: pipeline.Run, split: str):
    return r.derived_dir / f"suspects-{split}-v{dataquality.VERSION}"


def stored(r: pipeline.Run, split: str) -> bool:
    """Whether this run's ranking of the split is on disk (a few stats: no work)."""
    return pipeline.is_stored(suspects_folder(r, split))


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def suspects(r: pipeline.Run, split: str) -> dataquality.SuspectResult:
    return dataquality.suspects(r, split)


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def odd(r: pipeline.Run, split: str) -> quality.Odd:
    return dataquality.odd(r, split)


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def clusters(r: pipeline.Run) -> dataquality.ClusterResult:
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
