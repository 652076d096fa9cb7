"""Thumbnails of digits beside their reconstructions, encoded once per digit and kept: a
selection's gallery is then one block of HTML, not dozens of images encoded at every rerun."""

from __future__ import annotations

import base64
import html
import io
import threading
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from aecore.figures.plots import side_by_side
from aecore.models import Autoencoder
from aecore.training import latents


@dataclass(frozen=True)
class Pair:
    uri: str      # a PNG data URI: the digit | its reconstruction, 28x58
    error: float  # the reconstruction's mean per-pixel BCE


def png_uri(image: np.ndarray) -> str:
    """uint8 [H, W] -> a data URI of its PNG."""
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


class Thumbnails:
    """The pairs of a run's digits (images uint8 [N, 28, 28] with their codes [N, k]),
    computed for the indices asked, in one batch, and kept for the next ask. Shared by every
    session of a server: only this object's own memo changes, under its lock."""

    def __init__(self, model: Autoencoder, images: torch.Tensor, codes: torch.Tensor) -> None:
        self._model, self._images, self._codes = model, images, codes
        self._pairs: dict[int, Pair] = {}
        self._lock = threading.Lock()

    def pairs(self, indices: list[int]) -> list[Pair]:
        with self._lock:
            missing = sorted({i for i in indices if i not in self._pairs})
            if missing:
                originals = self._images[missing].float() / 255.0              # [M, 28, 28]
                recon = latents.decode(self._model, self._codes[missing])      # [M, 28, 28]
                errors = torch.nn.functional.binary_cross_entropy(
                    recon.clamp(1e-7, 1 - 1e-7), originals, reduction="none").flatten(1).mean(1)
                for j, i in enumerate(missing):
                    self._pairs[i] = Pair(png_uri(side_by_side(originals[j].numpy(),
                                                               recon[j].numpy())),
                                          float(errors[j]))
            return [self._pairs[i] for i in indices]


def html_grid(pairs: list[Pair], captions: list[str], width: int = 116) -> str:
    """One block of HTML: each pair at `width` px (pixels kept sharp) over its caption."""
    cells = "".join(
        f'<figure style="margin:0 6px 8px 0;text-align:center">'
        f'<img src="{p.uri}" width="{width}" style="image-rendering:pixelated;display:block">'
        f'<figcaption style="font-size:0.72rem;color:#555">{html.escape(c)}</figcaption>'
        f"</figure>" for p, c in zip(pairs, captions, strict=True))
    return f'<div style="display:flex;flex-wrap:wrap">{cells}</div>'
