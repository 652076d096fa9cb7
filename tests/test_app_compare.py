"""The Compare page under AppTest: a sweep from the page fills the table and the curves, a
sweep can be cancelled, two runs are compared."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from aecore.core.config import ProjectionConfig, TrainConfig
from aecore.runs import compare, pipeline, store
from dashboard import server
from tests.support import poll, texts, train_tiny, visit

PAGE = "views/compare.py"


@pytest.fixture(autouse=True)
def pca_maps(monkeypatch):
    """The sweep maps with PCA here: UMAP's numba compile is kept out of these tests."""
    monkeypatch.setattr(compare, "MAP", ProjectionConfig(method="pca"))


def sweep_from_the_page(app, dims: list[int], epochs: int) -> None:
    visit(app, PAGE)
    app.multiselect(key="sweep_dims").set_value(dims)
    app.slider(key="sweep_epochs").set_value(epochs).run()
    assert f"{len(dims)} runs: {len(dims)} to train" in texts(app)
    app.button(key="sweep_start").click().run()


@pytest.mark.slow
def test_a_sweep_fills_the_table_and_curves(app):
    visit(app, PAGE)
    assert "No runs of this dataset yet" in texts(app)
    sweep_from_the_page(app, [2, 4], 1)
    poll(app, lambda a: "Sweep done: 2 of 2 runs" in texts(a))
    app.run()
    [frame] = [d.value for d in app.dataframe]
    assert sorted(frame["latent_dim"]) == [2, 4]
    # HDBSCAN may find no cluster in a 1-epoch run's collapsed 2-d codes: then no figure
    figures = [f for f in compare.FIELDS if not f.startswith("cluster_")]
    assert frame[figures].notna().all().all() and frame["cluster_accuracy"].notna().any()
    charts = app.get("plotly_chart")
    assert len(charts) >= 6 + 2  # six curves, two maps
    assert "Digits whose neighbourhoods changed most" in texts(app)
    assert "2 runs of mnist" in texts(app)

    # The same sweep again trains nothing.
    app.multiselect(key="sweep_dims").set_value([2, 4, 8]).run()
    assert "3 runs: 1 to train, 2 trained already" in texts(app)


def test_cancel_drops_the_runs_not_started(app):
    assert pipeline.list_runs() == []
    sweep_from_the_page(app, [2, 3, 4], 100)
    poll(app, lambda a: any(b.key == "sweep_cancel" for b in a.button))
    app.button(key="sweep_cancel").click().run()
    poll(app, lambda a: "Sweep cancelled" in texts(a))
    # the first training goes on (only what had not started is dropped); stop it here
    queue = server.training_queue()
    if (running := queue.current()) is not None:
        assert running.config.latent_dim == 2
        queue.stop(running.job_id)
    assert queue.close(), "the stopped training did not end"
    # k=3 and k=4 never started: nothing of theirs was trained or stored
    assert {r["config"]["latent_dim"] for r in pipeline.list_runs()} <= {2}


def test_two_runs_side_by_side(app, tiny):
    for k in (3, 5):
        train_tiny(TrainConfig(latent_dim=k, epochs=1))
    visit(app, PAGE)
    assert app.selectbox(key="pair_a").value != app.selectbox(key="pair_b").value
    assert "keep the fewest" in texts(app)
    assert len(app.get("image")) == 1  # the grid of digits that changed most


def test_a_sweep_is_cancelled_only_by_its_session_a_link_watches(app, tiny):
    """B opening A's Compare link (`?sweep=`) could cancel A's sweep: the link shares the
    view, never the controls."""
    sweep_from_the_page(app, [2, 3], 100)
    sweep_id = app.query_params["sweep"]
    sweep_id = sweep_id[0] if isinstance(sweep_id, list) else sweep_id
    poll(app, lambda a: any(b.key == "sweep_cancel" for b in a.button))
    assert app.button(key="sweep_start").disabled  # one sweep at a time per tab

    for query in ({"sweep": sweep_id}, {}):  # with A's link, and without
        other = AppTest.from_file("../app.py", default_timeout=120)
        other.query_params.update(query)
        visit(other, PAGE)
        [bar] = other.get("progress")  # it watches: the bar says whose sweep it is
        assert re.match(r"Sweep \(another session’s\): [012] of 2 runs", bar.text), bar.text
        assert not any(b.key == "sweep_cancel" for b in other.button)
        assert not server.sweeps()[sweep_id].cancelled

    app.button(key="sweep_cancel").click().run()
    poll(app, lambda a: "Sweep cancelled" in texts(a))
    queue = server.training_queue()
    if (running := queue.current()) is not None:
        queue.stop(running.job_id)


def test_a_run_deleted_under_the_page_is_said_and_replaced(app, tiny):
    runs = [train_tiny(TrainConfig(latent_dim=k, epochs=1)).run
            for k in (3, 4, 5)]
    visit(app, PAGE)
    doomed = app.selectbox(key="pair_a").value
    assert app.sidebar.selectbox(key="run_id").value == doomed  # both: the newest run
    for _ in range(600):  # the page's heads and map write into the run: let them land first
        if not server.tasks().running():
            break
        time.sleep(0.5)
    shutil.rmtree(store.run_dir(doomed))
    lab_ids = {r.run_id for r in runs} - {doomed}
    app.run()
    assert not app.exception
    assert f"Run {doomed} is no longer stored, so the newest run is active now." in texts(app)
    assert f"Run {doomed[:6]} is no longer stored" in texts(app)
    assert app.selectbox(key="pair_a").value in lab_ids
    assert app.sidebar.selectbox(key="run_id").value in lab_ids
