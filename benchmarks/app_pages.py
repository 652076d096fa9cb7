"""`aecore-bench`'s figures of the app as its cache grows: listing 200 stored runs, a page switch
with 200 runs against 5, Draw's first answer on a run no page has seen, and the server's memory
over a sweep of 20 trainings (see suite.py for the rest)."""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from aecore.core.config import TrainConfig
from aecore.core.errors import RunNotFound
from aecore.runs import compare, pipeline, store
from benchmarks.appserver import APP, ServedURL, browser, chromium_missing, streamlit_server
from benchmarks.compare import _store_fake_run, using_cache
from benchmarks.ui import slide_to

MANY, FEW = 200, 5  # stored runs: the listing's and the page switch's
LISTING_REPEATS = 5
ROUND_TRIPS = 4  # timed Train -> Compare -> Train round trips, after one untimed
PAGES = (("Compare", "Compare runs"), ("Train", "Train an autoencoder"))  # (link, h1)
# Draw's figure trains this run, then removes it: a seed no page or test uses, so that no
# drawing head, codes or map of it are stored when it is timed.
DRAW_RUN = TrainConfig(epochs=1, seed=7919)
SEVEN = [(70, 60), (210, 60), (123, 250)]  # a stroke on Draw's 280x280 canvas
# The sweep whose trainings the server's memory is read over: 10 sizes x 2 seeds, 1 epoch.
RSS_SIZES = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48)
RSS_SEEDS = 2
POLL_S = 2.0  # the Compare page's polling of a sweep (views/compare.py)
# Bounds against a hang on a busy machine, never measures: a step of a page (a click, a
# rerun), and what waits on trainings, heads and maps.
STEP_MS = 120_000
WAIT_S = 900


def browser_missing() -> str | None:
    """Why no figure in Chromium can be measured here, or None."""
    return chromium_missing() if APP.exists() else "run from a checkout to measure"


@contextlib.contextmanager
def fake_runs(n: int) -> Iterator[Path]:
    """A temp cache holding n stored runs of mixed models, with heads' reports and map meta
    (untrained: what listing and comparing read, not what training costs); this process uses
    it meanwhile."""
    gen = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp, using_cache(Path(tmp) / "cache"):
        for i in range(n):
            _store_fake_run(i, gen)
        yield Path(tmp) / "cache"


def bench_runs_listing(n: int = MANY, repeats: int = LISTING_REPEATS) -> float:
    """Median milliseconds of `pipeline.list_runs()` (the sidebar's and `aecore runs`' listing)
    over n stored runs."""
    with fake_runs(n):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            listed = pipeline.list_runs()
            times.append((time.perf_counter() - start) * 1000)
        assert len(listed) == n, f"listed {len(listed)} of {n} stored runs"
    return statistics.median(times)


# --- a page's run in Chromium ----------------------------------------------------------------

_IDLE = "() => document.querySelector(\"[data-testid='stApp']\")" \
        "?.getAttribute('data-test-script-state') === 'notRunning'"
_SHOWS = """(title) => {
    const app = document.querySelector("[data-testid='stApp']");
    const h1 = document.querySelector("[data-testid='stMain'] h1");
    return app && app.getAttribute('data-test-script-state') === 'notRunning' && h1
        && h1.textContent.trim() === title; }"""


def settle(page, quiet: float = 2.5, limit: float = 300) -> None:
    """Wait until Streamlit has run nothing for `quiet` seconds (a page that polls a map or a
    sweep reruns every 2 s until it lands)."""
    deadline = time.monotonic() + limit
    since = time.monotonic()
    while time.monotonic() < deadline:
        if not page.evaluate(_IDLE):
            since = time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the page still reruns after {limit:.0f} s")


def switch(page, link: str, title: str) -> float:
    """Seconds from a click on the sidebar's link to the page's title shown and its script
    run ended."""
    target = page.locator("[data-testid='stSidebar']").get_by_role("link", name=link).first
    start = time.perf_counter()
    target.click()
    page.wait_for_function(_SHOWS, arg=title, polling="raf", timeout=WAIT_S * 1000)
    return time.perf_counter() - start


def switch_seconds(cache: Path, round_trips: int = ROUND_TRIPS) -> list[float]:
    """Each switch's seconds on a server over `cache`, after one untimed round trip (its
    first visits compute what later ones reuse) and with the page settled before each."""
    with tempfile.TemporaryDirectory() as logs, streamlit_server(cache, log_dir=Path(logs)) \
            as url, browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(STEP_MS)
        page.goto(url)
        page.wait_for_function(_SHOWS, arg=PAGES[-1][1], timeout=WAIT_S * 1000)
        for link, title in PAGES:
            switch(page, link, title)
        times = []
        for _ in range(round_trips):
            for link, title in PAGES:
                settle(page)
                times.append(switch(page, link, title))
                if errors := page.locator("[data-testid='stException']").all_inner_texts():
                    raise RuntimeError(f"the {link} page failed: {errors[0][:300]}")
    return times


