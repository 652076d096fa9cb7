"""Shared fixtures: a private cache per test, tiny seeded datasets, the real MNIST when present."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aecore.core.errors import DatasetUnavailable
from aecore.data import datasets

ROOT = Path(__file__).resolve().parents[1]
# numba's compile cache is shared by every test run, so UMAP compiles once per machine.
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "cache" / "numba"))


def make_tiny(n_train: int = 600, n_test: int = 200, seed: int = 0,
              name: str = "mnist") -> datasets.Dataset:
    """The engine's synthetic bars (ten classes a head separates), served as `name`."""
    return datasets.bars(n_train, n_test, seed, name)


def serve_tiny(tiny_data: datasets.Dataset):
    """A datasets.load that serves the tiny data under every built-in name (with that
    dataset's class names and nouns); an added dataset's name still loads what was added."""
    real_load = datasets.load
    served = {name: dataclasses.replace(tiny_data, name=name,
                                        label_names=datasets.LABEL_NAMES[name],
                                        nouns=datasets.NOUNS[name])
              for name in datasets.DATASETS}

    def load(name="mnist", download=True):
        return served[name] if name in served else real_load(name, download)
    return load


def pytest_collection_modifyitems(items):
    """`make test-fast` deselects by marker, so a test on real MNIST or the served app says so.
    The real-MNIST tests run after the others (which they overlap with their shared work, see
    tests/mnist_prep.py), the browser tests last: they start from the MNIST tests' results."""
    needs = {"mnist": "mnist", "app_server": "e2e"}
    for item in items:
        for fixture, marker in needs.items():
            if fixture in item.fixturenames and not item.get_closest_marker(marker):
                raise pytest.UsageError(f"{item.nodeid} uses {fixture}: mark it {marker}")
    items.sort(key=lambda item: (item.get_closest_marker("e2e") is not None,
                                 item.get_closest_marker("mnist") is not None))  # stable


class MnistPrep:
    """tests/mnist_prep.py running in the background, on the session's real-MNIST cache. It
    ends with this process (its stdin closes), and a wait on it is bounded."""

    WAIT_SECONDS = 900  # per wait, as each `aecore` call of mnist_cli

    def __init__(self, cache: Path, results: Path) -> None:
        self.cache, self.results = cache, results
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "NUMBA_NUM_THREADS": "1"}
        self.log = open(results / "log.txt", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.mnist_prep", str(cache),
                                      str(results)], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.PIPE)

    def _wait_for(self, ended) -> None:
        (self.results / "hurry").touch()
        deadline = time.monotonic() + self.WAIT_SECONDS
        while not ended() and self.proc.poll() is None:
            if time.monotonic() > deadline:  # stuck: the fixtures compute what they need
                self.proc.kill()
                break
            time.sleep(0.5)

    def result(self, name: str) -> dict | None:
        """A step's JSON once it ends (both cores from then on); None if the prep failed or
        stuck before it, so that the fixture computes it itself and shows the real error."""
        done = self.results / f"{name}.json"
        self._wait_for(done.exists)
        return json.loads(done.read_text()) if done.exists() else None

    def wait(self) -> None:
        self._wait_for(lambda: False)

    def stop(self) -> None:
        if self.proc.poll() is None:  # a session of one MNIST test needs only a step or two
            self.proc.terminate()
            self.proc.wait()
        self.proc.stdin.close()
        self.log.close()


PREP = pytest.StashKey[MnistPrep]()


def pytest_collection_finish(session):
    """The shared real-MNIST work starts now if a selected test needs it."""
    if not os.environ.get("AECORE_DATA_DIR") or not any(
            item.get_closest_marker("mnist") for item in session.items):
        return
    try:  # as the mnist fixture finds it: never a download in the background
        datasets.locate("mnist", download=False)
    except DatasetUnavailable:
        return
    factory = session.config._tmp_path_factory
    session.config.stash[PREP] = MnistPrep(factory.mktemp("mnist-cache"),
                                           factory.mktemp("mnist-prep"))


def pytest_sessionfinish(session):
    if (prep := session.config.stash.get(PREP, None)) is not None:
        prep.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test leaves a picture of each page it had open in test-artifacts/."""
    report = yield
    if report.failed and item.get_closest_marker("e2e"):
        from tests.e2e import failure_shots

        for shot in failure_shots(item.nodeid):
            report.sections.append(("screenshot", str(shot)))
    return report


@pytest.fixture(scope="session")
def canvas_set(tmp_path_factory) -> Path:
    """The 2,000 canvas-style digits, drawn once per test session (about 5 s) and copied
    into each test's cache, rather than drawn again in each."""
    from aecore.data.canvas_digits import load_canvas_digits

    folder = tmp_path_factory.mktemp("canvas-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECORE_CACHE_DIR", str(folder))
        load_canvas_digits()
    return folder / "canvas"


