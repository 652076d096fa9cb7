"""The Data page and every page on a dataset a person added (AppTest, in-process training on
240 rendered shapes): the summary and samples, the sidebar's picker, training, the map, the
reconstructions in colour, the classifier, Draw's sentence, an unlabelled dataset, removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from aecore.runs import imported, pipeline
from benchmarks.shapes import make_folder
from tests.support import poll, texts, visit


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("shapes") / "shapes", per_class=40)


def train_from_the_page(app) -> None:
    visit(app, "views/train.py")
    app.slider(key="latent_dim").set_value(8)
    app.slider(key="epochs").set_value(2)
    app.button(key="train").click().run()
    poll(app, lambda a: "trained 2 epochs:" in texts(a))
    app.run()


def test_an_added_dataset_on_every_page(app_on_disk, shapes_folder):
    app = app_on_disk
    imported.add(shapes_folder, "shapes", size=32, colour=True)
    visit(app, "views/data.py")
    assert "shapes: 240 images" in [e.label for e in app.expander]
    summary = app.dataframe[1].value  # after the datasets known by name
    assert summary["images"][0] == 240 and summary["colour"][0] == "colour"
    app.button(key="use_shapes").click().run()
    assert app.sidebar.selectbox(key="dataset").value == "shapes"

    train_from_the_page(app)
    run_id = app.sidebar.selectbox(key="run_id").value
    assert pipeline.load_run(run_id).config.dataset == "shapes"
    visit(app, "views/reconstruct.py")
    assert len(app.get("image")) >= 3, "no reconstructions shown"
    visit(app, "views/explore.py")
    poll(app, lambda a: "36 images, UMAP" in texts(a) or "36 images, PCA" in texts(a))
    visit(app, "views/classify.py")
    app.button(key="train_head").click().run()
    poll(app, lambda a: "Test accuracy" in [m.label for m in a.metric])
    visit(app, "views/draw.py")
    assert "Draw reads grey 28x28 images with labels" in texts(app)
    assert "32x32 colour" in texts(app)


def test_an_unlabelled_dataset_and_its_removal(app_on_disk, shapes_folder, tmp_path):
    app = app_on_disk
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted(shapes_folder.rglob("*.png"))[:150]:
        (flat / f"{f.parent.name}-{f.name}").write_bytes(f.read_bytes())
    imported.add(flat, "flat")
    visit(app, "views/data.py")
    app.button(key="use_flat").click().run()
    train_from_the_page(app)
    visit(app, "views/classify.py")
    assert "flat has no labels" in texts(app)
    visit(app, "views/explore.py")
    app.radio(key="colour").set_value("correct").run()
    assert "flat has no labels, so nothing is right or wrong" in texts(app)
    visit(app, "views/data.py")
    app.button(key="remove_flat").click().run()
    assert "Removed flat and its 1 runs." in texts(app)
    assert app.sidebar.selectbox(key="dataset").value == "mnist"
    assert pipeline.list_runs() == []


def test_a_dataset_known_by_name(app_on_disk, tmp_path, monkeypatch):
    """EMNIST letters' stand-in in AECORE_DATA_DIR: listed as found, offered in the picker,
    trained from the page, drawn on; a missing one's download, offline, is one sentence."""
    from tests.test_idx import make_standins, trust, write

    standins = make_standins()
    write(tmp_path / "data", standins)
    trust(monkeypatch, standins)
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "data"))
    app = app_on_disk
    visit(app, "views/data.py")
    known = app.dataframe[0].value
    found = dict(zip(known["name"], known["files"], strict=True))
    assert found["emnist-letters"] == "<the data folder>/EMNIST/raw"  # no server path shown
    assert found["fashion"].startswith("not here")
    assert "EMNIST Letters (handwritten)" in app.sidebar.selectbox(key="dataset").options
    app.sidebar.selectbox(key="dataset").set_value("emnist-letters").run()
    train_from_the_page(app)
    visit(app, "views/draw.py")
    assert "Draw reads grey 28x28 images with labels" not in texts(app)
    assert "a letter" in texts(app)

    from torchvision import datasets as tv
    monkeypatch.setattr(tv.FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])
    visit(app, "views/data.py")
    app.selectbox(key="known_fetch").set_value("fashion")
    app.button[[b.label for b in app.button].index("Download")].click().run()
    assert len(app.error) == 1 and "FashionMNIST is not available: no download mirror " \
        "answers (127.0.0.1)" in texts(app)
