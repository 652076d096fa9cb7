"""What may be wrong with the data, read from the codes: suspect labels, odd images,
near-duplicates, and the clusters the codes form against the labels.

Suspect labels: every image gets class probabilities from models that never saw its label (a
head cross-validated over the training split, or the head trained on it for the test split,
averaged with the label vote of its nearest training codes), and cleanlab ranks the labels by
its label-quality score on those probabilities. cleanlab is the field's reference for this
(Northcutt et al., "Confident Learning", which found MNIST's own label errors), well kept and
tested; we only supply out-of-sample probabilities, which is the part its docs ask of us.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from aecore.analysis.classify import train_head
from aecore.analysis.projection import exact_knn
from aecore.core.config import HeadConfig
from aecore.core.errors import InvalidConfig

FOLDS = 5             # cross-validation folds on the training split
VOTERS = 10           # nearest training codes whose labels vote
ODD_K = 5             # oddness: distance to the 5th nearest other code (a pair is not a crowd)
METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
METHOD = "self_confidence"  # cleanlab's default; measured best on flipped MNIST labels


@dataclass(frozen=True)
class Suspects:
    method: str
    scores: np.ndarray      # float32 [N]: label quality, 0 (surely wrong) to 1, by index
    suggested: np.ndarray   # int64 [N]: the likeliest class by the out-of-sample probabilities
    order: np.ndarray       # int64 [N]: indices, worst first


def cross_validated(codes: torch.Tensor, labels: torch.Tensor, n_classes: int,
                    cfg: HeadConfig | None = None, folds: int = FOLDS, seed: int = 0
                    ) -> np.ndarray:
    """float32 [N, C]: each code's class probabilities from a head trained on the other folds
    (stratified: each fold holds its share of every class)."""
    cfg = cfg or HeadConfig()
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for c in range(n_classes):
        members = np.flatnonzero(labels.numpy() == c)
        fold[rng.permutation(members)] = np.arange(len(members)) % folds
    probs = np.zeros((len(labels), n_classes), dtype=np.float32)
    for f in range(folds):
        held = fold == f
        if not held.any():
            continue
        head = train_head(codes[~held], labels[~held], cfg, n_classes)
        probs[held] = head.probabilities(codes[held]).numpy()
    return probs


def others(codes: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices [N, k], distances [N, k]): each code's k nearest other codes. Its own index is
    dropped wherever it sits: among identical codes (a duplicate image) it need not be first."""
    k = min(k, len(codes) - 1)
    idx, dist = exact_knn(codes.float(), codes.float(), k + 1)
    own = idx == torch.arange(len(codes))[:, None]
    own[~own.any(1), -1] = True  # itself beyond the k + 1 ties: drop the farthest instead
    keep = ~own
    return idx[keep].reshape(len(codes), k), dist[keep].reshape(len(codes), k)


def neighbour_vote(queries: torch.Tensor, codes: torch.Tensor, labels: torch.Tensor,
                   n_classes: int, skip_self: bool, k: int = VOTERS) -> np.ndarray:
    """float32 [Q, C]: the labels of each query's k nearest codes, as shares (a code never
    votes for itself when queries are the codes: skip_self)."""
    if skip_self:
        idx, _ = others(codes, k)
    else:
        idx, _ = exact_knn(queries.float(), codes.float(), k)
    return F.one_hot(labels[idx], n_classes).float().mean(1).numpy()


def rank(labels: np.ndarray, probabilities: np.ndarray, method: str = METHOD) -> Suspects:
    """cleanlab's label-quality scores of `labels` under out-of-sample `probabilities`."""
    from cleanlab.rank import get_label_quality_scores

    if not np.isfinite(probabilities).all():
        raise InvalidConfig("the run's codes are not finite numbers (did its training "
                            "diverge?): no label can be scored on them")
    probs = probabilities / probabilities.sum(1, keepdims=True)
    scores = get_label_quality_scores(labels, probs, method=method).astype(np.float32)
    return Suspects(method, scores, probs.argmax(1), np.argsort(scores, kind="stable"))


def confidence_baseline(labels: np.ndarray, head_probabilities: np.ndarray) -> Suspects:
    """The plain ranking a person would try first: the head's probability of the given label,
    lowest first (no neighbours, no cleanlab)."""
    scores = head_probabilities[np.arange(len(labels)), labels].astype(np.float32)
    return Suspects("head_confidence", scores, head_probabilities.argmax(1),
                    np.argsort(scores, kind="stable"))


