import numpy as np
import torch

from aecore.analysis import projection
from aecore.core.config import ProjectionConfig


def blobs(n_per=50, k=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(4, k, generator=gen) * 10
    codes = torch.cat([c + torch.randn(n_per, k, generator=gen) for c in centres])
    labels = np.repeat(np.arange(4), n_per)
    return codes, labels


def test_exact_knn_matches_brute_force():
    gen = torch.Generator().manual_seed(1)
    pts = torch.randn(300, 5, generator=gen)
    idx, dist = projection.exact_knn(pts, pts, 7)
    full = torch.cdist(pts, pts, compute_mode="donot_use_mm_for_euclid_dist")
    ref = full.argsort(1)[:, :7]
    assert torch.equal(idx[:, 0], torch.arange(300))  # each point is its own nearest
    assert torch.equal(idx, ref)
    assert torch.allclose(dist, full.gather(1, ref))
    # skip_self: still k neighbours, the 2nd to the (k+1)th nearest (self dropped)
    idx2, dist2 = projection.exact_knn(pts, pts, 7, skip_self=True)
    ref2 = full.argsort(1)[:, 1:8]
    assert torch.equal(idx2, ref2)
    assert torch.allclose(dist2, full.gather(1, ref2))


def test_exact_knn_is_exact_on_long_vectors():
    """cdist's matmul form puts a long vector ~1 away from itself; UMAP needs 0."""
    gen = torch.Generator().manual_seed(2)
    pts = torch.randn(500, 32, generator=gen) * 50 + 200
    idx, dist = projection.exact_knn(pts, pts, 5)
    assert torch.equal(idx[:, 0], torch.arange(500))
    assert dist[:, 0].abs().max() == 0
    ref = torch.cdist(pts, pts, compute_mode="donot_use_mm_for_euclid_dist").topk(
        5, largest=False).values
    assert torch.allclose(dist, ref, atol=1e-3)


def test_pca_map_place_and_codes_at():
    codes, labels = blobs()
    fitted = projection.fit(codes, ProjectionConfig(method="pca"))
    assert fitted.embedding.shape == (200, 2) and fitted.embedding.dtype == np.float32
    # a fitted code placed again lands on (nearly) its own position
    pos = projection.place(codes[:10], fitted)
    assert np.allclose(pos, fitted.embedding[:10], atol=1e-3)
    # a point of the map decodes to a code near the codes there
    back = projection.codes_at(fitted.embedding[:3], fitted)
    assert torch.allclose(back, codes[:3], atol=1e-2)
    # a place between two clusters blends codes of both
    mid = (fitted.embedding[0] + fitted.embedding[60]) / 2
    code = projection.codes_at(mid[None], fitted, k=8)[0]
    assert torch.norm(code - codes[0]) > 1 and torch.norm(code - codes[60]) > 1


def test_knn_accuracy_2d_tells_good_from_bad_maps():
    codes, labels = blobs()
    good = projection.fit(codes, ProjectionConfig(method="pca")).embedding
    rng = np.random.default_rng(0)
    bad = rng.normal(size=good.shape).astype(np.float32)
    assert projection.knn_accuracy_2d(good, labels) > 0.95
    assert projection.knn_accuracy_2d(bad, labels) < 0.5
