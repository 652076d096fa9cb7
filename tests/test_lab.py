import threading

import numpy as np
import pytest
import torch

from aecore.analysis import classify, projection
from aecore.core.config import HeadConfig, ProjectionConfig
from aecore.core.errors import RunNotFound
from aecore.runs import drawing, pipeline, store
from aecore.training import latents
from aecore.training.loop import BatchEvent, EpochEvent
from tests.support import TINY, TINY_HEAD, stop_after_one_epoch
from tests.support import train_tiny as finish


def test_train_saves_then_loads_from_cache(tiny):
    first = finish()
    assert isinstance(first, pipeline.RunReady) and not first.cached
    folder = store.run_dir(TINY.key())
    assert {p.name for p in folder.iterdir()} >= {"config.json", "weights.safetensors",
                                                  "history.json", "metrics.json",
                                                  "manifest.json"}
    second = list(pipeline.train(TINY, device="cpu"))
    assert len(second) == 1 and second[0].cached
    x = torch.rand(4, 784)
    assert torch.equal(first.run.model.encode(x), second[0].run.model.encode(x))
    assert first.run.metrics["epochs_done"] == 3
    assert [r["run_id"] for r in pipeline.list_runs()] == [TINY.key()]


def test_force_retrains(tiny):
    finish()
    events = list(pipeline.train(TINY, device="cpu", force=True))
    assert any(isinstance(e, EpochEvent) for e in events)
    assert not events[-1].cached


def test_stopped_run_kept_only_after_an_epoch(tiny):
    stop = threading.Event()
    for event in pipeline.train(TINY, stop=stop, device="cpu"):
        if isinstance(event, BatchEvent) and event.step == 3:
            stop.set()
    assert pipeline.list_runs() == []  # stopped inside epoch 1: nothing kept

    stop.clear()
    for event in pipeline.train(TINY, stop=stop, device="cpu"):
        if isinstance(event, EpochEvent):
            stop.set()
    runs = pipeline.list_runs()
    assert len(runs) == 1 and runs[0]["metrics"]["stopped"]
    assert runs[0]["metrics"]["epochs_done"] == 1
    # asking for the same config again retrains it in full
    again = finish()
    assert not again.cached and not again.run.metrics["stopped"]


def test_unknown_run(tiny):
    with pytest.raises(RunNotFound, match="no run"):
        pipeline.load_run("0123456789ab")


@pytest.mark.slow
def test_codes_maps_heads_are_cached(tiny):
    run = finish().run
    train_codes, test_codes = pipeline.codes(run)
    assert train_codes.shape == (600, 8) and test_codes.shape == (200, 8)
    pca = pipeline.embed(run, ProjectionConfig(method="pca"))
    assert pca.map.embedding.shape == (200, 2) and not pca.cached
    assert pca.knn_accuracy_2d == pytest.approx(
        projection.knn_accuracy_2d(pca.map.embedding, tiny.test_y.numpy()))
    assert pipeline.embed(run, ProjectionConfig(method="pca")).cached
    head = pipeline.classify(run, HeadConfig(head="mlp", **TINY_HEAD))
    rep = head.report
    assert rep["test_accuracy"] > 0.5  # ten bars; chance is 0.1
    assert rep["baselines"]["pixels"] > 0.9
    assert set(rep["baselines"]) == {"pixels", "pca"}
    assert np.array(rep["confusion"]).sum() == 200
    assert pipeline.classify(run, HeadConfig(head="mlp", **TINY_HEAD)).cached


@pytest.mark.slow
def test_a_drawing_head_waits_for_no_baselines_and_shares_its_twins(tiny, monkeypatch):
    run = finish().run
    calls = []
    real = classify.fit_and_score
    monkeypatch.setattr(pipeline, "fit_and_score", lambda *a: calls.append(len(a[0])) or real(*a))
    drawing = HeadConfig(head="linear", jitter=True, **TINY_HEAD)
    report = pipeline.classify(run, drawing).report
    assert "baselines" not in report and calls == [1200]  # the codes and their jittered copies
    plain = pipeline.classify(run, HeadConfig(head="linear", **TINY_HEAD)).report
    assert calls == [1200, 600, 600, 600]  # the plain head, then pixels and PCA
    assert pipeline.with_baselines(run, drawing, report)["baselines"] == plain["baselines"]
    assert calls == [1200, 600, 600, 600]  # read from the cache, not fitted again


