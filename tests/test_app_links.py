"""Links and downloads in the app (AppTest): the URL follows the view, a link reopens it in a
new session, a link to a run this server lacks says so and opens Train; each page offers its
downloads. The browser test (test_e2e_links) opens real URLs in a new Chromium context."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from aecore.core.config import HeadConfig, TrainConfig
from aecore.runs import pipeline
from dashboard import links
from tests.support import texts, train_tiny, visit


def train(k: int) -> pipeline.Run:
    return train_tiny(TrainConfig(latent_dim=k, epochs=1)).run


def query(at: AppTest) -> dict:
    return {k: v for k, v in at.query_params.items()}


def labels(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_the_url_follows_the_view_and_reopens_it(app):
    older, newer = train(3), train(4)
    visit(app, "views/explore.py")
    app.sidebar.selectbox(key="run_id").select(older.run_id).run()
    app.radio(key="colour").set_value("error").run()
    app.radio(key="map_kind").set_value("all").run()
    assert not app.exception
    url = query(app)
    assert url == {"dataset": "mnist", "run": older.run_id, "map": "all", "colour": "error"}

    fresh = AppTest.from_file("../app.py", default_timeout=120)  # another browser
    for k, v in {**url, "digits": "3,5,oops,7"}.items():
        fresh.query_params[k] = v
    visit(fresh, "views/explore.py")
    assert fresh.sidebar.selectbox(key="run_id").value == older.run_id != newer.run_id
    assert fresh.radio(key="colour").value == "error"
    assert fresh.radio(key="map_kind").value == "all"
    assert "3 selected digits" in texts(fresh)
    assert query(fresh)["digits"] == "3,5,7"

    visit(fresh, "views/train.py")  # Explore's choices leave the URL on other pages
    assert query(fresh) == {"dataset": "mnist", "run": older.run_id}


def test_a_link_to_the_map_of_all_digits_waits_for_a_click(app):
    """/explore?run=<id>&map=all fitted a 70,000-digit map in the server for whoever opened
    the link, and went on after the tab was closed."""
    from dashboard import derive, server

    run = train(3)
    app.query_params.update({"run": run.run_id, "map": "all"})
    visit(app, "views/explore.py")
    job = derive.derived_job("embed_all", run)
    assert "This link opens the map of all 800 digits" in texts(app)
    assert app.radio(key="map_kind").value == "all" and "then the 600 training" not in texts(app)
    assert server.tasks().get(job.key) is None  # nothing heavy started
    app.button(key="fit_all_map").click().run()
    assert server.tasks().get(job.key) is not None and not app.exception


def test_a_link_to_an_unknown_run_says_so_and_opens_train(app):
    kept = train(3)
    app.query_params["run"] = "0123456789ab"
    visit(app, "views/explore.py")
    assert "This link names run 0123456789ab, which this server does not store" in texts(app)
    assert app.title[0].value.startswith("Train")
    assert app.sidebar.selectbox(key="run_id").value == kept.run_id
    assert query(app)["run"] == kept.run_id


def test_a_link_cannot_break_the_page(app):
    train(3)
    for k, v in {"dataset": "nope", "colour": "<script>", "map": "x" * 5000,
                 "digits": "-1,99999999,,a,²"}.items():
        app.query_params[k] = v
    visit(app, "views/explore.py")
    assert app.radio(key="colour").value == "label" and app.radio(key="map_kind").value == "test"
    assert "selected digit" not in texts(app)  # 99999999 is not a test digit
    assert links.parse_digits("-1,2, 3 ,x,4.0,²,3,2") == [2, 3]
    assert links.parse_digits("1" * 5000) == []  # int() of it raised, on every reload
    assert links.parse_digits("7," * 100_000 + "8") == [7]  # read no further than a link can be


def test_a_link_writes_no_markdown_into_the_page(app):
    train(3)
    hostile = ("**Session expired.** [Log in again](https://evil.example) "
               "![](https://evil.example/x.png)")
    app.query_params["run"] = hostile
    app.query_params["digits"] = "1" * 5000
    visit(app, "views/explore.py")
    shown = [w.value for w in app.warning]
    assert shown and all("**" not in w and "](" not in w for w in shown), shown
    assert "This link names a run, which this server does not store" in texts(app)


@pytest.mark.slow
def test_downloads_on_each_page(app):
    run = train(3)
    visit(app, "views/train.py")
    assert labels(app.sidebar) == ["Weights (safetensors)", "Config (JSON)",
                                   "Report (one HTML file)"]
    visit(app, "views/explore.py")
    assert "The map (CSV)" in labels(app)
    pipeline.classify(run, HeadConfig(head="linear"))
    visit(app, "views/classify.py")
    app.radio(key="head").set_value("linear").run()
    assert {"Confusion matrix (CSV)", "Per-class accuracy (CSV)"} <= set(labels(app))
    visit(app, "views/compare.py")
    assert "The table (CSV)" in labels(app)


def test_a_selection_is_kept_while_away(app):
    train(3)
    app.query_params["digits"] = "4,8"
    visit(app, "views/explore.py")
    assert "map" in app.session_state  # the chart's own state, which leaving the page drops
    assert "2 selected digits" in texts(app)
    visit(app, "views/train.py")
    visit(app, "views/explore.py")
    assert "2 selected digits" in texts(app)
    assert query(app)["digits"] == "4,8"
    app.button(key="clear_selection").click().run()
    assert "selected digit" not in texts(app) and "digits" not in query(app)


def test_a_failed_download_says_why_and_sends_no_path(tiny):
    """A damaged derived folder made the report download save `aecore: error: could not save
    latents in /full/path/of/the/cache ...` as the .html file."""
    def page():
        import streamlit as st

        from aecore.core.errors import CacheWriteFailed
        from aecore.core.paths import cache_dir
        from dashboard import downloads

        def fails():
            raise CacheWriteFailed(f"could not save latents in {cache_dir()}/runs/x")

        made = downloads.safe(fails, "dl_report")
        if st.button("click", key="click"):  # what Streamlit does on the download's click
            try:
                st.session_state["file"] = made()
            except downloads.DownloadFailed:
                st.session_state["refused"] = True

    from aecore.core.paths import cache_dir

    at = AppTest.from_function(page, default_timeout=60).run()
    at.button(key="click").click().run()
    assert at.session_state["refused"] and "file" not in at.session_state  # no error as a file
    at.run()  # the page's next run says why, without the server's path
    assert "The last download failed: could not save latents in <the cache>/runs/x" in texts(at)
    assert str(cache_dir()) not in texts(at)