@pytest.fixture
def cache(tmp_path, monkeypatch, canvas_set) -> Path:
    folder = tmp_path / "cache"
    shutil.copytree(canvas_set, folder / "canvas")
    monkeypatch.setenv("AECORE_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def tiny(monkeypatch, cache) -> datasets.Dataset:
    """Tiny data served in place of every dataset the engine loads, with a private cache."""
    tiny_data = make_tiny()
    monkeypatch.setattr(datasets, "load", serve_tiny(tiny_data))
    return tiny_data


@pytest.fixture
def app(tiny, monkeypatch):
    """A fresh AppTest of app.py on the tiny data; the server-wide caches are emptied between
    tests."""
    yield from app_test(monkeypatch)


@pytest.fixture
def app_on_disk(cache, monkeypatch):
    """A fresh AppTest of app.py that reads datasets from disk (the test adds its own)."""
    yield from app_test(monkeypatch)


def app_test(monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AECORE_WARMUP", "0")
    monkeypatch.setenv("AECORE_TRAINER", "thread")  # the tiny data lives in this process
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file("../app.py", default_timeout=120)
    yield at
    # The pages' background work (sweeps, trainings, maps, heads) ends here, not during later
    # tests (with this test's cache and data patched away).
    from dashboard import server

    try:
        ended = {"sweeps": all(t.close() for t in server.sweeps().values()),
                 "trainings": server.training_queue().close(),
                 "tasks": server.tasks().close()}
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
    assert all(ended.values()), f"background work that did not end: {ended}"


@pytest.fixture
def trained(tiny):
    """The pages' tiny run (2 epochs), trained in this test's cache."""
    from tests.support import TINY_PAGES, train_tiny

    return train_tiny(TINY_PAGES).run


@pytest.fixture(scope="session")
def mnist() -> datasets.Dataset:
    if not os.environ.get("AECORE_DATA_DIR"):
        pytest.skip("real MNIST needed: set AECORE_DATA_DIR to a folder holding MNIST/raw/")
    try:
        return datasets.load("mnist", download=False)
    except DatasetUnavailable as exc:
        pytest.skip(f"real MNIST not available: {exc}")


@pytest.fixture(scope="session")
def session_cache(request, tmp_path_factory) -> Path:
    """One cache for the real-data tests, so a run trained once serves several tests."""
    if (prep := request.config.stash.get(PREP, None)) is not None:
        return prep.cache
    return tmp_path_factory.mktemp("mnist-cache")


def prepared(request, name: str) -> dict | None:
    prep = request.config.stash.get(PREP, None)
    return prep.result(name) if prep is not None else None


@pytest.fixture(scope="session")
def mnist_cli(mnist, session_cache):
    """`aecore ... --json` in a process of its own, on the session's real-MNIST cache."""
    def call(*args, check=True):
        proc = subprocess.run(
            [sys.executable, "-m", "aecore", *args, "--json"], capture_output=True, text=True,
            timeout=900, env={**os.environ, "AECORE_CACHE_DIR": str(session_cache)})
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc.returncode, json.loads(proc.stdout)
    return call


@pytest.fixture(scope="session")
def default_run(mnist_cli, request) -> dict:
    """The classic recipe, dense k=32, 10 epochs, trained once for every real-MNIST test."""
    return prepared(request, "default_run") or mnist_cli("train", "--epochs", "10")[1]


@pytest.fixture(scope="session")
def recommended_run(mnist_cli, request) -> dict:
    """The model Draw recommends, conv k=32, 10 epochs, trained once (the MNIST bars and
    the ONNX check on real digits share it)."""
    return (prepared(request, "recommended_run")
            or mnist_cli("train", "--model", "conv", "--epochs", "10")[1])


@pytest.fixture(scope="session")
def app_server(mnist, session_cache, canvas_set, default_run, recommended_run,
               tmp_path_factory, request):
    """One real `streamlit run app.py` (its queue, worker processes and map worker) for every
    browser test, as a class shares one, and one Chromium (a fresh context per page). Its
    cache starts with what the real-MNIST tests computed, which no browser test changes: their
    two runs (the classic recipe and Draw's recommended model) with their heads, map and
    drawing heads, the heads' baselines, the canvas digits. Each browser test trains configs
    no other one trains, and counts what it adds rather than what the server holds."""
    from benchmarks.appserver import chromium_missing, streamlit_server
    from tests.e2e import close_browser

    if reason := chromium_missing():
        pytest.skip(reason)
    if (prep := request.config.stash.get(PREP, None)) is not None:
        prep.wait()  # its heads and map too, so that the server starts with them
    cache = tmp_path_factory.mktemp("app") / "cache"
    shutil.copytree(canvas_set, cache / "canvas")
    skip_temp = shutil.ignore_patterns(".tmp*")
    if (session_cache / "baselines").is_dir():
        shutil.copytree(session_cache / "baselines", cache / "baselines", ignore=skip_temp)
    for run in (default_run, recommended_run):
        shutil.copytree(session_cache / "runs" / run["run_id"],
                        cache / "runs" / run["run_id"], ignore=skip_temp)
    try:
        with streamlit_server(cache) as url:
            yield url
    finally:
        close_browser()