def bench_page_switch(many: int = MANY, few: int = FEW, round_trips: int = ROUND_TRIPS
                      ) -> dict:
    """Median seconds of a page switch (Train <-> Compare, by the sidebar's links) with `many`
    stored runs over the same with `few`: how the app slows as runs pile up."""
    if reason := browser_missing():
        return {"page_switch_s_200": None, "page_switch_note": reason}
    medians = {}
    for n in (few, many):
        with fake_runs(n) as cache:
            medians[n] = statistics.median(switch_seconds(cache, round_trips))
    return {"page_switch_s_200": medians[many] / medians[few],
            "page_switch_s_at_5": medians[few], "page_switch_s_at_200": medians[many]}


# --- Draw's first answer ---------------------------------------------------------------------

def draw_stroke(page, points: list[tuple[float, float]], steps: int = 25) -> None:
    """One stroke through `points` (canvas pixels) on Draw's canvas, the mouse still down at
    its end (the caller times from the mouse-up)."""
    box = page.locator("canvas.upper-canvas").first.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=steps)


def forget_run(run_id: str) -> None:
    with contextlib.suppress(RunNotFound):
        pipeline.remove_run(run_id)


def bench_draw_first_answer(cfg: TrainConfig = DRAW_RUN) -> dict:
    """Seconds from the mouse-up that ends a stroke on Draw to "It looks like", on a run
    trained just before in this process's cache (a person's cache: numba's kernels are
    there, and the canvas digits once a drawing head was trained) that no page has seen:
    nothing of it is stored but its weights, so the answer is the nearest training codes'
    vote while the drawing head trains. The run is removed after."""
    if reason := browser_missing():
        return {"first_answer_new_run_s": None, "note": reason}
    run_id = cfg.key()
    forget_run(run_id)  # one an interrupted bench left, its head and all
    try:
        for _ in pipeline.train(cfg):
            pass
        with tempfile.TemporaryDirectory() as logs, \
                streamlit_server(store.cache_dir(), log_dir=Path(logs)) as url, browser() as b:
            page = b.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(STEP_MS)
            page.goto(f"{url}/draw?run={run_id}")
            page.get_by_text("on the black canvas").wait_for()  # the empty canvas' hint
            page.locator("canvas.upper-canvas").first.wait_for()
            draw_stroke(page, SEVEN)
            start = time.perf_counter()
            page.mouse.up()
            page.get_by_text("It looks like").first.wait_for(timeout=WAIT_S * 1000)
            seconds = time.perf_counter() - start
            voted = page.get_by_text("nearest training").count() > 0
    finally:
        forget_run(run_id)
    return {"first_answer_new_run_s": seconds, "answered_by": "neighbours" if voted else "head"}


# --- the server's memory over a sweep --------------------------------------------------------

def rss_mb(pid: int) -> float:
    """Resident memory of one process (not its children), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def set_sizes(page, sizes: tuple[int, ...]) -> None:
    """The sweep form's latent sizes made exactly `sizes` (one chip per rerun)."""
    form = page.locator("details").filter(has_text="Sweep latent sizes and models").first
    if form.get_attribute("open") is None:  # it opens by itself only while there are no runs
        form.locator("summary").click()
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Latent sizes")
    box.locator("[data-tag]").first.wait_for()
    for _ in range(40):  # bounded: one chip per rerun
        settle(page, quiet=0.5, limit=60)  # a click during a rerun can land on what moves
        chips = [int(t) for t in box.locator("[data-tag] span[title]").all_inner_texts()]
        extra = [k for k in chips if k not in sizes]
        missing = [k for k in sizes if k not in chips]
        if extra:
            box.get_by_role("button", name=f"Remove {extra[0]}").click()
            box.get_by_role("button", name=f"Remove {extra[0]}").wait_for(state="detached")
        elif missing:
            box.locator("input").first.click()
            page.get_by_role("option", name=str(missing[0]), exact=True).click()
            page.keyboard.press("Escape")  # the list stays open after a pick
        else:
            return
    raise RuntimeError(f"the sweep's latent sizes could not be set to {sizes}")


def landed(cache: Path) -> tuple[int, int]:
    """(runs stored in the cache, runs whose heads and map are all stored too)."""
    with using_cache(cache):
        rows = compare.report("mnist").rows
    return len(rows), sum(r.linear_accuracy is not None and r.mlp_accuracy is not None
                          and r.knn_accuracy_2d is not None for r in rows)


