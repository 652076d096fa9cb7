"""docs/suspects.png: the worst suspect labels of a run's test split, each digit with its index,
given label and suggested label (the README's picture).

    AECORE_DATA_DIR=... python scripts/suspects_picture.py RUN_ID [--top 24]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

from aecore.data import datasets
from aecore.runs import dataquality, pipeline

SCALE, CAPTION, COLUMNS = 3, 30, 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_id")
    parser.add_argument("--top", type=int, default=24)
    parser.add_argument("--out", default="docs/suspects.png")
    args = parser.parse_args()
    run = pipeline.load_run(args.run_id)
    found = dataquality.suspects(run, "test")
    data = datasets.load(run.config.dataset)
    side = 28 * SCALE
    rows = -(-args.top // COLUMNS)
    sheet = Image.new("L", (COLUMNS * (side + 8), rows * (side + CAPTION + 8)), 255)
    pen = ImageDraw.Draw(sheet)
    for n, i in enumerate(found.order[:args.top]):
        x, y = (n % COLUMNS) * (side + 8), (n // COLUMNS) * (side + CAPTION + 8)
        digit = Image.fromarray(255 - data.test_x[i].numpy()).resize((side, side),
                                                                      Image.NEAREST)
        sheet.paste(digit, (x, y))
        names = data.label_names
        pen.text((x + 2, y + side + 2), f"#{i}", fill=0)
        pen.text((x + 2, y + side + 14),
                 f"{names[found.labels[i]]} -> {names[found.suggested[i]]}", fill=0)
    sheet.save(args.out, optimize=True)
    print(" ".join(f"{int(i)}:{found.labels[i]}->{found.suggested[i]}"
                   for i in found.order[:args.top]))


if __name__ == "__main__":
    np.set_printoptions(linewidth=200)
    main()
