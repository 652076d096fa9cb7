"""Explore under AppTest: the map over training, all digits, trust and the classifier's
regions, with the real engine on tiny data (maps fitted in this process)."""

from __future__ import annotations

import json

import pytest

from aecore.core.config import HeadConfig
from aecore.runs import mapping, pipeline, store
from tests.support import poll, texts, visit


def chart_spec(app) -> dict:
    return json.loads(app.get("plotly_chart")[0].proto.spec)


def test_the_map_over_training_plays_and_colours_by_each_frames_trust(app, trained):
    visit(app, "views/explore.py")
    app.radio(key="map_kind").set_value("training").run()
    poll(app, lambda a: "UMAP map of the test codes over training" in json.dumps(chart_spec(a)))
    assert "moments of training" in texts(app)
    spec = chart_spec(app)
    stored = mapping.embed_over_training(trained)  # the maps the page drew, from the cache
    assert len(spec["frames"]) == len(stored.epochs) >= 4  # 2 inside epoch 1, then 1 and 2
    assert spec["layout"]["sliders"][0]["steps"][-1]["label"] == "2"
    app.radio(key="colour").set_value("trust").run()
    assert "Map trust** of each frame" in texts(app)
    assert "kept" in chart_spec(app)["data"][0]["name"]
    app.radio(key="colour").set_value("error").run()
    assert "error" in chart_spec(app)["data"][0]["name"] and not app.exception


def test_trust_colouring_gives_the_maps_figures(app, trained):
    visit(app, "views/explore.py")
    poll(app, lambda a: "UMAP of their 8-d codes" in texts(a))
    app.radio(key="colour").set_value("trust").run()
    poll(app, lambda a: "trustworthiness" in texts(a))
    assert "continuity" in texts(app)
    assert chart_spec(app)["data"][0]["marker"]["colorbar"]["title"]["text"] == "kept"


@pytest.mark.slow
def test_all_digits_map_and_regions_once_a_classifier_exists(app, trained):
    visit(app, "views/explore.py")
    assert app.toggle(key="regions").disabled  # no classifier yet
    app.radio(key="map_kind").set_value("all").run()
    poll(app, lambda a: "UMAP map of the codes of all 800" in json.dumps(chart_spec(a)))
    assert "800 digits" in texts(app)
    assert "Index 0 to 199 are the test digits, then the 600 training" in texts(app)
    app.radio(key="colour").set_value("trust").run()
    assert "Trust is measured on the map of the test digits" in texts(app)
    visit(app, "views/reconstruct.py")  # coming back keeps the choices
    visit(app, "views/explore.py")
    assert app.radio(key="map_kind").value == "all" and app.radio(key="colour").value == "trust"

    pipeline.classify(trained, HeadConfig(head="linear"))  # the config the pages look for
    app.radio(key="map_kind").set_value("test").run()
    assert not app.toggle(key="regions").disabled
    app.toggle(key="regions").set_value(True).run()
    assert chart_spec(app)["data"][0]["type"] == "heatmap"
    app.radio(key="colour").set_value("correct").run()
    assert not app.exception and "No classifier" not in texts(app)


def test_a_run_without_snapshots_falls_back_to_the_test_map(app, trained):
    folder = store.run_dir(trained.run_id)
    files = store.read_artefact(folder)
    del files[pipeline.SNAPSHOTS]
    store.write_artefact(folder, files)
    visit(app, "views/explore.py")
    app.radio(key="map_kind").set_value("training").run()
    assert "No map over training" in texts(app) and "--force" in texts(app)
    spec = chart_spec(app)  # the test map: no frames to play
    assert "codes of the 200 test digits" in json.dumps(spec) and not spec.get("frames")
    assert "200 digits" in texts(app)


def test_damaged_snapshots_are_one_message_and_start_no_job(app, trained):
    from dashboard import derive, server

    path = store.run_dir(trained.run_id) / pipeline.SNAPSHOTS
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2:len(blob) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(blob))
    visit(app, "views/explore.py")
    app.radio(key="map_kind").set_value("training").run()
    assert "damaged" in texts(app) and not app.error
    assert server.tasks().get(derive.derived_job("embed_over_training", trained).key) is None