def blend(head: np.ndarray, vote: np.ndarray) -> np.ndarray:
    """The head's probabilities and the neighbours' vote, equally weighted."""
    return (0.5 * head + 0.5 * vote).astype(np.float32)


@dataclass(frozen=True)
class Odd:
    odd: np.ndarray            # int64 [n]: the images least like any other, oddest first
    odd_distance: np.ndarray   # float32 [n]: their distance to the ODD_K-th nearest code
    pairs: np.ndarray          # int64 [m, 2]: near-duplicate pairs, closest codes first
    pair_code_distance: np.ndarray   # float32 [m]
    pair_pixel_distance: np.ndarray  # float32 [m]: root mean square over pixels in [0, 1]


def odd_and_pairs(codes: torch.Tensor, images: torch.Tensor, n: int = 50) -> Odd:
    """The n images whose codes are farthest from their ODD_K-th neighbour, and the n closest
    pairs of codes (each pair once), with the pixel distance beside: 0 is the same image
    twice, a look-alike differs in its pixels."""
    idx, dist = others(codes, ODD_K)
    kth = dist[:, -1].numpy()
    odd = np.argsort(-kth, kind="stable")[:n]
    first, nearest = np.arange(len(codes)), idx[:, 0].numpy()
    a, b = np.minimum(first, nearest), np.maximum(first, nearest)
    unique, where = np.unique(np.stack([a, b], 1), axis=0, return_index=True)
    d = dist[where, 0].numpy()
    close = np.argsort(d, kind="stable")[:n]
    pairs = unique[close]
    flat = images.reshape(len(images), -1)
    pixel = [float(((flat[i].float() - flat[j].float()) / 255).pow(2).mean().sqrt())
             for i, j in pairs]
    return Odd(odd, kth[odd], pairs, d[close].astype(np.float32),
               np.asarray(pixel, dtype=np.float32))


@dataclass(frozen=True)
class Clusters:
    assignment: np.ndarray     # int64 [N]: cluster per image, -1 for noise
    n_clusters: int
    noise_share: float
    ari: float                 # on the clustered images, against their labels
    ami: float
    clustering_accuracy: float  # every image: its cluster read as the cluster's majority
                                # label; noise counts as wrong

    def summary(self) -> dict:
        """JSON's numbers: null where there are no labels to score against."""
        def number(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 4)
        return {"n_clusters": self.n_clusters, "noise_share": round(self.noise_share, 4),
                "ari": number(self.ari), "ami": number(self.ami),
                "clustering_accuracy": number(self.clustering_accuracy)}


def min_cluster_size(n: int) -> int:
    """50 of MNIST's 10,000 test images: a cluster is at least half a percent of them."""
    return max(5, n // 200)


def clusters(points: np.ndarray, labels: np.ndarray | None) -> Clusters:
    """scikit-learn's HDBSCAN on points (a 2-D map, or codes), scored against labels."""
    from sklearn.cluster import HDBSCAN
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    found = HDBSCAN(min_cluster_size=min_cluster_size(len(points)), min_samples=10,
                    copy=True).fit_predict(np.asarray(points, dtype=np.float64))
    kept = found >= 0
    n_clusters = int(found.max() + 1) if kept.any() else 0
    if labels is None:
        return Clusters(found, n_clusters, float(1 - kept.mean()), float("nan"),
                        float("nan"), float("nan"))
    if kept.sum() < 2:  # all noise: nothing to compare, and every image counts as wrong
        return Clusters(found, n_clusters, float(1 - kept.mean()), float("nan"),
                        float("nan"), 0.0)
    right = sum(np.bincount(labels[found == c]).max() for c in range(n_clusters))
    return Clusters(found, n_clusters, float(1 - kept.mean()),
                    float(adjusted_rand_score(labels[kept], found[kept])),
                    float(adjusted_mutual_info_score(labels[kept], found[kept])),
                    float(right / len(labels)))


@dataclass(frozen=True)
class Retrieval:
    precision_at_n: float  # of the N worst ranked (N flipped), the share truly flipped
    recall_at_2n: float    # of the flipped, the share among the 2N worst ranked


def retrieval(order: np.ndarray, flipped: np.ndarray) -> Retrieval:
    n = max(len(flipped), 1)
    return Retrieval(len(np.intersect1d(order[:n], flipped)) / n,
                     len(np.intersect1d(order[:2 * n], flipped)) / n)