@pytest.mark.slow
def test_predict_on_a_drawn_bar(tiny):
    run = finish().run
    head = pipeline.classify(run, HeadConfig(head="mlp", **TINY_HEAD)).head
    image = tiny.test_x[3].numpy()  # class 3
    big = np.kron(image, np.ones((10, 10), dtype=np.uint8))  # 280x280, like the canvas
    p = drawing.predict(run, head, big)
    assert len(p.probabilities) == 10 and abs(sum(p.probabilities) - 1) < 1e-4
    assert p.image.shape == (28, 28) and p.reconstruction.shape == (28, 28)
    assert p.code.shape == (8,)
    assert p.image.max() == pytest.approx(1.0)


def test_a_drawing_is_answered_before_any_head_is_trained(tiny):
    """Draw's answer at once: the vote of the nearest training codes, no head fitted."""
    from aecore.analysis.classify import NeighbourVote

    run = finish().run
    train_codes, test_codes = pipeline.codes(run)
    vote = NeighbourVote(train_codes, tiny.train_y)
    right = (vote.probabilities(test_codes).argmax(1) == tiny.test_y).float().mean()
    assert right > 0.7  # ten kinds of bars (chance 0.1), a 3-epoch run
    big = np.kron(tiny.test_x[3].numpy(), np.ones((10, 10), dtype=np.uint8))
    p = drawing.predict(run, vote, big)
    assert abs(sum(p.probabilities) - 1) < 1e-4 and p.digit == int(np.argmax(p.probabilities))
    assert not list(run.derived_dir.glob("head-*"))


def test_reading_a_drawing_gives_its_neighbours_novelty_and_place(tiny):
    """Draw's chain in one engine call, each part about the drawing's own code."""
    from aecore.analysis import projection, trust
    from aecore.analysis.classify import NeighbourVote
    from aecore.core.config import ProjectionConfig

    run = finish().run
    train_codes, test_codes = pipeline.codes(run)
    fitted = projection.fit(test_codes, ProjectionConfig(method="pca"))
    big = np.kron(tiny.test_x[3].numpy(), np.ones((10, 10), dtype=np.uint8))
    guess = drawing.predict(run, NeighbourVote(train_codes, tiny.train_y), big)
    reading = drawing.read(guess, test_codes, trust.own_nearest_distances(test_codes), fitted)
    code = reading.guess.code
    distances = (test_codes - code).norm(dim=1)
    assert len(reading.nearest) == drawing.NEAREST
    assert set(reading.nearest) == set(distances.argsort()[:drawing.NEAREST].tolist())
    assert np.isclose(reading.novelty.distance, float(distances.min()), atol=1e-5)
    assert np.allclose(reading.place, projection.place(code[None], fitted))
    assert reading.place.shape == (1, 2)


def derive_all(run: pipeline.Run) -> tuple[torch.Tensor, np.ndarray, dict]:
    pca = ProjectionConfig(method="pca")
    return (pipeline.codes(run)[1], pipeline.embed(run, pca).map.embedding,
            pipeline.classify(run, HeadConfig(head="linear", **TINY_HEAD)).head.state_dict())


@pytest.mark.slow
def test_derived_results_belong_to_their_weights(tiny):
    """A stopped run trained again in full keeps its id, not its codes, map or head; even a
    late computation for the old weights (a background task still running) cannot leak in."""
    stopped = stop_after_one_epoch()
    old_codes, old_map, _ = derive_all(stopped)
    full = finish().run
    assert full.run_id == stopped.run_id and full.weights_id != stopped.weights_id
    derive_all(stopped)  # a late task for the old weights writes its results after the retrain
    codes, embedding, head = derive_all(full)
    fresh = latents.encode(full.model, tiny.test_x)
    assert torch.allclose(codes, fresh) and not torch.allclose(codes, old_codes)
    expected = projection.fit(fresh, ProjectionConfig(method="pca")).embedding
    assert np.allclose(embedding, expected, atol=1e-4) and not np.allclose(embedding, old_map)
    fresh_head, _ = classify.fit_and_score(pipeline.codes(full)[0], tiny.train_y, fresh,
                                           tiny.test_y, HeadConfig(head="linear", **TINY_HEAD))
    for name, weights in fresh_head.state_dict().items():
        assert torch.allclose(head[name], weights, atol=1e-5), name
