"""What a person downloads from a page: the map, a selection, a classifier's figures, as CSV
tables and a PNG grid. Pure functions of arrays, so pages only gather and offer them."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

from aecore.figures.plots import side_by_side


def map_table(embedding: np.ndarray, labels: np.ndarray, label_names: list[str],
              errors: np.ndarray, predictions: np.ndarray | None = None,
              trust: np.ndarray | None = None) -> pd.DataFrame:
    """One row per point of the map: index, x, y, label, reconstruction_error, and the
    classifier's prediction and the map's trust (the share of 15 code neighbours kept) when
    they were computed."""
    names = np.asarray(label_names)
    table = pd.DataFrame({"index": np.arange(len(embedding)),
                          "x": embedding[:, 0], "y": embedding[:, 1],
                          "label": names[labels], "reconstruction_error": errors})
    if predictions is not None:
        table["prediction"] = names[predictions]
    if trust is not None:
        table["trust"] = trust
    return table


def selection_table(table: pd.DataFrame, indices: list[int], codes: np.ndarray) -> pd.DataFrame:
    """The map's rows of the selected points, with their codes (z0 ... z{k-1})."""
    rows = table.iloc[indices].reset_index(drop=True)
    code_columns = pd.DataFrame(codes[indices], columns=[f"z{j}" for j in range(codes.shape[1])])
    return pd.concat([rows, code_columns], axis=1)


def pairs_png(originals: np.ndarray, reconstructions: np.ndarray, columns: int = 8,
              gap: int = 4) -> bytes:
    """Images [N, 28, 28] in [0, 1] beside their reconstructions, `columns` pairs a row, as
    PNG bytes (white between pairs; the grey bar inside a pair parts digit and output)."""
    cells = [side_by_side(o, r) for o, r in zip(originals, reconstructions, strict=True)]
    if not cells:
        raise ValueError("no images to draw")
    h, w = cells[0].shape[:2]
    rows = -(-len(cells) // columns)
    width = min(columns, len(cells))
    sheet = np.full((rows * (h + gap) - gap, width * (w + gap) - gap, *cells[0].shape[2:]), 255,
                    dtype=np.uint8)
    for n, cell in enumerate(cells):
        r, c = divmod(n, columns)
        sheet[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = cell
    return png_bytes(sheet)


def png_bytes(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def confusion_table(confusion: list[list[int]], label_names: list[str]) -> pd.DataFrame:
    """Rows: the true label; columns: the predicted one (counts of test digits)."""
    frame = pd.DataFrame(confusion, columns=[f"predicted {n}" for n in label_names])
    frame.insert(0, "label", label_names)
    return frame


def per_class_table(report: dict, label_names: list[str]) -> pd.DataFrame:
    counts = np.asarray(report["confusion"]).sum(1)
    return pd.DataFrame({"label": label_names, "accuracy": report["per_class"],
                         "test_count": counts})


def csv_text(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, float_format="%.6g")
