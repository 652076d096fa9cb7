"""Helpers for the browser tests: the app server and Chromium (re-exported from
aecore.appserver, which `aecore bench` shares), screenshots and the page's exceptions."""

from __future__ import annotations

from pathlib import Path

from aecore.appserver import ROOT, browser, chromium_missing, streamlit_server

__all__ = ["browser", "chromium_missing", "exceptions_on", "screenshot", "streamlit_server"]

ARTIFACTS = ROOT / "test-artifacts"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def exceptions_on(page) -> list[str]:
    return page.locator("[data-testid='stException']").all_inner_texts()
