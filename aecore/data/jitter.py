"""Canvas-like variations of digit images: slant, rotation, scale and stroke width.

A digit drawn on the Draw page is slanted, thick or thin in ways MNIST's are not. A head
trained on the codes of such variations of the training digits reads drawings better
(measured on aecore.data.canvas_digits, a set made without MNIST).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

ROTATION_DEG = 12.0
SHEAR = 0.35          # the canvas set's slant range, x += SHEAR * y
SCALE = (0.85, 1.1)
# Stroke changes at 28x28: erode one pixel, none, dilate one pixel (two made blobs of loops).
STROKES = (-1, 0, 1)
STROKE_WEIGHTS = (0.2, 0.45, 0.35)
CHUNK = 8_192


def _grow(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Grey-level dilation (steps > 0) or erosion (steps < 0) by a 3x3 square, [B, 1, 28, 28]."""
    for _ in range(abs(steps)):
        x = F.max_pool2d(x, 3, 1, 1) if steps > 0 else -F.max_pool2d(-x, 3, 1, 1)
    return x


def jitter(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """uint8 [N, 28, 28] -> uint8 [N, 28, 28]: each image with its own random affine map and
    stroke change, then re-centred by its centre of mass as the app's preprocessing does."""
    gen = torch.Generator().manual_seed(seed)
    out = [_jitter_chunk(images[i:i + CHUNK], gen) for i in range(0, len(images), CHUNK)]
    return torch.cat(out) if out else images.clone()


def _jitter_chunk(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = len(images)
    x = images.float().div(255.0)[:, None]                               # [n, 1, 28, 28]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(ROTATION_DEG)
    shear = (torch.rand(n, generator=gen) * 2 - 1) * SHEAR
    scale = SCALE[0] + torch.rand(n, generator=gen) * (SCALE[1] - SCALE[0])
    cos, sin = torch.cos(angle), torch.sin(angle)
    # theta maps output coordinates to input ones: the inverse of rotate . shear . scale.
    forward = torch.stack([torch.stack([cos, cos * shear - sin], 1),
                           torch.stack([sin, sin * shear + cos], 1)], 1) * scale[:, None, None]
    theta = torch.cat([torch.linalg.inv(forward), torch.zeros(n, 2, 1)], 2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False)
    stroke = torch.multinomial(torch.tensor(STROKE_WEIGHTS), n, True, generator=gen)
    grown = torch.stack([_grow(x, s) for s in STROKES])                  # [3, n, 1, 28, 28]
    x = grown[stroke, torch.arange(n)]                                    # [n, 1, 28, 28]
    # An eroded stroke is fainter; a drawing's ink is scaled to full white by preprocessing.
    x = x / x.amax((1, 2, 3), keepdim=True).clamp_min(1e-6)
    return _recentre(x)[:, 0].mul(255.0).round().clamp(0, 255).to(torch.uint8)


def _recentre(x: torch.Tensor) -> torch.Tensor:
    """Shift each [1, 28, 28] image by whole pixels so its centre of mass is at pixel 14, as
    aecore.data.preprocess places a drawing."""
    n = len(x)
    coords = torch.arange(28, dtype=x.dtype)
    mass = x.sum((1, 2, 3)).clamp_min(1e-6)
    cy = (x.sum(3)[:, 0] * coords).sum(1) / mass
    cx = (x.sum(2)[:, 0] * coords).sum(1) / mass
    shift = torch.stack([(14 - cx).round(), (14 - cy).round()], 1)      # [n, 2] pixels
    theta = torch.cat([torch.eye(2).expand(n, 2, 2), (-shift * 2 / 28)[:, :, None]], 2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)
