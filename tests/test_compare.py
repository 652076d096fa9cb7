"""Rows of stored runs, curves over k, two maps aligned, neighbourhoods compared."""

import hashlib
import json

import numpy as np
import pytest
import torch

from aecore.core.config import ProjectionConfig, TrainConfig
from aecore.runs import compare, pipeline, store
from aecore.runs.compare import Row
from aecore.services import sweep
from tests.support import train_tiny


@pytest.fixture
def pca_maps(monkeypatch):
    """Sweeps map with PCA here: UMAP's numba compile is kept out of unit tests."""
    monkeypatch.setattr(compare, "MAP", ProjectionConfig(method="pca"))


def trained(cfg: TrainConfig) -> pipeline.Run:
    return train_tiny(cfg).run


@pytest.mark.slow
def test_rows_hold_what_was_computed_and_none_for_the_rest(tiny, pca_maps):
    derived = trained(TrainConfig(latent_dim=4, epochs=1))
    bare = trained(TrainConfig(latent_dim=8, epochs=2, seed=3))
    sweep.derive(derived)
    rows = {r.run_id: r for r in compare.report("mnist").rows}
    assert set(rows) == {derived.run_id, bare.run_id}

    r = rows[derived.run_id]
    linear = pipeline.classify(derived, compare.HEADS["linear"]).report
    assert r.linear_accuracy == pytest.approx(linear["test_accuracy"])
    assert r.mlp_accuracy == pytest.approx(
        pipeline.classify(derived, compare.HEADS["mlp"]).report["test_accuracy"])
    assert r.knn_accuracy_2d == pytest.approx(pipeline.embed(derived, compare.MAP).knn_accuracy_2d)
    assert r.test_loss == pytest.approx(derived.metrics["test_loss"])
    assert (r.model, r.latent_dim, r.epochs, r.seed, r.complete) == ("dense", 4, 1, 0, True)

    b = rows[bare.run_id]
    assert (b.linear_accuracy, b.mlp_accuracy, b.knn_accuracy_2d) == (None, None, None)
    assert (b.latent_dim, b.epochs, b.seed) == (8, 2, 3)

    base = compare.report("mnist").baselines
    assert base.pixels["linear"] == pytest.approx(linear["baselines"]["pixels"])
    assert base.pca["linear"] == {4: pytest.approx(linear["baselines"]["pca"])}
    assert compare.report("fashion").rows == []
    assert list(r.to_dict()) == list(compare.FIELDS)


@pytest.mark.slow
def test_a_corrupt_head_report_reads_as_not_computed(tiny, pca_maps):
    run = trained(TrainConfig(latent_dim=4, epochs=1))
    sweep.derive(run)
    report = pipeline.head_folder(run, compare.HEADS["mlp"]) / "report.json"
    report.write_text('{"test_accuracy": 1.0}')  # no longer matches its manifest
    [row] = compare.report().rows
    assert row.mlp_accuracy is None and row.linear_accuracy is not None


def test_rows_show_what_still_reads(tiny):
    good = trained(TrainConfig(latent_dim=4, epochs=1))
    bad = trained(TrainConfig(latent_dim=6, epochs=1))
    (store.run_dir(bad.run_id) / "metrics.json").write_text("{}")  # fails its checksum
    (store.run_dir(good.run_id) / "config.json").write_text("{}")  # no config: no row
    [row] = compare.report().rows
    assert row.run_id == bad.run_id and row.latent_dim == 6 and row.test_loss is None


def row(run_id, model="dense", k=8, seed=0, epochs=10, mlp=None, complete=True):
    return Row(run_id, model, k, epochs, seed, 0.1, None, mlp, None, 1.0, complete)


def test_curve_means_and_ranges_over_seeds_per_model_and_length():
    rows = [row("a", k=8, seed=0, mlp=0.90), row("b", k=8, seed=1, mlp=0.94),
            row("c", k=4, mlp=0.80), row("d", model="deep", k=8, mlp=0.97),
            row("e", k=8, seed=2, mlp=0.10, complete=False),  # stopped: left out
            row("f", k=8, seed=3),                            # no head: left out
            row("g", k=8, epochs=3, mlp=0.5)]
    points = compare.curve(rows, "mlp_accuracy")
    got = {(p.group, p.latent_dim): p for p in points}
    assert list(got) == [("deep · 10 ep", 8), ("dense · 10 ep", 4), ("dense · 10 ep", 8),
                         ("dense · 3 ep", 8)]
    p = got[("dense · 10 ep", 8)]
    assert (p.mean, p.low, p.high) == (pytest.approx(0.92), 0.90, 0.94)
    assert p.run_ids == ["a", "b"]


