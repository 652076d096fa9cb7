"""A drawn or uploaded image -> an MNIST-like float [28, 28] in [0, 1] (white ink on black).

MNIST's own convention (LeCun et al. 1998): the digit's box scaled so its longer side is
20 px keeping the aspect, placed in a 28x28 field with its centre of mass at the centre.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from aecore.core.errors import EmptyImage, InvalidImage

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 25_000_000          # 5000 x 5000; past that we refuse rather than decode
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
INK_FLOOR = 0.05                 # below this the image is empty
MIN_EXTENT = 1 / 8               # the ink must span this share of the image's longer side
BOX, FIELD = 20, 28


def load_image(source: bytes | str | Path, decode: bool = True) -> Image.Image:
    """Open and fully decode an image file, refusing what is not a usable image (decode=False:
    its header only, checked; the caller decodes, after a draft or a budget)."""
    try:
        data = source if isinstance(source, bytes) else _read_file(Path(source))
    except OSError as exc:
        raise InvalidImage(f"cannot read {source}: {exc.strerror}") from exc
    _check_size(len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            if image.width * image.height > MAX_PIXELS:
                raise InvalidImage(f"the image is {image.width}x{image.height} pixels; the "
                                   f"limit is {MAX_PIXELS:,} pixels")
            image.seek(0)  # an animation: its first frame
            if decode:
                image.load()
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage("the image is too large to decode safely (a decompression bomb?); "
                           f"the limit is {MAX_PIXELS:,} pixels") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage("the file is not a PNG, JPEG, GIF, BMP, WebP or TIFF image") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(f"the image is damaged or truncated ({type(exc).__name__})") from exc
    return image


def _check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise InvalidImage(f"the file has {size // 1_048_576} MiB; the limit is "
                           f"{MAX_BYTES // 1_048_576} MiB")


def _check_file(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise InvalidImage(f"{path} is a folder, device or pipe, not an image file: "
                           "give the path of an image file")
    _check_size(info.st_size)


def _read_file(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes of a regular file (a symlink to one is followed).

    Checked before opening, since opening a device or a FIFO can block or act, and again on
    the open file (O_NONBLOCK: a FIFO swapped in meanwhile must not block the open).
    """
    _check_file(path, os.stat(path))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        _check_file(path, os.fstat(fd))
        with open(fd, "rb", closefd=False) as fh:
            return fh.read(MAX_BYTES + 1)
    finally:
        os.close(fd)


def ink_of(image: Image.Image | np.ndarray) -> np.ndarray:
    """Ink intensity float32 [H, W] in [0, 1]: alpha for a canvas with a transparent
    background, else grey levels, inverted when the background is light."""
    if isinstance(image, np.ndarray):
        image = _from_array(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0
        if alpha.min() < 0.98:  # a transparent background: the ink is where alpha is
            return alpha
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        grey = np.asarray(image, dtype=np.float32)
        top = float(grey.max())
        grey = grey / top if top > 0 else grey
    else:
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return 1.0 - grey if np.median(border) > 0.5 else grey


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))
    if array.ndim == 2:
        if array.dtype == np.uint8:
            return Image.fromarray(array)
        return Image.fromarray(np.asarray(array, dtype=np.float32), mode="F")
    raise InvalidImage(f"expected an image array [H, W] or [H, W, 3|4], got shape {array.shape}")


def to_mnist(image: Image.Image | np.ndarray) -> np.ndarray:
    """float32 [28, 28] in [0, 1]; EmptyImage when there is nothing drawn."""
    ink = ink_of(image)
    if ink.size == 0 or float(ink.max()) < INK_FLOOR:
        raise EmptyImage("the image is empty: nothing is drawn on it")
    rows = np.flatnonzero(ink.max(1) >= INK_FLOOR)
    cols = np.flatnonzero(ink.max(0) >= INK_FLOOR)
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if max(crop.shape) < MIN_EXTENT * max(ink.shape) and max(ink.shape) > FIELD:
        raise EmptyImage("the drawing is too small to read: draw it larger")
    scale = BOX / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.LANCZOS))
    small = np.clip(small / max(float(small.max()), 1e-6), 0.0, 1.0)
    return _centre_by_mass(small)


def _centre_by_mass(small: np.ndarray) -> np.ndarray:
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    h, w = small.shape
    ys, xs = np.indices(small.shape)
    total = float(small.sum())
    cy, cx = float((ys * small).sum() / total), float((xs * small).sum() / total)
    top = int(np.clip(round(FIELD / 2 - cy), 0, FIELD - h))
    left = int(np.clip(round(FIELD / 2 - cx), 0, FIELD - w))
    field[top:top + h, left:left + w] = small
    return field
