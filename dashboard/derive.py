"""What a page asks the server to derive for a run in the background (its UMAP map, its heads,
the drawing head), and what it shows meanwhile."""

from __future__ import annotations

from typing import NamedTuple

from aecore.core.config import HeadConfig
from aecore.runs import compare, pipeline
from dashboard import background, cached, server


class ShownMap(NamedTuple):
    result: pipeline.MapResult
    final: bool   # the UMAP map; else the PCA map, shown while UMAP fits
    state: str    # the UMAP job's: ready, running, failed


def current_map(r: pipeline.Run) -> ShownMap:
    """The UMAP map when stored; else the PCA map at once while the UMAP map fits."""
    state = background.follow(server.tasks(), map_job(r))
    method = "umap" if state == "ready" else "pca"
    return ShownMap(cached.map_result(r, method), state == "ready", state)


def map_without_hurry(r: pipeline.Run) -> ShownMap:
    """The UMAP map if it is stored, else the PCA map, and no job hurried: Draw's map while
    its drawing head trains in the same worker (the head's answer goes first)."""
    ready = pipeline.is_valid(map_job(r).folder)
    return ShownMap(cached.map_result(r, "umap" if ready else "pca"), ready,
                    "ready" if ready else "running")


def map_job(r: pipeline.Run, ahead: bool = False) -> background.Job:
    return background.map_job(r, cached.UMAP, server.mapper(), ahead)


def derived_job(kind: str, r: pipeline.Run, ahead: bool = False) -> background.Job:
    """A UMAP-based result of the run (see aecore/runs/derived.py) in the map worker."""
    return background.derived_job(kind, r, cached.UMAP, server.mapper(), ahead)


def start_map(r: pipeline.Run) -> None:
    """The Train page starts the UMAP map as soon as a training ends (one fit, a few seconds),
    so that it is usually ready when Explore opens; asked ahead of need, so what a page waits
    on goes first. The map over training (a fit per snapshot: 13 for a 10-epoch run, 23 for
    20) starts when a person picks it: on a server shared by a class, fitting it after every
    training took a CPU-minute per run that nobody might look at."""
    background.start(server.tasks(), map_job(r, ahead=True))
    # its clusters next (HDBSCAN on the map: a fraction of a second), for Compare's table
    background.start(server.tasks(), derived_job("clusters", r, ahead=True))


def head_job(r: pipeline.Run, head: str) -> background.Job:
    return background.head_job(r, HeadConfig(head=head), server.mapper())


def draw_head_job(r: pipeline.Run) -> background.Job:
    return background.head_job(r, compare.DRAW_HEAD, server.mapper())
