"""What can be derived from a stored run, by name: the map worker computes these on request
and the pages wait for them, so both read this one table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from aecore.core.config import HeadConfig, ProjectionConfig
from aecore.runs import dataquality, mapping, pipeline


class Derived(NamedTuple):
    folder: Callable[[pipeline.Run, object], Path]   # where it is stored
    compute: Callable[[pipeline.Run, object], object]  # computes and stores it (cached)
    config: type                                       # its config class
    name: str                                          # as a page says it: "the UMAP map"


KINDS = {
    "embed": Derived(pipeline.map_folder, pipeline.embed, ProjectionConfig, "the {method} map"),
    "classify": Derived(pipeline.head_folder, pipeline.classify, HeadConfig,
                        "the {head} classifier"),
    "embed_over_training": Derived(mapping.training_folder, mapping.embed_over_training,
                                   ProjectionConfig, "the map over training"),
    "embed_all": Derived(mapping.all_folder, mapping.embed_all, ProjectionConfig,
                         "the map of all 70,000 images"),
    "map_trust": Derived(mapping.trust_folder, mapping.map_trust, ProjectionConfig,
                         "the map's trust"),
    "clusters": Derived(dataquality.clusters_folder, dataquality.clusters, ProjectionConfig,
                        "the map's clusters"),
}
