"""Small drawing helpers shared by pages."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import numpy as np
import streamlit as st

from aecore.core.errors import AecoreError
from aecore.core.paths import cache_dir, data_dirs
from aecore.figures import plots

PAIR_WIDTH = 116
# Characters Streamlit's Markdown gives a meaning to (CommonMark's escapable punctuation)
MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&:])")


def without_paths(message: str) -> str:
    """The message with the server's cache and data folders named, not spelled out."""
    for folder, name in ((cache_dir(), "the cache"), *((d, "the data folder")
                                                       for d in data_dirs())):
        message = message.replace(str(folder), f"<{name}>")
    return message


def message(text) -> str:
    """An error's sentence for a page: plain text, the server's folders named, not shown."""
    return plain(without_paths(str(text)))


def plain(text: str) -> str:
    """text shown as it is in a Markdown element (an alert, a caption): what comes from a
    link, a file or an error message never becomes bold, a link or an image."""
    return MARKDOWN.sub(r"\\\1", str(text))


def pairs_grid(indices, test_images: np.ndarray, recon: np.ndarray, captions: list[str],
               width: int = PAIR_WIDTH) -> None:
    """Each test digit beside its reconstruction, in one st.image call (fast to send)."""
    images = [plots.side_by_side(test_images[i], recon[i]) for i in indices]
    if images:
        st.image(images, caption=captions, width=width, clamp=True)


def panels_grid(panels: list[np.ndarray], captions: list[str], width: int = PAIR_WIDTH) -> None:
    """Each item a few [28, 28] images side by side (noisy | output | clean ...)."""
    if panels:
        st.image([plots.strip(p) for p in panels], caption=captions, width=width, clamp=True)


def digits_grid(images: np.ndarray, captions: list[str], width: int = 64) -> None:
    if len(images):
        st.image([plots.to_uint8(img) for img in images], caption=captions, width=width)


def row(images: np.ndarray, caption: str) -> None:
    st.image(plots.strip(images), caption=caption, width="stretch")


@contextlib.contextmanager
def errors_shown() -> Iterator[None]:
    """The engine's typed errors become an error box; the app keeps running."""
    try:
        yield
    except AecoreError as exc:
        st.error(message(exc))
