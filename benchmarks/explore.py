"""`aecore-bench`'s figures for Explore: the map over training fitted in the background, and
in Chromium, a lasso's gallery on 10,000 and 70,000 digits and Play's frame rate."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from aecore.analysis import projection
from aecore.core.config import TrainConfig
from aecore.data import datasets
from aecore.runs import mapping, pipeline, store
from aecore.training.loop import DoneEvent
from benchmarks import ui
from benchmarks.appserver import APP, browser, chromium_missing, streamlit_server
from benchmarks.compare import using_cache

TRIES = 3


def bench_explore(cfg: TrainConfig, done: DoneEvent, all_digits: bool) -> tuple[dict, dict]:
    """(umap figures, ui figures) for the finished run `done` of `cfg`, stored on a fresh
    cache: its map over training timed as the map worker fits it (numba warm), then the
    browser's hands on a server over that cache (the map of all digits only with
    `all_digits`: it takes about a minute to fit)."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        with using_cache(cache):
            store.write_artefact(store.run_dir(cfg.key()), pipeline.run_files(cfg, done, "cpu"))
            run = pipeline.load_run(cfg.key())
            projection.warm_up()
            pipeline.embed(run)
            start = time.perf_counter()
            maps = mapping.embed_over_training(run)
            umap = {"snapshots_fit_s": time.perf_counter() - start,
                    "snapshots": len(maps.epochs),
                    "snapshots_last_knn_accuracy_2d": maps.knn_accuracy_2d[-1]}
            if all_digits:
                start = time.perf_counter()
                umap["all_digits_fit_s"] = mapping.embed_all(run).map.seconds
                umap["all_digits_s"] = time.perf_counter() - start
        return umap, _hands(cache, all_digits)


def _hands(cache: Path, all_digits: bool) -> dict:
    reason = chromium_missing() if APP.exists() else "run from a checkout to measure"
    if reason:
        return {"lasso_to_gallery_s": None, "play_fps": None, "note": reason}
    data_dir = datasets.locate("mnist").parent.parent  # the server reads the same files
    env = {"AECORE_WARMUP": "0", "AECORE_DATA_DIR": str(data_dir)}
    lasso = {}
    with streamlit_server(cache, env) as url, browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(300_000)
        page.goto(f"{url}/explore")
        page.locator(".st-key-map").get_by_text("UMAP map of the codes").wait_for()
        time.sleep(1)
        lasso["10k"] = statistics.median(ui.lasso_to_gallery(page, TRIES))
        page.get_by_text("the test digits over training").click()
        page.locator(".st-key-map").get_by_text("Play").wait_for()
        time.sleep(1)
        fps = ui.play(page).fps
        if all_digits:
            page.get_by_text("all 70,000 digits").click()
            page.locator(".st-key-map").get_by_text("UMAP map of the codes of all").wait_for()
            time.sleep(1)
            lasso["70k"] = statistics.median(ui.lasso_to_gallery(page, TRIES))
    return {"lasso_to_gallery_s": lasso, "play_fps": fps, "tries": TRIES}