def test_align_undoes_a_rotation_mirror_scale_and_shift():
    gen = np.random.default_rng(0)
    ref = gen.normal(size=(500, 2)).astype(np.float32)
    angle = 1.1
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (3.5 * ref @ rot @ np.diag([1, -1]) + [10, -4]).astype(np.float32)
    assert np.abs(compare.align(ref, moved) - ref).max() < 1e-4
    unrelated = gen.normal(size=(500, 2)).astype(np.float32)
    assert np.abs(compare.align(ref, unrelated) - ref).mean() > 0.5


def test_neighbour_change_is_one_for_the_same_geometry_and_finds_the_moved_digits():
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(400, 6, generator=gen)
    # The same points in another basis and scale, in 3 more dimensions of zeros: same neighbours.
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen))
    other = torch.cat([2 * codes @ q, torch.zeros(400, 3)], 1)
    same = compare.neighbour_change(codes, other)
    assert np.allclose(same.overlap, 1.0) and same.mean == pytest.approx(1.0)

    moved = other.clone()
    moved[[5, 17, 99]] += 50 * torch.randn(3, 9, generator=gen)  # thrown far away
    change = compare.neighbour_change(codes, moved)
    assert set(change.changed_most[:3].tolist()) == {5, 17, 99}
    assert change.overlap[[5, 17, 99]].max() <= 0.2 and change.mean < 1.0
    with pytest.raises(ValueError, match="different digits"):
        compare.neighbour_change(codes, codes[:10])


def relist(folder, name: str, value) -> None:
    """Rewrite one file of an artefact and its manifest entry, as a person editing it would."""
    blob = json.dumps(value).encode()
    (folder / name).write_bytes(blob)
    manifest = json.loads((folder / store.MANIFEST).read_text())
    manifest["files"][name] = hashlib.sha256(blob).hexdigest()
    (folder / store.MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.slow
def test_odd_but_checksummed_files_read_as_not_computed(tiny, pca_maps):
    """Files a person edited (and re-listed): numbers that are not numbers read as None,
    a config that is not an object leaves its run out; nothing raises."""
    run = trained(TrainConfig(latent_dim=4, epochs=1))
    sweep.derive(run)
    folder = store.run_dir(run.run_id)
    metrics = json.loads((folder / "metrics.json").read_text())
    relist(folder, "metrics.json", {**metrics, "test_loss": "abc",
                                    "seconds_per_epoch": float("nan")})
    head = pipeline.head_folder(run, compare.HEADS["linear"])
    report = json.loads((head / "report.json").read_text())
    relist(head, "report.json", {**report, "baselines": [1]})
    [row] = compare.report().rows
    assert (row.test_loss, row.seconds_per_epoch) == (None, None)
    assert row.linear_accuracy is not None
    assert compare.frame([row])["test_loss"].isna().all()

    other = trained(TrainConfig(latent_dim=6, epochs=1))
    relist(store.run_dir(other.run_id), "config.json", [1, 2])
    assert [r.run_id for r in compare.report().rows] == [run.run_id]


def test_runs_with_other_settings_are_their_own_curve():
    odd = Row("x", "dense", 8, 10, 0, 0.1, None, 0.5, None, 1.0, True, "batch 1024, lr 0.5")
    points = compare.curve([row("a", mlp=0.9), odd], "mlp_accuracy")
    assert [(p.group, p.mean) for p in points] == [("dense · 10 ep", 0.9),
                                                   ("dense · 10 ep · batch 1024, lr 0.5", 0.5)]


def test_drawing_scores_are_the_stored_drawing_heads_best_first(tiny):
    """Draw's advice quotes these instead of one day's figures: each stored drawing head's
    reading of the canvas-style digits; a run without one, or with its figure hand-edited
    into text, is left out rather than shown as a number."""
    runs = [trained(TrainConfig(latent_dim=k, epochs=1)) for k in (4, 8)]
    assert compare.drawing_scores("mnist") == []
    reports = {r.run_id: pipeline.classify(r, compare.DRAW_HEAD).report for r in runs}
    scores = compare.drawing_scores("mnist")
    assert [s.run_id for s in scores] == sorted(
        reports, key=lambda run_id: -reports[run_id]["canvas_accuracy"])
    for s in scores:
        assert s.canvas_accuracy == pytest.approx(reports[s.run_id]["canvas_accuracy"])
        assert s.test_accuracy == pytest.approx(reports[s.run_id]["test_accuracy"])
        assert s.label == f"dense · k={pipeline.load_run(s.run_id).config.latent_dim} · 1 ep"
    assert compare.drawing_scores("fashion") == []

    for hand_edited in ("0.99", 1.5, -0.1, [0.9]):  # text, out of range, a list: left out
        folder = pipeline.head_folder(runs[0], compare.DRAW_HEAD)
        edited = {**reports[runs[0].run_id], "canvas_accuracy": hand_edited}
        store.write_artefact(folder, {**store.read_artefact(folder),
                                      "report.json": json.dumps(edited).encode()})
        assert [s.run_id for s in compare.drawing_scores("mnist")] == [runs[1].run_id]
