"""Every page under Streamlit's AppTest, with the real engine on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from aecore.core.config import HeadConfig, TrainConfig
from aecore.core.errors import AecoreError, DatasetUnavailable
from aecore.data import datasets
from aecore.runs import pipeline, store
from tests.support import poll, texts, train_tiny, visit

PAGES = ["views/train.py", "views/explore.py", "views/reconstruct.py", "views/classify.py",
         "views/draw.py"]
def test_every_page_without_a_run(app):
    for page in PAGES:
        visit(app, page)
    for page in PAGES[1:]:
        visit(app, page)
        assert "no trained run" in texts(app)
    assert app.sidebar.selectbox(key="dataset").value == "mnist"


def start_training(app: AppTest, epochs: int) -> None:
    visit(app, "views/train.py")
    app.slider(key="latent_dim").set_value(8)
    app.slider(key="epochs").set_value(epochs)
    app.select_slider(key="batch_size").set_value(32)
    app.button(key="train").click().run()


@pytest.mark.slow
def test_train_one_epoch_through_the_job(app):
    start_training(app, 1)
    cfg = TrainConfig(latent_dim=8, epochs=1, batch_size=32)
    # The sidebar is drawn before the page: a run that ends in between is listed on the next.
    poll(app, lambda a: "trained 1 epoch:" in texts(a) and active_run_id(a) == cfg.key())
    assert len(app.get("plotly_chart")) >= 1
    # the same config again, in this session: its job's outcome, and no Train button
    visit(app, "views/train.py")
    assert "trained 1 epoch:" in texts(app) and not _has(app, "train")
    # in another session: shown from the cache, not retrained
    other = AppTest.from_file("../app.py", default_timeout=120)
    visit(other, "views/train.py")
    other.slider(key="latent_dim").set_value(8)
    other.slider(key="epochs").set_value(1)
    other.select_slider(key="batch_size").set_value(32).run()
    assert "trained before" in texts(other)
    assert other.button(key="train").label == "Use this run"
    assert [r["run_id"] for r in pipeline.list_runs()] == [cfg.key()]


def test_stop_after_some_epochs_keeps_them_as_a_stopped_run(app):
    """(Stopping inside the first epoch keeps nothing: test_lab, where the stop is exact.)"""
    from dashboard import server

    start_training(app, 100)  # the slider's most; stopped after two epochs
    queue = server.training_queue()
    poll(app, lambda a: _has(a, "stop") and _epochs_done(queue) >= 2)
    app.button(key="stop").click().run()
    poll(app, lambda a: "stopped" in texts(a))
    assert "the finished epochs were kept" in texts(app)
    runs = pipeline.list_runs()
    assert len(runs) == 1 and runs[0]["metrics"]["stopped"]
    assert 2 <= runs[0]["metrics"]["epochs_done"] < 100


def _epochs_done(queue) -> int:
    status = queue.current()
    return len(status.epochs) if status is not None else 0


def active_run_id(at: AppTest) -> str | None:
    try:
        return at.sidebar.selectbox(key="run_id").value
    except KeyError:  # no run listed yet
        return None


def _has(at: AppTest, key: str) -> bool:
    try:
        at.button(key=key)
        return True
    except KeyError:
        return False


@pytest.mark.slow
def test_pages_with_a_run(app, trained):
    visit(app, "views/explore.py")
    assert app.radio(key="colour").value == "label"
    assert "PCA" in texts(app) or "UMAP" in texts(app)
    app.radio(key="colour").set_value("error").run()
    assert not app.exception
    app.radio(key="colour").set_value("correct").run()
    assert "No classifier" in texts(app)

    visit(app, "views/reconstruct.py")
    for mode in ("random", "per class", "worst"):
        app.radio(key="recon_mode").set_value(mode).run()
        assert not app.exception
        assert len(app.get("image")) >= 1
    app.number_input(key="interp_b").set_value(5).run()
    app.slider(key="trav_dim").set_value(3).run()
    assert not app.exception

    visit(app, "views/draw.py")
    assert app.slider(key="stroke_width").value == 20
    assert "draw a digit" in texts(app).lower()


@pytest.mark.slow
def test_classifier_page_trains_a_head(app, trained):
    visit(app, "views/classify.py")
    app.radio(key="head").set_value("linear").run()
    app.button(key="train_head").click().run()
    poll(app, lambda a: any(m.label == "Test accuracy" for m in a.metric))
    assert pipeline.is_stored(pipeline.head_folder(trained, HeadConfig(head="linear")))
    assert "Misclassified" in texts(app)
    visit(app, "views/explore.py")
    app.radio(key="colour").set_value("correct").run()
    assert "No classifier" not in texts(app)


def test_missing_dataset_is_an_error_box(app, trained, monkeypatch):
    def unavailable(name="mnist", download=True):
        raise DatasetUnavailable("MNIST is not available: set AECORE_DATA_DIR")

    monkeypatch.setattr(datasets, "load", unavailable)
    for page in PAGES[1:]:
        visit(app, page)
        assert "AECORE_DATA_DIR" in texts(app) and app.error


def test_two_sessions_do_not_change_each_other(app, trained):
    other = AppTest.from_file("../app.py", default_timeout=120)
    visit(app, "views/explore.py")
    visit(other, "views/explore.py")
    app.radio(key="colour").set_value("error").run()
    app.sidebar.selectbox(key="dataset").set_value("fashion").run()
    other.run()
    assert other.radio(key="colour").value == "label"
    assert other.sidebar.selectbox(key="dataset").value == "mnist"
    assert other.sidebar.selectbox(key="run_id").value == trained.run_id
    assert app.sidebar.selectbox(key="dataset").value == "fashion"
    assert not other.exception and not app.exception


def test_a_failed_map_shows_one_error_and_stops_polling(app, trained, monkeypatch):
    from aecore.analysis import projection
    from dashboard import derive

    real_fit, broken = projection._fit_umap, [True]

    def fit(codes, cfg):
        if broken:
            raise AecoreError("the map could not be fitted (test)")
        return real_fit(codes, cfg)

    monkeypatch.setattr(projection, "_fit_umap", fit)
    runs = []
    real_current_map = derive.current_map  # called once in each run of Explore
    monkeypatch.setattr(derive, "current_map", lambda r: runs.append(1) or real_current_map(r))
    visit(app, "views/explore.py")
    poll(app, lambda a: "could not be fitted" in texts(a))
    runs.clear()
    app.run(timeout=30)  # a page that reran itself forever would never finish this run
    assert len(runs) == 1, "the page reran itself after the failure"
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "Computing the UMAP map failed" in errors[0]
    assert "UMAP is fitting" not in texts(app)
    assert "PCA of their 8-d codes" in texts(app)
    broken.clear()  # the cause is gone: Retry fits the map
    app.button(key=f"retry-{derive.map_job(trained).key}").click().run()
    poll(app, lambda a: "UMAP of their 8-d codes" in texts(a))
    assert not app.error


def test_a_session_keeps_its_run_while_another_trains(app, trained):
    """B only watches the Train page while A trains: B's active run stays B's choice."""
    watcher = AppTest.from_file("../app.py", default_timeout=120)
    visit(watcher, "views/train.py")
    assert watcher.sidebar.selectbox(key="run_id").value == trained.run_id
    start_training(app, 1)
    new = TrainConfig(latent_dim=8, epochs=1, batch_size=32)
    poll(watcher, lambda w: pipeline.find_complete(new.key()) is not None)

    watcher.run()
    picker = watcher.sidebar.selectbox(key="run_id")
    assert new.key() in picker.options or any(new.key()[:6] in o for o in picker.options)
    assert picker.value == trained.run_id
    poll(app, lambda a: a.sidebar.selectbox(key="run_id").value == new.key())


def test_app_caches_follow_the_weights(tiny):
    """The app's cached run, codes, reconstructions and maps after a stopped run is trained
    again: every one comes from the new weights."""
    from aecore.training import latents
    from dashboard import cached
    from tests.support import stop_after_one_epoch

    st.cache_resource.clear()
    stopped = cached.run(stop_after_one_epoch().run_id)
    old_codes = cached.codes(stopped)[1]
    cached.test_reconstructions(stopped)
    cached.map_result(stopped, "pca")
    full = train_tiny().run
    again = cached.run(full.run_id)
    assert again.weights_id == full.weights_id != stopped.weights_id
    fresh = latents.encode(full.model, tiny.test_x)
    assert torch.allclose(cached.codes(again)[1], fresh)
    assert not torch.allclose(cached.codes(again)[1], old_codes)
    recon, _ = cached.test_reconstructions(again)
    assert np.allclose(recon, latents.decode(full.model, fresh).numpy(), atol=1e-5)
    assert torch.allclose(cached.map_result(again, "pca").map.codes, fresh)
    st.cache_resource.clear()


def test_train_settings_survive_a_visit_to_another_page(app, trained):
    visit(app, "views/train.py")
    app.slider(key="latent_dim").set_value(11).run()
    app.slider(key="epochs").set_value(40).run()
    visit(app, "views/explore.py")
    visit(app, "views/train.py")
    assert app.slider(key="latent_dim").value == 11 and app.slider(key="epochs").value == 40


@pytest.mark.slow
def test_a_corrupt_head_is_never_refitted_in_the_page(app, trained, monkeypatch):
    cfg = HeadConfig(head="linear")
    pipeline.classify(trained, cfg)
    weights = pipeline.head_folder(trained, cfg) / "weights.safetensors"
    weights.write_bytes(b"garbage")
    fits = []
    real = pipeline.fit_and_score
    monkeypatch.setattr(pipeline, "fit_and_score", lambda *a: fits.append(1) or real(*a))
    visit(app, "views/classify.py")
    app.radio(key="head").set_value("linear").run()
    assert fits == [] and _has(app, "train_head")  # offered again, not refitted in the page
    assert not pipeline.is_stored(pipeline.head_folder(trained, cfg))  # moved aside


def test_own_trainings_in_a_row_activate_the_newest(app):
    start_training(app, 1)
    app.slider(key="latent_dim").set_value(9).run()
    app.button(key="train").click().run()  # queued behind the first
    first, second = (TrainConfig(latent_dim=k, epochs=1, batch_size=32) for k in (8, 9))
    poll(app, lambda a: pipeline.find_complete(second.key()) is not None)
    poll(app, lambda a: a.sidebar.selectbox(key="run_id").value == second.key())
    assert pipeline.find_complete(first.key()) is not None
    assert "Your trainings in this session (2)" in str([e.label for e in app.expander])


def test_a_watcher_has_no_stop_button(app, trained):
    start_training(app, 100)  # the slider's most: stopped below
    poll(app, lambda a: _has(a, "stop"))
    watcher = AppTest.from_file("../app.py", default_timeout=120)
    visit(watcher, "views/train.py")
    assert "Another session's training" in texts(watcher) and not _has(watcher, "stop")
    start_training(watcher, 100)  # the same config: the watcher joins it, and still cannot
    assert "you joined it" in texts(watcher) and not _has(watcher, "stop")  # stop it
    app.button(key="stop").click().run()


def test_an_unreadable_active_run_gives_way_to_another(app, trained):
    other_id = train_tiny(TrainConfig(latent_dim=6, epochs=1, batch_size=32, lr=3e-2)).run.run_id
    visit(app, "views/explore.py")
    app.sidebar.selectbox(key="run_id").set_value(trained.run_id).run()
    (store.run_dir(trained.run_id) / store.MANIFEST).write_text("{garbage")
    app.radio(key="colour").set_value("error").run()
    assert not app.exception
    assert "moved aside" in texts(app) and app.sidebar.selectbox(key="run_id").value == other_id


def test_a_hand_edited_run_reads_as_unknown_on_every_page(app, trained):
    """A metric that is not a number (the manifest updated to match) once took down every
    page for every session; it reads as unknown and nothing raises."""
    import json

    folder = store.run_dir(trained.run_id)
    edited = json.dumps({**trained.metrics, "test_loss": "0.2578", "train_loss": None,
                         "epochs_done": "2", "stopped": "yes"}).encode()
    manifest = json.loads((folder / store.MANIFEST).read_text())
    (folder / "metrics.json").write_bytes(edited)
    manifest["files"]["metrics.json"] = store._sha256(edited)
    (folder / store.MANIFEST).write_text(json.dumps(manifest))
    for page in [*PAGES, "views/compare.py"]:
        visit(app, page)
    assert "BCE unknown" in app.sidebar.selectbox(key="run_id").format_func(trained.run_id)
    assert folder.is_dir() and pipeline.load_run(trained.run_id).metrics["test_loss"] is None


def test_deleting_the_active_run_asks_first_and_another_takes_its_place(app, trained):
    other = train_tiny(TrainConfig(latent_dim=6, epochs=1, batch_size=32, lr=3e-2)).run
    visit(app, "views/train.py")
    app.sidebar.selectbox(key="run_id").set_value(trained.run_id).run()
    assert "Cache: " in texts(app) and " on disk" in texts(app)
    assert app.sidebar.button(key="delete_run").disabled  # not before its confirmation
    app.sidebar.checkbox(key=f"confirm_delete_{trained.run_id}").check().run()
    app.sidebar.button(key="delete_run").click().run()
    assert not app.exception
    assert f"Run {trained.run_id} was deleted" in texts(app)
    assert not store.run_dir(trained.run_id).exists()
    assert [r["run_id"] for r in pipeline.list_runs()] == [other.run_id]
    assert app.sidebar.selectbox(key="run_id").value == other.run_id
