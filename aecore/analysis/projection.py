"""2-D maps of latent codes (UMAP or PCA), placing new codes on a map, decoding map points.

UMAP gets the exact 15 nearest neighbours from torch (cdist + topk) as `precomputed_knn`,
so pynndescent's index is never built (its numba compile is most of a cold fit), and runs
100 layout epochs: on 10k dense-32 codes ~2.5 s warm against ~8 s for the defaults, with the
same 2-D kNN accuracy.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from aecore.core.config import ProjectionConfig

KNN_CHUNK = 2_048
KNN_MARGIN = 8  # extra candidates re-ranked with exact distances
SERIES_EPOCH_SHARE = 0.3


@dataclass(frozen=True)
class Map:
    config: ProjectionConfig
    codes: torch.Tensor       # float32 [N, k]: the codes the map was fitted on
    embedding: np.ndarray     # float32 [N, 2]
    seconds: float


def exact_knn(queries: torch.Tensor, points: torch.Tensor, k: int,
              skip_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices int64 [Q, k], distances float32 [Q, k]) of the k nearest points, Euclidean.

    cdist's matmul form (|a|^2 + |b|^2 - 2ab) is fast but loses precision on long vectors:
    a point's distance to itself came out near 1.5 instead of 0 on dense-32 codes, which skews
    UMAP's local radius. So it only picks candidates; their distances are then recomputed as
    plain differences, and the candidates re-ranked."""
    extra = 1 if skip_self else 0
    want = min(k + extra, len(points))
    pool = min(want + KNN_MARGIN, len(points))
    idx, dist = [], []
    for start in range(0, len(queries), KNN_CHUNK):
        q = queries[start:start + KNN_CHUNK]
        _, cand = torch.topk(torch.cdist(q, points), pool, largest=False)   # [B, pool]
        exact = (points[cand] - q[:, None, :]).norm(dim=2)                   # [B, pool]
        values, order = torch.sort(exact, dim=1)
        idx.append(cand.gather(1, order)[:, extra:want])
        dist.append(values[:, extra:want])
    return torch.cat(idx), torch.cat(dist)


