"""What is wrong with the data, on small seeded data whose errors the tests planted: flipped
labels found first, an outlier found oddest, a duplicate told from a look-alike, clusters
scored against labels; the cached run-level results, the CLI's JSON, and the marks a person
keeps (checked, shared by two sessions, downloaded, and a head retrained with them)."""

from __future__ import annotations

import dataclasses
import json
import os
import threading

import numpy as np
import pytest
import torch

from aecore import cli
from aecore.analysis import quality
from aecore.core.errors import CacheCorrupt, InvalidConfig
from aecore.data import datasets
from aecore.runs import dataquality, marks
from tests.conftest import make_tiny, serve_tiny
from tests.support import train_tiny


def blobs(n: int, seed: int = 0, dim: int = 8, classes: int = 10):
    """Ten well-separated Gaussian clusters of codes, class c around 6 * e_c (mod dim)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centres = np.zeros((classes, dim))
    for c in range(classes):
        centres[c, c % dim] = 6.0
        centres[c, (c + 3) % dim] = 6.0 * (c >= dim)
    codes = centres[labels] + rng.normal(0, 1, (n, dim))
    return torch.from_numpy(codes).float(), torch.from_numpy(labels)


def flip(labels: torch.Tensor, n: int, seed: int = 1) -> tuple[torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(labels), n, replace=False)
    out = labels.clone()
    out[flipped] = (out[flipped] + torch.from_numpy(rng.integers(1, 10, n))) % 10
    return out, flipped


def test_flipped_labels_rank_first():
    codes, labels = blobs(800)
    noisy, flipped = flip(labels, 16)
    head = quality.cross_validated(codes, noisy, 10)
    vote = quality.neighbour_vote(codes, codes, noisy, 10, skip_self=True)
    ranked = quality.rank(noisy.numpy(), quality.blend(head, vote))
    found = quality.retrieval(ranked.order, flipped)
    assert found.precision_at_n >= 0.9 and found.recall_at_2n == 1.0
    assert (ranked.suggested[flipped] == labels.numpy()[flipped]).mean() >= 0.9
    assert ranked.scores[ranked.order[0]] <= ranked.scores[ranked.order[-1]]
    base = quality.confidence_baseline(noisy.numpy(), head)
    assert quality.retrieval(base.order, flipped).precision_at_n <= found.precision_at_n
    # no head saw the label it scores: with every label flipped in one class's fold the
    # held-out probabilities still point to the true class
    assert head.shape == (800, 10) and np.allclose(head.sum(1), 1, atol=1e-4)


def test_an_outlier_is_oddest_and_a_duplicate_is_told_from_a_look_alike():
    codes, _ = blobs(300, dim=8)
    images = torch.randint(0, 256, (300, 4, 4), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    codes[17] = 40.0                         # far from everything
    codes[5], images[5] = codes[200], images[200]    # the same image twice
    codes[9] = codes[100] + 1e-4                      # a look-alike: near code, other pixels
    found = quality.odd_and_pairs(codes, images, n=5)
    assert found.odd[0] == 17
    pairs = [tuple(p) for p in found.pairs[:2]]
    assert set(pairs) == {(5, 200), (9, 100)}
    pixel = dict(zip(pairs, found.pair_pixel_distance[:2], strict=True))
    assert pixel[(5, 200)] == 0.0 and pixel[(9, 100)] > 0.1


def test_all_noise_is_no_cluster_and_nothing_right():
    points = np.stack([2.0 ** np.arange(30), np.zeros(30)], 1)  # each gap twice the last
    found = quality.clusters(points, np.arange(30) % 3)
    assert found.n_clusters == 0 and found.noise_share == 1.0
    assert found.clustering_accuracy == 0.0 and np.isnan(found.ari)
    with pytest.raises(InvalidConfig, match="not finite"):
        quality.rank(np.zeros(3, int), np.full((3, 2), np.nan, np.float32))


def test_clusters_against_labels():
    rng = np.random.default_rng(0)
    labels = np.arange(1000) % 4
    centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20]])
    points = centres[labels] + rng.normal(0, 1, (1000, 2))
    found = quality.clusters(points, labels)
    assert found.n_clusters == 4 and found.noise_share < 0.05
    assert found.ari > 0.95 and found.ami > 0.95 and found.clustering_accuracy > 0.95
    merged = quality.clusters(points, labels % 2)  # two labels over four clusters
    assert merged.ari < 0.9 and merged.clustering_accuracy > 0.95
    assert quality.clusters(points, None).summary()["ari"] is None


@pytest.fixture
def planted(monkeypatch, cache):
    """The tiny data with 6 test labels and 12 training labels flipped."""
    data = make_tiny()
    test_y, test_flipped = flip(data.test_y, 6, seed=2)
    train_y, train_flipped = flip(data.train_y, 12, seed=3)
    served = dataclasses.replace(data, test_y=test_y, train_y=train_y)
    monkeypatch.setattr(datasets, "load", serve_tiny(served))
    run = train_tiny().run
    return run, data, test_flipped, train_flipped


def test_a_runs_suspects_are_cached_and_the_cli_prints_them(planted, capsys):
    run, data, test_flipped, train_flipped = planted
    test = dataquality.suspects(run, "test")
    assert len(np.intersect1d(test.order[:6], test_flipped)) >= 5
    train = dataquality.suspects(run, "train")
    found = quality.retrieval(train.order, train_flipped)  # 12 of 600: chance finds 0.02
    assert found.precision_at_n >= 0.5 and found.recall_at_2n >= 0.9
    again = dataquality.suspects(run, "test")
    assert again.seconds == test.seconds and np.array_equal(again.order, test.order)

    assert cli.main(["suspects", run.run_id, "--top", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"run_id", "split", "method", "suspects"} and out["split"] == "test"
    assert [s["index"] for s in out["suspects"]] == test.order[:6].tolist()
    assert set(out["suspects"][0]) == {"index", "label", "suggested", "score"}
    assert cli.main(["clusters", run.run_id, "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {
        "run_id", "n_clusters", "noise_share", "ari", "ami", "clustering_accuracy"}
    assert cli.main(["odd", run.run_id, "--top", "3", "--json"]) == 0
    odd = json.loads(capsys.readouterr().out)
    assert len(odd["odd"]) == 3 and len(odd["pairs"]) == 3
    with pytest.raises(SystemExit) as refused:
        cli.main(["suspects", run.run_id, "--top", "0"])
    assert refused.value.code == 2 and "--top takes a whole number" in capsys.readouterr().err


def test_a_damaged_ranking_is_computed_again(planted):
    run = planted[0]
    first = dataquality.suspects(run, "test")
    folder = run.derived_dir / f"suspects-test-v{dataquality.VERSION}"
    from aecore.runs import store
    files = store.verify_artefact(folder)
    t = store.parse_tensors(files, "suspects.safetensors", folder)
    t["order"] = t["order"][:10]  # a ranking of 10 images, its manifest rewritten to match
    store.write_artefact(folder, {**files, "suspects.safetensors": store.tensor_bytes(t)})
    again = dataquality.suspects(run, "test")
    assert np.array_equal(again.order, first.order)


def test_marks_correct_the_labels_and_a_head_is_retrained(planted):
    run, data, test_flipped, train_flipped = planted
    served = datasets.load("mnist")
    for i in train_flipped:
        marks.mark("mnist", "train", int(i), int(data.train_y[i]))
    for i in test_flipped[:3]:
        marks.mark("mnist", "test", int(i), int(data.test_y[i]))
    marks.mark("mnist", "test", int(test_flipped[3]), int(served.test_y[test_flipped[3]]))
    marks.mark("mnist", "test", int(test_flipped[0]), None)  # changed their mind
    kept = marks.checked("mnist")
    assert len(kept) == 12 + 2 + 1 and sum(m.wrong for m in kept) == 14
    csv = marks.csv_bytes("mnist").decode().splitlines()
    assert csv[0] == "split,index,given,corrected" and len(csv) == 16
    after = marks.retrain(run)
    assert after.train_fixed == 12 and after.test_fixed == 2
    assert 0 <= after.before <= 1 and after.after >= after.before - 0.02
    with pytest.raises(InvalidConfig, match="no test image 99999"):
        marks.mark("mnist", "test", 99_999, 1)
    with pytest.raises(InvalidConfig, match="has no class 10"):
        marks.mark("mnist", "test", 0, 10)


def test_marks_from_two_sessions_are_both_kept_and_a_damaged_file_says_so(tiny):
    threads = [threading.Thread(target=marks.mark, args=("mnist", "test", i, 3))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.index for m in marks.read("mnist")) == list(range(8))
    marks.path("mnist").write_text('[{"split": "test", "index": 5}]')
    with pytest.raises(CacheCorrupt, match="not a list of marks"):
        marks.read("mnist")
    marks.path("mnist").write_text('[{"split": "test", "index": 500000, "given": 1, '
                                   '"corrected": 2}]')
    assert marks.checked("mnist") == []  # an image this dataset lacks: dropped, not applied
    marks.path("mnist").unlink()
    os.symlink("/etc/hostname", marks.path("mnist"))
    with pytest.raises(CacheCorrupt, match="cannot be read"):
        marks.read("mnist")
    assert not list(marks.folder().glob(".tmp-*"))


def test_a_wrong_label_whose_suggestion_is_itself_is_left_out(planted):
    """A verdict of "wrong" where the suggestion is the given label: the image is left out of
    training (and of scoring, on the test split), never kept as if it were right."""
    from dashboard import doubts

    run, data, _, _ = planted
    given = int(datasets.load("mnist").train_y[3])
    marks.mark("mnist", "train", 3, doubts.correction(given, given, "wrong"))
    [kept] = marks.checked("mnist")
    assert kept.wrong and kept.corrected == marks.UNKNOWN
    assert marks.csv_bytes("mnist").decode().splitlines()[1].endswith(",")
    assert marks.retrain(run).train_fixed == 1


def test_marks_of_another_dataset_of_the_same_name_are_dropped(planted):
    served = datasets.load("mnist")
    marks.mark("mnist", "test", 0, int(served.test_y[0]))
    stale = marks.read("mnist")[0]
    marks.path("mnist").write_text(json.dumps([{**stale.__dict__,
                                                "given": (stale.given + 1) % 10}]))
    assert marks.checked("mnist") == []  # its label there is not the image's here


def test_the_clusters_figure_greys_noise_alone():
    from aecore.figures import mapplots

    assignment = np.array([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 3)
    fig = mapplots.clusters_figure(np.zeros((33, 2)), assignment)
    assert fig.data[0].name == "noise" and fig.data[0].marker.color == "#dddddd"
    colours = [t.marker.color.lower() for t in fig.data[1:]]
    assert len(set(colours)) == 10 and not set(colours) & mapplots.GREYS


def test_no_labels_no_suspects(tiny, monkeypatch):
    unlabelled = dataclasses.replace(make_tiny(), labelled=False)
    monkeypatch.setattr(datasets, "load", serve_tiny(unlabelled))
    run = train_tiny().run
    with pytest.raises(InvalidConfig, match="has no labels"):
        dataquality.suspects(run)


def test_the_data_quality_page(planted, monkeypatch):
    """Suspects found on a click and shown worst first; a verdict kept for the dataset (a new
    session sees it), downloaded, and a head retrained; odd images, pairs and clusters."""
    from tests.conftest import app_test
    from tests.support import poll, texts, visit

    run, data, test_flipped, _ = planted
    app = next(app_test(monkeypatch))
    visit(app, "views/quality.py")
    assert "Find suspect labels in the test split" in [b.label for b in app.button]
    app.button(key="find_test").click().run()
    assert not app.exception
    first = int(dataquality.suspects(run, "test").order[0])
    assert texts(app) and any(t.value.startswith(f"#{first} ·") for t in app.text)
    verdict = app.segmented_control(key=f"verdict_mnist_test_{first}")
    verdict.set_value("wrong").run()
    [kept] = marks.read("mnist")
    assert kept.index == first and kept.wrong
    app.button(key="retrain_head").click().run()
    assert "Retrained on the corrected labels" in [m.label for m in app.metric]
    assert any(b.label == "Corrections (CSV)" for b in app.get("download_button"))

    other = next(app_test(monkeypatch))  # another person's session sees the verdict
    visit(other, "views/quality.py")
    assert other.segmented_control(key=f"verdict_mnist_test_{first}").value == "wrong"
    marks.mark("mnist", "test", first, None)  # withdrawn in that other session ...
    app.run()  # ... and this one shows it withdrawn
    assert app.segmented_control(key=f"verdict_mnist_test_{first}").value is None

    app.toggle(key=f"odd_test_{run.run_id}").set_value(True).run()
    captions = [i.caption for e in app.get("image") for i in e.proto.imgs]
    odd = dataquality.odd(run, "test")
    assert any(c.startswith(f"#{odd.odd[0]} ") for c in captions)
    a, b = odd.pairs[0]
    assert any(c.startswith(f"#{a} #{b} · code") for c in captions)
    app.button(key="find_clusters").click().run()
    poll(app, lambda a: "Clusters" in [m.label for m in a.metric])
    app.radio(key="quality_colour").set_value("label quality").run()
    assert not app.exception
