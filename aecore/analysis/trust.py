"""How far a 2-D map can be trusted: which neighbourhoods of the codes it keeps, which test
digits a new code resembles, and what a classifier says across the map's places.

Trustworthiness and continuity follow Venna & Kaski (2001): trustworthiness penalises map
neighbours that were far apart in code space, continuity code neighbours torn apart on the
map (scikit-learn's trustworthiness with the two spaces swapped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aecore.analysis.projection import Map, codes_at, exact_knn

NEIGHBOURS = 15
SAMPLE = 2_000      # digits the trustworthiness and continuity are computed on (fixed seed)
UNLIKE_PERCENTILE = 99.0
COLLAPSED_BELOW = 0.5  # share of distinct codes


@dataclass(frozen=True)
class TrustSummary:
    neighbours_kept_15: float   # mean over digits of the share of code neighbours kept
    trustworthiness: float
    continuity: float
    # The share of digits whose code is not another's. Identical codes make neighbourhoods
    # ties, broken arbitrarily: a collapsed model's trust figures mean nothing.
    distinct_codes: float = 1.0

    @property
    def collapsed(self) -> bool:
        return self.distinct_codes < COLLAPSED_BELOW

    def to_dict(self) -> dict:
        return vars(self).copy()


def map_neighbours(embedding: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """int64 [N, k]: each point's k nearest other points on the map (a k-d tree: 2-D)."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k).fit(embedding).kneighbors(return_distance=False)


def code_neighbours(codes: torch.Tensor, k: int = NEIGHBOURS) -> np.ndarray:
    """int64 [N, k]: each code's k nearest other codes."""
    return exact_knn(codes.float(), codes.float(), k, skip_self=True)[0].numpy()


def neighbours_kept(in_codes: np.ndarray, embedding: np.ndarray, k: int = NEIGHBOURS
                    ) -> np.ndarray:
    """Per point float32 [N]: the share of its k nearest in code space (`in_codes`, as
    code_neighbours gives them) that are also among its k nearest on the map."""
    both = np.sort(np.concatenate([in_codes[:, :k], map_neighbours(embedding, k)], 1), 1)
    # Both lists hold k distinct indices per row: a shared one is a repeat once sorted.
    return ((both[:, 1:] == both[:, :-1]).sum(1) / k).astype(np.float32)


def summarise(codes: torch.Tensor, embedding: np.ndarray, kept: np.ndarray,
              sample: int = SAMPLE, seed: int = 0) -> TrustSummary:
    from sklearn.manifold import trustworthiness

    rows = np.random.default_rng(seed).permutation(len(codes))[:sample]
    high, low = codes.float().numpy()[rows], embedding[rows]
    k = min(NEIGHBOURS, len(rows) // 2 - 1)
    distinct = len(torch.unique(codes.float(), dim=0)) / len(codes)
    return TrustSummary(float(kept.mean()), float(trustworthiness(high, low, n_neighbors=k)),
                        float(trustworthiness(low, high, n_neighbors=k)), distinct)


@dataclass(frozen=True)
class Nearest:
    in_codes: np.ndarray   # int64 [n]: the nearest other digits in code space, nearest first
    on_map: np.ndarray     # int64 [n]: the nearest other digits on the map


def nearest(fitted: Map, index: int, n: int = 8) -> Nearest:
    """A digit's n nearest neighbours in code space and on the map."""
    def around(points: torch.Tensor) -> np.ndarray:
        idx, _ = exact_knn(points[index:index + 1], points, n, skip_self=True)
        return idx[0].numpy()

    return Nearest(around(fitted.codes.float()), around(torch.from_numpy(fitted.embedding)))


@dataclass(frozen=True)
class Novelty:
    distance: float     # from the code to its nearest test code
    percentile: float   # of that distance among the test digits' own nearest distances
    threshold: float    # the UNLIKE_PERCENTILE-th of those distances
    median: float       # their median: 0 when most test codes coincide

    @property
    def unlike(self) -> bool:
        return self.distance > self.threshold

    @property
    def collapsed(self) -> bool:
        """Most test codes coincide: no distance can say how unusual a drawing is."""
        return self.median == 0.0


def own_nearest_distances(codes: torch.Tensor) -> np.ndarray:
    """float32 [N]: each code's distance to its nearest other code (sorted ascending)."""
    _, dist = exact_knn(codes.float(), codes.float(), 1, skip_self=True)
    return np.sort(dist[:, 0].numpy())


def novelty(code: torch.Tensor, codes: torch.Tensor, own_distances: np.ndarray) -> Novelty:
    """How unlike the test digits one new code [1, k] is, against `own_nearest_distances`."""
    _, dist = exact_knn(code.float().reshape(1, -1), codes.float(), 1)
    d = float(dist[0, 0])
    share = np.searchsorted(own_distances, d, side="left") / len(own_distances)  # strictly less
    return Novelty(d, 100.0 * share, float(np.percentile(own_distances, UNLIKE_PERCENTILE)),
                   float(np.median(own_distances)))


@dataclass(frozen=True)
class Regions:
    x: np.ndarray        # float32 [W]: the grid's columns
    y: np.ndarray        # float32 [H]: the grid's rows
    classes: np.ndarray  # int64 [H, W]: what the classifier says of the code at each place


def regions(fitted: Map, classify, size: int = 90) -> Regions:
    """The classifier's answer at a grid of places: each place's code is the same blend of
    its nearest map points that decodes a click (projection.codes_at). `classify` maps codes
    [Q, k] to class probabilities [Q, C]."""
    lo, hi = fitted.embedding.min(0), fitted.embedding.max(0)
    x = np.linspace(lo[0], hi[0], size, dtype=np.float32)
    y = np.linspace(lo[1], hi[1], size, dtype=np.float32)
    gx, gy = np.meshgrid(x, y)
    places = np.stack([gx.ravel(), gy.ravel()], 1)
    probs = classify(codes_at(places, fitted))
    return Regions(x, y, np.asarray(probs.argmax(1)).reshape(size, size))
