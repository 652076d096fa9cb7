"""The app served for a browser: `streamlit run app.py` on a free loopback port, and Chromium
through Playwright. Shared by `aecore-bench` and the browser tests; imports neither streamlit
nor playwright at module level (playwright is a dev extra)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout that holds app.py
APP = ROOT / "app.py"
CHROMIUM = os.environ.get("AECORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_missing() -> str | None:
    """Why the browser cannot run here, or None."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return "Debian's chromium is not installed (make browser installs it)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (make setup-dev installs it)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedURL(str):
    """The app's address, a str as every caller uses it, that also knows the server's process
    id (`aecore-bench` reads the server's memory from /proc)."""
    pid: int

    def __new__(cls, url: str, pid: int) -> ServedURL:
        served = super().__new__(cls, url)
        served.pid = pid
        return served


@contextlib.contextmanager
def streamlit_server(cache_dir: Path, extra_env: dict | None = None,
                     log_dir: Path | None = None) -> Iterator[ServedURL]:
    """Start `streamlit run app.py` on loopback, wait for its health check, stop it after.
    Its log goes beside the cache unless `log_dir` says where (a cache inside the checkout)."""
    port = free_port()
    env = {**os.environ, "AECORE_CACHE_DIR": str(cache_dir), **(extra_env or {})}
    log = open((log_dir or cache_dir.parent) / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP),
         "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = ServedURL(f"http://127.0.0.1:{port}", proc.pid)
    try:
        for _ in range(240):  # bounded: up to about a minute on a busy machine
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log.name}")
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"streamlit did not answer on {url}; see {log.name}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser() -> Iterator:
    """Debian's Chromium driven by Playwright (which cannot download its own browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
