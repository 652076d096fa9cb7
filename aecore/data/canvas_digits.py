"""Canvas-style digits: a held-out set that looks like what a person draws on the Draw page.

Each digit is drawn white on a 280x280 black canvas, as on the Draw page (stroke width 5..40 px,
any size, slant and place), then goes through the app's own preprocessing (`to_mnist`), so it
reaches a classifier exactly as a drawing does. Half of each class is typeset from TrueType
fonts found on this machine plus Pillow's built-in font, half is drawn along hand-designed
stroke paths with jitter. No image is taken from, fitted to or derived from MNIST: the set
measures how well classifiers trained on MNIST read drawings.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from aecore.core.paths import cache_dir
from aecore.data.preprocess import to_mnist

VERSION = 1                      # bump when the drawing changes, so cached sets are redrawn
CANVAS = 280                     # the Draw page's canvas, in px
WIDTHS = (5, 40)                 # the Draw page's stroke width slider
FONT_ROOT = Path("/usr/share/fonts")
# Faces whose digits a person could plausibly write, upright and slanted. Mono (slashed or
# dotted zero), Math and ExtraLight (hairlines) faces are left out on purpose.
FONT_STEMS = frozenset({
    "DejaVuSans", "DejaVuSans-Oblique", "DejaVuSans-Bold", "DejaVuSansCondensed",
    "DejaVuSansCondensed-Oblique", "DejaVuSerif", "DejaVuSerif-Italic",
    "LiberationSans-Regular", "LiberationSans-Italic", "LiberationSansNarrow-Regular",
    "LiberationSansNarrow-Italic", "LiberationSerif-Regular", "LiberationSerif-Italic",
})
REF = 200                        # glyphs are rasterised at this size, then scaled to the drawing
LEANS = (-0.2, 0.44)             # slant + rotation, radians: -11..25 degrees, as hands lean
VARIANTS = (1, 3, 2, 2, 2, 2, 1, 3, 2, 2)  # stroke designs per digit (1 flag, 4 open, 7 bar...)


@dataclass(frozen=True, eq=False)
class CanvasDigits:
    images: torch.Tensor         # uint8 [N, 28, 28], white ink on black, like MNIST
    labels: torch.Tensor         # int64 [N]
    sources: list[str]           # the font file's stem, "pillow-default" or "strokes"


@functools.cache
def fonts() -> tuple[tuple[str, ImageFont.FreeTypeFont], ...]:
    """(name, font at REF) sorted by name, so the set is the same on every run of a machine."""
    found = {p.stem: p for p in sorted(FONT_ROOT.rglob("*.ttf")) if p.stem in FONT_STEMS} \
        if FONT_ROOT.is_dir() else {}
    faces = [(stem, ImageFont.truetype(str(found[stem]), REF)) for stem in sorted(found)]
    default = ImageFont.load_default(size=REF)  # scalable only when Pillow has FreeType
    if isinstance(default, ImageFont.FreeTypeFont):
        faces.append(("pillow-default", default))
    return tuple(faces)


def canvas_digits(per_class: int = 200, seed: int = 0) -> CanvasDigits:
    """per_class drawings of each digit, labels cycling 0..9 so any prefix is balanced.

    Image i depends only on (seed, i): a smaller set is a prefix of a larger one. Within a
    class, even draws are typeset (cycling through the fonts), odd ones are strokes.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    faces = fonts()
    images, sources = [], []
    for i in range(10 * per_class):
        digit, k = i % 10, i // 10
        rng = np.random.default_rng([seed, i])
        if k % 2 == 0 and faces:
            face = (k // 2 + digit) % len(faces)
            canvas, source = _typeset(rng, face, digit), faces[face][0]
        else:
            canvas, source = _draw(rng, digit), "strokes"
        images.append(np.rint(to_mnist(canvas) * 255).astype(np.uint8))
        sources.append(source)
    labels = torch.arange(10 * per_class, dtype=torch.int64) % 10
    return CanvasDigits(torch.from_numpy(np.stack(images)), labels, sources)


def load_canvas_digits(per_class: int = 200, seed: int = 0) -> CanvasDigits:
    """canvas_digits, kept in the cache; the name carries the fonts too, since they vary."""
    tag = hashlib.sha1("|".join(name for name, _ in fonts()).encode()).hexdigest()[:8]
    path = cache_dir() / "canvas" / f"canvas-v{VERSION}-{per_class}x10-seed{seed}-{tag}.npz"
    n = 10 * per_class
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels, sources = npz["images"], npz["labels"], npz["sources"].tolist()
        if (images.dtype == np.uint8 and images.shape == (n, 28, 28)
                and labels.dtype == np.int64 and labels.shape == (n,) and len(sources) == n):
            return CanvasDigits(torch.from_numpy(images), torch.from_numpy(labels), sources)
    except Exception:  # noqa: BLE001  missing or damaged in any way (zlib, EOF ...): redraw
        pass
    digits = canvas_digits(per_class, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # readers never see half a file
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, images=digits.images.numpy(), labels=digits.labels.numpy(),
                                sources=np.array(digits.sources))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return digits


def _size(rng: np.random.Generator) -> tuple[float, float]:
    """Digit height 35-90% of the canvas; a stroke width from the slider, but at most a
    quarter of the height (a thick brush on a small digit fills its loops: nobody draws that)."""
    height = rng.uniform(0.35, 0.9) * CANVAS
    return height, min(float(rng.integers(WIDTHS[0], WIDTHS[1] + 1)), max(5.0, height / 4))


def _pose(rng: np.random.Generator, w: float, h: float, scale: float, margin: float,
          lean: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(A, centre): a random slant, rotation and aspect, and a centre anywhere the shape fits.

    A canvas point is A @ (point - the shape's centre) + centre. The total lean, with lean the
    shape's own (an italic), stays in LEANS: slant and turn one way would lay a 1 down flat.
    """
    shear, turn = rng.uniform(-0.35, 0.35), np.radians(rng.uniform(-12, 12))
    turn = np.clip(turn, *(np.array(LEANS) - np.arctan(shear) - lean))
    c, s = np.cos(turn), np.sin(turn)
    # y points down, so x -= shear * y leans the top to the right for a positive shear.
    a = np.array([[c, -s], [s, c]]) @ np.array([[1, -shear], [0, 1]]) \
        @ np.diag([rng.uniform(0.85, 1.15), 1.0]) * scale
    box = np.array([[-w, w, w, -w], [-h, -h, h, h]]) / 2
    a *= min(1.0, (CANVAS - 4 - 2 * margin) / np.ptp(a @ box, axis=1).max())  # fit if too big
    lo, hi = margin + 1 - (a @ box).min(1), CANVAS - 1 - margin - (a @ box).max(1)
    return a, rng.uniform(lo, np.maximum(lo, hi))


def _typeset(rng: np.random.Generator, face: int, digit: int) -> Image.Image:
    height, width = _size(rng)
    name, font = fonts()[face]
    thinner, stem = _glyph(face, digit)
    scale = height / thinner[0].height
    grow = (width / scale - stem) / 2  # px per side at REF to reach the width on the canvas
    # Thicker: the rasteriser's own outline stroke; thinner: eroded, but never broken up.
    glyph = _render(font, digit, round(grow)) if grow >= 0.5 else \
        thinner[min(round(-grow), len(thinner) - 1)]
    # Scaled with LANCZOS first: the affine map below samples without antialiasing.
    glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))),
                         Image.Resampling.LANCZOS)
    lean = 0.2 if "Italic" in name or "Oblique" in name else 0.0
    a, centre = _pose(rng, glyph.width, glyph.height, 1.0, 0, lean)
    inv = np.linalg.inv(a)  # Image.transform maps each canvas pixel back to the glyph
    offset = np.array([glyph.width, glyph.height]) / 2 - inv @ centre
    return glyph.transform((CANVAS, CANVAS), Image.Transform.AFFINE,
                           (*inv[0], offset[0], *inv[1], offset[1]), Image.Resampling.BILINEAR)


@functools.cache
def _glyph(face: int, digit: int) -> tuple[list[Image.Image], float]:
    """The digit at REF cropped to its ink, then eroded a pixel per side at a time while its
    pieces and holes stay the same (a serif's hairlines break first); and its stroke
    thickness, 2 area / perimeter."""
    from scipy import ndimage  # counts pieces and holes; scipy comes with scikit-learn

    def ink(image: Image.Image) -> np.ndarray:
        return np.pad(np.asarray(image) >= 128, 1)

    thinner = [_render(fonts()[face][1], digit, 0)]
    full = ink(thinner[0])
    inner = full[1:-1, 1:-1] & full[:-2, 1:-1] & full[2:, 1:-1] & full[1:-1, :-2] & full[1:-1, 2:]
    stem = 2 * float(full.sum()) / max(int(full.sum() - inner.sum()), 1)
    shape = ndimage.label(full)[1], ndimage.label(~full)[1]
    while len(thinner) < stem / 2:
        eroded = thinner[-1].filter(ImageFilter.MinFilter(3))
        if (ndimage.label(ink(eroded))[1], ndimage.label(~ink(eroded))[1]) != shape:
            break
        thinner.append(eroded)
    return thinner, stem


def _render(font: ImageFont.FreeTypeFont, digit: int, stroke: int) -> Image.Image:
    left, top, right, bottom = font.getbbox(str(digit), stroke_width=stroke)
    image = Image.new("L", (right - left + 4, bottom - top + 4))
    ImageDraw.Draw(image).text((2 - left, 2 - top), str(digit), font=font, fill=255,
                               stroke_width=stroke, stroke_fill=255)
    return image.crop(image.getbbox())


def _draw(rng: np.random.Generator, digit: int) -> Image.Image:
    """A stroke design of the digit, jittered and warped, drawn with a round brush."""
    strokes = _strokes(digit, int(rng.integers(VARIANTS[digit])),
                       lambda sd=0.03: float(rng.normal(0, sd)))
    # A smooth warp of the whole shape (a hand's uneven proportions), then a small wobble per
    # stroke along its length (a hand's tremor): both low-frequency, so the lines stay smooth.
    amp, phase = rng.normal(0, 0.035, 2), rng.uniform(0, 2 * np.pi, 2)
    for n, pts in enumerate(strokes):
        t = np.linspace(0, 1, len(pts))[:, None] * rng.uniform(0.5, 2) + rng.uniform(0, 1, 2)
        strokes[n] = pts + amp * np.sin(np.pi * pts[:, ::-1] + phase) \
            + rng.normal(0, 0.008, 2) * np.sin(2 * np.pi * t)
    points = np.concatenate(strokes)
    lo, hi = points.min(0), points.max(0)
    height, width = _size(rng)
    a, centre = _pose(rng, *(hi - lo), height / (hi - lo)[1], width / 2)
    canvas = Image.new("L", (CANVAS, CANVAS))
    draw, r = ImageDraw.Draw(canvas), width / 2
    for pts in strokes:
        xy = [tuple(p) for p in ((pts - (lo + hi) / 2) @ a.T + centre).tolist()]
        draw.line(xy, fill=255, width=round(width), joint="curve")
        for x, y in xy:  # a round brush: round caps and smooth joins at every sample
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return canvas


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float) -> np.ndarray:
    """An elliptic arc from a0 to a1 degrees; 0 is right and 90 is down (y points down)."""
    t = np.radians(np.linspace(a0, a1, max(8, int(abs(a1 - a0) / 8))))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _bez(*pts: tuple[float, float], n: int = 24) -> np.ndarray:
    """A Bezier curve from its control points (de Casteljau)."""
    p, t = np.broadcast_to(np.asarray(pts, float), (n, len(pts), 2)), np.linspace(0, 1, n)
    while p.shape[1] > 1:
        p = p[:, :-1] * (1 - t[:, None, None]) + p[:, 1:] * t[:, None, None]
    return p[:, 0]


def _poly(*pts: tuple[float, float]) -> np.ndarray:
    """A polyline sampled densely, so the wobble bends it gently."""
    return np.concatenate([_bez(p, q, n=10)[:-1] for p, q in zip(pts, pts[1:], strict=False)]
                          + [[pts[-1]]])


def _strokes(d: int, v: int, j: Callable[..., float]) -> list[np.ndarray]:
    """Pen paths of digit d, variant v, in a box about 0.7 wide and 1 high (y down); j() is
    a small random number, so the control points move a little on every drawing."""
    if d == 0:
        a0 = -90 + j(20)
        return [_arc(0.35, 0.5, 0.3 + j(), 0.5, a0, a0 - 360 - abs(j(20)))]
    if d == 1:  # a bare stem, with a flag, with a flag and a foot
        x0, x1 = 0.35 + j(), 0.35 + j()
        stem = _poly((0.12 + j(), 0.25 + j()), (x0, 0), (x1, 1)) if v else _poly((x0, 0), (x1, 1))
        return [stem, _poly((0.1 + j(), 1), (0.6 + j(), 1 + j(0.01)))] if v == 2 else [stem]
    if d == 2:  # a straight or curved neck
        top = _arc(0.33, 0.28 + j(), 0.3, 0.28, 200 + j(10), 380 + j(10))
        end = (0.03 + j(), 1.0)
        neck = _bez(tuple(top[-1]), (0.3 + j(), 0.7 + j()), end) if v else \
            _poly(tuple(top[-1]), end)
        return [np.concatenate([top, neck, _poly(end, (0.7 + j(), 1 + j(0.02)))])]
    if d == 3:  # a round or flat top
        low = _arc(0.32, 0.72, 0.33 + j(), 0.28, -100 + j(10), 150 + j(10))
        top = _poly((0.05 + j(), 0), (0.62 + j(), 0), (0.26 + j(), 0.42 + j())) if v else \
            _arc(0.32, 0.25, 0.28 + j(), 0.25, 200 + j(10), 460)
        return [np.concatenate([top, low])]
    if d == 4:
        bar = 0.62 + j()
        if v:  # open: two uprights
            return [_poly((0.1 + j(), 0), (0.05, bar), (0.72 + j(), bar)),
                    _poly((0.55 + j(), 0.02), (0.55 + j(), 1))]
        apex = (0.5 + j(), 0)  # closed: the stem comes down from the apex
        return [_poly(apex, (0.02, bar), (0.7 + j(), bar)), _poly(apex, (apex[0] + j(), 1))]
    if d == 5:  # the flag first, or added after the body
        bowl = _arc(0.33, 0.68, 0.3 + j(), 0.3, 220 + j(10), 510 + j(15))
        flag, body = (0.62 + j(), j(0.02)), _poly((0.12, 0), (0.09 + j(), 0.45))
        return [np.concatenate([body, bowl]), _poly((0.12, 0), flag)] if v else \
            [np.concatenate([_poly(flag, (0.12, 0)), body, bowl])]
    if d == 6:
        down = _bez((0.58 + j(), j()), (0.2 + j(), 0.1), (0.06, 0.45 + j()), (0.06, 0.72))
        return [np.concatenate([down, _arc(0.34, 0.72, 0.28 + j(), 0.27, 180, -170 + j(15))])]
    if d == 7:  # plain, with a bar, with a curved stem
        corner = (0.68 + j(), j(0.02))
        stem = _bez(corner, (0.4 + j(), 0.5), (0.3 + j(), 1)) if v == 2 else \
            _poly(corner, (0.25 + j(), 1))
        bar = [_poly((0.18 + j(), 0.5 + j()), (0.62 + j(), 0.5 + j()))] if v == 1 else []
        return [np.concatenate([_poly((0.02 + j(), j(0.02)), corner), stem])] + bar
    if d == 8:
        if v:  # two loops, one above the other
            return [_arc(0.35, 0.24, 0.22 + j(), 0.24, -90, 270),
                    _arc(0.35, 0.72, 0.3 + j(), 0.26, -90, -450)]
        # One stroke crossing itself: y goes down and back up, x swings twice as fast.
        t, mid, top, bottom = np.linspace(0, 2 * np.pi, 64), 0.46 + j(), 0.24 + j(), 0.32 + j()
        up = np.cos(t) >= 0
        y = np.where(up, mid * (1 - np.cos(t)), mid - (1 - mid) * np.cos(t))
        return [np.stack([0.35 + np.where(up, top, bottom) * np.sin(2 * t), y], 1)]
    # 9: a loop drawn anticlockwise from its right, then a straight or curved tail.
    loop = _arc(0.33, 0.28, 0.28 + j(), 0.27, -10 + j(10), -370)
    tail = _bez(tuple(loop[-1]), (0.62, 0.75), (0.45 + j(), 1.0), (0.2 + j(), 0.95)) if v else \
        _poly(tuple(loop[-1]), (0.58 + j(), 1))
    return [np.concatenate([loop, tail])]
