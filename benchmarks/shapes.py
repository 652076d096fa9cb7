"""A folder of rendered shapes, a dataset of our own making that is not MNIST: six classes
(circle, square, triangle, cross, ring, bar), each image a shape of random size, place, angle
and colour on a random background, saved as PNG or JPEG, grey or colour, 64x64 or 40x40."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle", "cross", "ring", "bar")


def _polygon(cx: float, cy: float, r: float, sides: int, angle: float) -> list[tuple]:
    return [(cx + r * math.cos(angle + 2 * math.pi * i / sides),
             cy + r * math.sin(angle + 2 * math.pi * i / sides)) for i in range(sides)]


def render(shape: str, side: int, rng: np.random.Generator, colour: bool) -> Image.Image:
    mode = "RGB" if colour else "L"

    def paint() -> tuple | int:
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        return c if colour else int(sum(c) / 3)

    background, ink = paint(), paint()
    while abs(np.mean(background) - np.mean(ink)) < 80:  # a shape one can see
        ink = paint()
    image = Image.new(mode, (side, side), background)
    draw = ImageDraw.Draw(image)
    r = side * rng.uniform(0.2, 0.38)
    cx, cy = (side / 2 + rng.uniform(-0.1, 0.1) * side for _ in range(2))
    angle = rng.uniform(0, 2 * math.pi)
    width = max(2, int(side * 0.08))
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=ink)
    elif shape == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=width)
    elif shape == "square":
        draw.polygon(_polygon(cx, cy, r, 4, angle), fill=ink)
    elif shape == "triangle":
        draw.polygon(_polygon(cx, cy, r, 3, angle), fill=ink)
    elif shape == "cross":
        for a in (angle, angle + math.pi / 2):
            draw.line([(cx - r * math.cos(a), cy - r * math.sin(a)),
                       (cx + r * math.cos(a), cy + r * math.sin(a))], fill=ink, width=width)
    else:  # bar
        draw.line([(cx - r * math.cos(angle), cy - r * math.sin(angle)),
                   (cx + r * math.cos(angle), cy + r * math.sin(angle))], fill=ink, width=width)
    noise = rng.normal(0, 8, (side, side, 3) if colour else (side, side))
    return Image.fromarray(np.clip(np.asarray(image, float) + noise, 0, 255).astype(np.uint8))


def make_folder(root: Path, per_class: int = 350, seed: int = 0) -> Path:
    """FOLDER/<class>/<i>.png|jpg: per_class images of each class, about half of them colour
    64x64, the rest grey 40x40; every fifth saved as JPEG."""
    rng = np.random.default_rng(seed)
    for shape in CLASSES:
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            colour = bool(rng.integers(2))
            image = render(shape, 64 if colour else 40, rng, colour)
            image.save(folder / f"{i:05d}.{'jpg' if i % 5 == 0 else 'png'}")
    return root


def make_zip(folder: Path, target: Path) -> Path:
    """The folder zipped as people zip one: everything inside one top folder."""
    import zipfile

    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return target
