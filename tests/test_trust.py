"""How far a map can be trusted: neighbourhoods kept, trustworthiness and continuity, the
nearest digits, a new code's novelty, and the classifier's regions (small seeded data)."""

import numpy as np
import pytest
import torch

from aecore.analysis import trust
from aecore.analysis.projection import Map
from aecore.core.config import ProjectionConfig


def blobs(n: int = 400, dim: int = 2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(4, dim, generator=gen) * 6
    return centres[torch.arange(n) % 4] + torch.randn(n, dim, generator=gen)


def test_a_faithful_map_keeps_every_neighbourhood_and_a_shuffled_one_almost_none():
    codes = blobs()
    faithful = codes.numpy()
    shuffled = faithful[np.random.default_rng(0).permutation(len(faithful))]
    kept = trust.neighbours_kept(trust.code_neighbours(codes), faithful)
    assert kept.shape == (400,) and kept.min() == 1.0
    lost = trust.neighbours_kept(trust.code_neighbours(codes), shuffled)
    assert lost.mean() < 0.1  # chance is 15 / 399
    good = trust.summarise(codes, faithful, kept)
    bad = trust.summarise(codes, shuffled, lost)
    assert good.trustworthiness == pytest.approx(1.0) and good.continuity == pytest.approx(1.0)
    assert bad.trustworthiness < 0.7 and bad.continuity < 0.7
    assert set(good.to_dict()) == {"neighbours_kept_15", "trustworthiness", "continuity",
                                   "distinct_codes"}
    assert not good.collapsed and good.distinct_codes == 1.0


def test_a_digit_torn_from_its_cluster_is_the_least_trusted():
    codes = blobs()
    embedding = codes.numpy().copy()
    embedding[7] = embedding[8] + 0.01  # digit 7 (cluster 3) placed inside cluster 0
    kept = trust.neighbours_kept(trust.code_neighbours(codes), embedding)
    assert kept[7] == kept.min() and kept[7] < 0.2


def test_nearest_in_code_space_and_on_the_map():
    codes = blobs(dim=8)
    embedding = np.zeros((400, 2), np.float32)
    embedding[:, 0] = np.arange(400)  # on the map, a digit's neighbours are the next indices
    near = trust.nearest(Map(ProjectionConfig(), codes, embedding, 0.0), 100, n=4)
    assert sorted(near.on_map) == [98, 99, 101, 102]
    assert 100 not in near.in_codes and all(j % 4 == 0 for j in near.in_codes)  # its cluster


def test_a_code_far_from_every_test_code_is_unlike_any_digit():
    codes = blobs(dim=8)
    own = trust.own_nearest_distances(codes)
    assert np.all(np.diff(own) >= 0) and own[0] > 0
    usual = trust.novelty(codes[3] + 0.01, codes, own)
    assert not usual.unlike and usual.percentile < 5
    far = trust.novelty(torch.full((8,), 100.0), codes, own)
    assert far.unlike and far.percentile == 100.0 and far.distance > far.threshold


def test_regions_follow_what_the_classifier_says_of_each_place():
    codes = blobs(dim=2)
    fitted = Map(ProjectionConfig(), codes, codes.numpy(), 0.0)

    def right_of_zero(c: torch.Tensor) -> torch.Tensor:  # class 1 where the code's x > 0
        right = (c[:, 0] > 0).float()
        return torch.stack([1 - right, right], 1)

    shade = trust.regions(fitted, right_of_zero, size=30)
    assert shade.classes.shape == (30, 30) and len(shade.x) == 30
    # the blend of nearby codes has the sign of the place where the data sits on both sides
    left_cluster = codes[codes[:, 0] < -3]
    right_cluster = codes[codes[:, 0] > 3]
    for cluster, expected in ((left_cluster, 0), (right_cluster, 1)):
        cx, cy = cluster.mean(0).tolist()
        col, row = np.abs(shade.x - cx).argmin(), np.abs(shade.y - cy).argmin()
        assert shade.classes[row, col] == expected


def test_collapsed_codes_are_said_to_be_ties_not_trusted():
    codes = torch.zeros(300, 8)
    codes[:10] = blobs(10, 8)  # all but ten digits share one code
    embedding = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    summary = trust.summarise(codes, embedding,
                              trust.neighbours_kept(trust.code_neighbours(codes), embedding))
    assert summary.collapsed and summary.distinct_codes == pytest.approx(11 / 300)
    own = trust.own_nearest_distances(codes)
    same = trust.novelty(torch.zeros(8), codes, own)
    assert same.collapsed and same.percentile == 0.0 and not same.unlike