def wait_landed(cache: Path, runs: int) -> int:
    """Wait until `runs` runs have their heads and map; the runs stored by then."""
    deadline = time.monotonic() + WAIT_S
    while (found := landed(cache))[1] < runs:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{runs} runs with their heads and maps never landed "
                               f"({found[1]} of {found[0]} stored)")
        time.sleep(0.5)
    return found[0]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def placeholder_baselines(cache: Path, sizes: tuple[int, ...], dataset: str = "mnist") -> None:
    """Where pipeline.baselines keeps the heads' baselines (raw pixels, PCA with each k), a report
    with a made-up accuracy: what a head's report quotes, never computed."""
    for cfg in compare.HEADS.values():
        key = replace(cfg, jitter=False).key()
        for name in ("pixels", *(f"pca{k}" for k in sizes)):
            store.write_artefact(cache / "baselines" / dataset / f"{name}-{key}",
                                 {"report.json": store.json_bytes({"test_accuracy": 0.9})})


def _sweep_memory(page, url: ServedURL, cache: Path, sizes: tuple[int, ...], seeds: int
                  ) -> dict:
    """The sweep started from the Compare page: the server's RSS once its first run's heads
    and map landed (the map worker runs at the idle class, so later trainings may have
    landed by then: `trained_at_first` says how many), and once it is done."""
    configs = len(sizes) * seeds
    page.goto(f"{url}/compare")
    page.wait_for_function(_SHOWS, arg="Compare runs", timeout=WAIT_S * 1000)
    set_sizes(page, sizes)
    slide_to(page, "Epochs", 1)
    seeds_box = page.get_by_label("Seeds")
    seeds_box.fill(str(seeds))
    seeds_box.press("Enter")
    page.get_by_text(f"{configs} runs: {configs} to train, 0 trained already").wait_for()
    start = time.perf_counter()
    page.get_by_role("button", name="Sweep", exact=True).click()
    trained = wait_landed(cache, 1)
    # The page, which polls the sweep every 2 s, reruns on each result: let it show the
    # first run's table and curves (it never settles while the sweep runs).
    time.sleep(3 * POLL_S)
    first = rss_mb(url.pid)
    page.locator("[data-testid='stAlert']").filter(
        has_text=f"Sweep done: {configs} of {configs} runs").first.wait_for(
            timeout=max(WAIT_S, 120 * configs) * 1000)
    wait_landed(cache, configs)
    settle(page)
    last = rss_mb(url.pid)
    return {"rss_growth_mb": last - first, "configs": configs, "rss_first_mb": first,
            "rss_last_mb": last, "rss_peak_mb": peak_rss_mb(url.pid),
            "trained_at_first": trained, "sweep_s": time.perf_counter() - start}


def bench_rss_growth(sizes: tuple[int, ...] = RSS_SIZES, seeds: int = RSS_SEEDS) -> dict:
    """MB the server's process grew by from the first training of a Compare-page sweep (its
    heads and map landed) to the last (1 epoch each, dense, `sizes` x `seeds` configs),
    Chromium on the page throughout; numba's kernels are this process's cache's. The heads'
    baselines are stored beforehand as placeholders: they are fitted in the map worker, not
    the server, and 20 of them took minutes each on a busy machine."""
    configs = len(sizes) * seeds
    if reason := browser_missing():
        return {"rss_growth_mb": None, "configs": configs, "note": reason}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        placeholder_baselines(cache, sizes)
        with streamlit_server(cache) as url, browser() as b:
            page = b.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(STEP_MS)
            try:
                return _sweep_memory(page, url, cache, sizes, seeds)
            except Exception:
                page.screenshot(path="/tmp/aecore-bench-sweep-fail.png", full_page=True)
                raise


# --- what `aecore-bench` reports -------------------------------------------------------------

APP_KEYS = ("runs_listing_ms_200", "page_switch_s_200", "page_switch_s_at_5",
            "page_switch_s_at_200", "rss_growth_mb_20")


def app_figures(mode: str) -> tuple[dict, dict]:
    """(the report's "app" section, its "draw" section) for a bench mode: a smoke run measures
    none (storing 200 runs alone takes about 20 s here; the rest needs a server and
    Chromium); the sweep of 20 trainings, many minutes, only a full run."""
    app, draw = dict.fromkeys(APP_KEYS), {"first_answer_new_run_s": None}
    if mode == "smoke":
        return app, draw
    app["runs_listing_ms_200"] = bench_runs_listing()
    app.update(bench_page_switch())
    if mode == "full":  # its readings, the sweep's size and seconds beside the figure
        app["rss_sweep"] = bench_rss_growth()
        app["rss_growth_mb_20"] = app["rss_sweep"]["rss_growth_mb"]
    draw.update(bench_draw_first_answer())
    return app, draw