def code_neighbours(codes: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each code's k nearest codes, itself first at distance 0 (as UMAP's kNN lists them)."""
    return exact_knn(codes, codes, k)


def _fit_umap(codes: torch.Tensor, cfg: ProjectionConfig, init: np.ndarray | None = None,
              n_epochs: int | None = None,
              knn: tuple[torch.Tensor, torch.Tensor] | None = None) -> np.ndarray:
    from aecore.core.paths import set_numba_cache

    set_numba_cache()
    import umap  # heavy (numba): imported only when a map is fitted

    idx, dist = knn if knn is not None else code_neighbours(codes, cfg.n_neighbors)
    reducer = umap.UMAP(
        n_neighbors=cfg.n_neighbors, min_dist=cfg.min_dist, n_epochs=n_epochs or cfg.n_epochs,
        random_state=cfg.seed, precomputed_knn=(idx.numpy(), dist.numpy()),
        init="spectral" if init is None else init)
    with warnings.catch_warnings():
        # "no search index, transform unavailable" and "random_state disables n_jobs": both
        # known and wanted, since place() does its own transform.
        warnings.simplefilter("ignore", UserWarning)
        return reducer.fit_transform(codes.numpy()).astype(np.float32)


def _fit_pca(codes: torch.Tensor) -> np.ndarray:
    centred = codes - codes.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    return (centred @ v[:2].T).numpy().astype(np.float32)


def fit(codes: torch.Tensor, cfg: ProjectionConfig) -> Map:
    """Fit a 2-D map of codes float32 [N, k]."""
    codes = codes.float().contiguous()
    start = time.perf_counter()
    embedding = _fit_umap(codes, cfg) if cfg.method == "umap" else _fit_pca(codes)
    return Map(cfg, codes, embedding, time.perf_counter() - start)


class Frame(NamedTuple):
    embedding: np.ndarray   # float32 [N, 2]
    neighbours: np.ndarray  # int64 [N, n_neighbors]: each point's nearest codes, not itself


def fit_series(series: list[torch.Tensor], cfg: ProjectionConfig) -> list[Frame]:
    """Maps of the same N points at successive moments (codes [N, k] each), with each
    point's code neighbours (UMAP's own kNN, kept for measuring trust). Each UMAP starts from
    the layout before it, so a point moves instead of jumping, and needs fewer layout epochs
    (SERIES_EPOCH_SHARE of them) than a fit from scratch."""
    frames: list[Frame] = []
    for codes in series:
        codes = codes.float().contiguous()
        knn = code_neighbours(codes, cfg.n_neighbors + 1)
        before = frames[-1].embedding if frames else None
        if cfg.method == "pca":  # each axis's sign follows the frame before (SVD's is arbitrary)
            layout = _fit_pca(codes)
            if before is not None:
                layout *= np.where((layout * before).sum(0) < 0, -1, 1).astype(np.float32)
        else:
            umap_knn = (knn[0][:, :cfg.n_neighbors], knn[1][:, :cfg.n_neighbors])
            layout = _fit_umap(codes, cfg, init=before, knn=umap_knn,
                               n_epochs=None if before is None else
                               max(10, int(cfg.n_epochs * SERIES_EPOCH_SHARE)))
        frames.append(Frame(layout, knn[0][:, 1:].numpy()))
    # Each frame centred and scaled alike: UMAP's layouts grow as training sorts the codes,
    # and an early frame would be a speck in axes that fit the last one.
    return [Frame(_normalised(f.embedding), f.neighbours) for f in frames]


def _normalised(embedding: np.ndarray) -> np.ndarray:
    centred = embedding - np.median(embedding, 0)
    spread = np.percentile(np.linalg.norm(centred, axis=1), 95)
    return (centred / max(float(spread), 1e-6)).astype(np.float32)


def place(new_codes: torch.Tensor, fitted: Map, k: int | None = None) -> np.ndarray:
    """Map positions float32 [Q, 2] for new codes [Q, k]: the inverse-distance weighted mean of
    the positions of their nearest fitted codes (UMAP's own starting point for transform)."""
    k = k or fitted.config.n_neighbors
    idx, dist = exact_knn(new_codes.float(), fitted.codes, k)
    weights = 1.0 / (dist + 1e-6)
    weights = (weights / weights.sum(1, keepdim=True)).numpy()
    return np.einsum("qk,qkd->qd", weights, fitted.embedding[idx.numpy()]).astype(np.float32)


def codes_at(points: np.ndarray, fitted: Map, k: int = 8) -> torch.Tensor:
    """Codes float32 [Q, k] for 2-D map points [Q, 2]: the inverse-distance blend of the codes
    of the nearest map points, so a place between clusters decodes to what lives there."""
    emb = torch.from_numpy(fitted.embedding)
    idx, dist = exact_knn(torch.as_tensor(points, dtype=torch.float32), emb, k)
    weights = 1.0 / (dist + 1e-6)
    weights = weights / weights.sum(1, keepdim=True)
    return torch.einsum("qk,qkd->qd", weights, fitted.codes[idx])


def knn_accuracy_2d(embedding: np.ndarray, labels: np.ndarray, k: int = 5, folds: int = 5,
                    seed: int = 0) -> float:
    """Mean 5-fold accuracy of a 5-NN classifier in the 2-D map: how well the map keeps classes."""
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    cv = KFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(KNeighborsClassifier(k), embedding, labels, cv=cv).mean())


def warm_up(n: int = 600, seed: int = 0) -> float:
    """Fit a small UMAP so numba compiles (and caches to NUMBA_CACHE_DIR) the same kernels a
    real map uses; the app runs this in the background at start. Returns seconds taken."""
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    fit(torch.randn(n, 8, generator=gen), ProjectionConfig(n_epochs=10))
    return time.perf_counter() - start
