"""Snapshots of the test codes during training, the maps built on them, the map of all digits,
a map's trust, and the gallery's thumbnails (tiny data; PCA maps, so no numba here)."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from aecore.analysis import projection
from aecore.core.config import ProjectionConfig
from aecore.core.errors import NoSnapshots
from aecore.figures import gallery, mapplots
from aecore.runs import mapping, pipeline, store
from aecore.training import latents, loop
from tests.support import TINY
from tests.support import train_tiny as finish

PCA = ProjectionConfig(method="pca")


def test_snapshots_are_kept_inside_the_first_epoch_and_at_every_epoch_end(tiny):
    run = finish().run
    kept = mapping.snapshots(run)
    steps = -(-len(tiny.train_x) // TINY.batch_size)  # 19 steps of 32
    assert kept.epochs == [*loop.snapshot_steps(steps).values(), 1.0, 2.0, 3.0]
    assert 0 < kept.epochs[0] < kept.epochs[1] < 1
    assert kept.codes.dtype == torch.float16 and kept.codes.shape == (len(kept.epochs), 200, 8)
    # the last snapshot is the final model's codes
    final = latents.encode(run.model, tiny.test_x)
    torch.testing.assert_close(kept.codes[-1].float(), final, atol=2e-2, rtol=1e-2)


def test_snapshot_schedule():
    assert loop.snapshot_steps(469) == {5: 0.011, 24: 0.051, 94: 0.2}
    assert loop.snapshot_steps(2) == {1: 0.5}  # a one-step share and the epoch's end
    assert loop.snapshot_epochs(10) == set(range(1, 11))
    long = loop.snapshot_epochs(100)
    assert {1, 2, 3, 100} <= long and len(long) <= loop.MAX_EPOCH_SNAPSHOTS + 1


def test_loading_a_run_skips_its_snapshots_and_a_damaged_file_is_said(tiny):
    run = finish().run
    path = store.run_dir(run.run_id) / pipeline.SNAPSHOTS
    path.write_bytes(b"damaged")
    assert pipeline.load_run(run.run_id).weights_id == run.weights_id  # the run still loads
    with pytest.raises(NoSnapshots, match="damaged"):
        mapping.snapshots(run)


def test_a_run_without_snapshots_says_how_to_get_them(tiny):
    run = finish().run
    folder = store.run_dir(run.run_id)
    files = store.read_artefact(folder)
    del files[pipeline.SNAPSHOTS]
    store.write_artefact(folder, files)  # a run stored before snapshots were kept
    old = pipeline.load_run(run.run_id)
    assert not mapping.has_snapshots(old)
    with pytest.raises(NoSnapshots, match="--force"):
        mapping.snapshots(old)


def test_map_over_training_has_a_frame_per_snapshot_and_is_cached(tiny):
    run = finish().run
    maps = mapping.embed_over_training(run, PCA)
    n = len(mapping.snapshots(run).epochs)
    assert maps.embeddings.shape == (n, 200, 2) and maps.kept.shape == (n, 200)
    assert len(maps.knn_accuracy_2d) == n and not maps.cached
    assert maps.knn_accuracy_2d[-1] > 0.5  # the trained codes separate the tiny classes
    # frames are centred and scaled alike
    spread = np.percentile(np.linalg.norm(maps.embeddings, axis=2), 95, axis=1)
    np.testing.assert_allclose(spread, 1.0, rtol=1e-3)
    assert mapping.embed_over_training(run, PCA).cached


def test_pca_frames_keep_their_axes_from_frame_to_frame():
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(300, 6, generator=gen) * torch.tensor([5.0, 3, 1, 1, 1, 1])
    frames = projection.fit_series([codes, -codes, codes * 1.01], PCA)
    for before, after in zip(frames, frames[1:], strict=False):
        assert np.abs(after.embedding - before.embedding).max() < 0.05
    assert frames[0].neighbours.shape == (300, PCA.n_neighbors)


def test_the_map_of_all_digits_puts_the_test_digits_first(tiny):
    run = finish().run
    result = mapping.embed_all(run, PCA)
    assert result.map.embedding.shape == (800, 2) and result.map.codes.shape == (800, 8)
    labels = mapping.all_labels(tiny)
    np.testing.assert_array_equal(labels[:200], tiny.test_y.numpy())
    torch.testing.assert_close(mapping.all_images(tiny)[200:], tiny.train_x)
    test_map = pipeline.embed(run, PCA)
    assert 0 < result.knn_accuracy_2d <= 1 and test_map.map.embedding.shape == (200, 2)


def test_map_trust_is_stored_with_its_summary(tiny):
    run = finish().run
    measured = mapping.map_trust(run, PCA)
    assert measured.kept.shape == (200,) and 0 <= measured.kept.min() <= measured.kept.max() <= 1
    assert measured.summary.neighbours_kept_15 == pytest.approx(float(measured.kept.mean()))
    assert 0.5 < measured.summary.trustworthiness <= 1
    assert mapping.trust_folder(run, PCA).is_dir()


def test_thumbnails_are_encoded_once_and_match_the_reconstruction_error(tiny):
    run = finish().run
    thumbs = gallery.Thumbnails(run.model, tiny.test_x, latents.encode(run.model, tiny.test_x))
    pairs = thumbs.pairs([5, 3, 5])
    assert pairs[0] is pairs[2]
    png = base64.b64decode(pairs[1].uri.split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).size == (58, 28)
    expected = latents.reconstruction_error(run.model, tiny.test_x[[3]])[0]
    assert pairs[1].error == pytest.approx(float(expected), rel=1e-4)
    html = gallery.html_grid(pairs[:2], ["#5 <b>", "#3"])
    assert html.count("<img") == 2 and "&lt;b&gt;" in html


def test_training_figure_animates_every_colouring_with_single_colour_traces():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(4, 50, 2)).astype(np.float32)
    labels = np.arange(50) % 10
    names = [str(i) for i in range(10)]
    fig = mapplots.training_figure(emb, [0.05, 1.0, 2.0, 3.0], labels, names)
    assert len(fig.frames) == 4 and len(fig.data) == 10
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0.05", "1", "2", "3"]
    assert fig.layout.updatemenus[0].buttons[0].label.endswith("Play")
    kept = rng.uniform(size=(4, 50))
    trust_fig = mapplots.training_figure(emb, [0.05, 1.0, 2.0, 3.0], labels, names,
                                         mapplots.Colouring("trust", kept[0]), kept)
    for s, frame in enumerate(trust_fig.frames):  # each frame groups the digits by its own trust
        members = sorted(int(i) for trace in frame.data for i in trace.customdata)
        assert members == list(range(50))
        low = set(int(i) for i in frame.data[0].customdata)
        assert low == set(np.flatnonzero(kept[s] < 0.2))
    assert all(isinstance(t.marker.color, str) for t in trust_fig.data)
    single = mapplots.training_figure(emb[:1], [1.0], labels, names)
    assert not single.layout.sliders and not single.layout.updatemenus  # nothing to play


def test_map_figure_shades_regions_under_the_points():
    from aecore.analysis.trust import Regions

    emb = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    shade = Regions(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4), np.zeros((4, 5), int))
    fig = mapplots.map_figure(emb, np.arange(30) % 10, [str(i) for i in range(10)],
                              regions=shade)
    assert fig.data[0].type == "heatmap" and fig.data[0].hoverinfo == "skip"
    assert fig.data[-1].name == "empty place"
