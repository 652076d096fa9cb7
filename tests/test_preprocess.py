import io
import os
import tracemalloc

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aecore.core.errors import EmptyImage, InvalidImage
from aecore.data.preprocess import MAX_BYTES, load_image, to_mnist
from tests.guard import run_capped


def canvas_stroke(points, size=280, width=20) -> np.ndarray:
    """An RGBA canvas like streamlit-drawable-canvas's: transparent, white ink, alpha 255."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(image).line(points, fill=(255, 255, 255, 255), width=width)
    return np.asarray(image)


def png_bytes(image: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def ink_box(x: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(x.max(1) > 0.05)
    cols = np.flatnonzero(x.max(0) > 0.05)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_vertical_stroke_becomes_a_centred_20px_digit():
    out = to_mnist(canvas_stroke([(60, 30), (70, 250)]))  # off-centre, tall
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() == pytest.approx(1.0)
    height, width = ink_box(out)
    assert height in (20, 21) and width < 8
    ys, xs = np.indices(out.shape)
    cy, cx = (ys * out).sum() / out.sum(), (xs * out).sum() / out.sum()
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


def test_wide_stroke_keeps_aspect():
    height, width = ink_box(to_mnist(canvas_stroke([(20, 140), (260, 150)])))
    assert width in (20, 21) and height < 6


def test_dark_on_light_is_inverted():
    grey = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(grey).line([(50, 10), (50, 90)], fill=0, width=8)
    out = to_mnist(load_image(png_bytes(grey)))
    assert out[0, 0] == 0 and out.max() == pytest.approx(1.0)  # background black, ink white


def test_light_on_dark_is_kept():
    grey = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(grey).line([(50, 10), (50, 90)], fill=255, width=8)
    a = to_mnist(load_image(png_bytes(grey)))
    inverted = Image.eval(grey, lambda v: 255 - v)
    b = to_mnist(load_image(png_bytes(inverted)))
    assert np.allclose(a, b, atol=1e-3)


def test_empty_and_dot_are_refused():
    with pytest.raises(EmptyImage, match="nothing is drawn"):
        to_mnist(np.zeros((280, 280, 4), dtype=np.uint8))
    with pytest.raises(EmptyImage, match="too small"):
        to_mnist(canvas_stroke([(140, 140), (141, 141)], width=10))


def test_sixteen_bit_grey():
    arr = np.zeros((64, 64), dtype=np.uint16)
    arr[8:56, 30:34] = 65535
    image = load_image(png_bytes(Image.fromarray(arr)))
    assert image.mode.startswith("I")
    out = to_mnist(image)
    assert out.max() == pytest.approx(1.0) and ink_box(out)[0] in (20, 21)


def test_animated_gif_uses_first_frame():
    frames = []
    for x in (20, 40):
        f = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(f).line([(x, 8), (x, 56)], fill=255, width=4)
        frames.append(f)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = to_mnist(load_image(buf.getvalue()))
    assert out.max() > 0.9


@pytest.mark.parametrize("blob", [b"", b"hello, I am text named digit.png", b"\x89PNG\r\n\x1a\n"
                                  + b"\x00" * 40, bytes(range(256)) * 4])
def test_not_an_image(blob):
    with pytest.raises(InvalidImage):
        load_image(blob)


def test_truncated_png():
    grey = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(grey).ellipse((40, 40, 160, 160), fill=255)
    blob = png_bytes(grey)
    with pytest.raises(InvalidImage):
        load_image(blob[: len(blob) // 2])


def test_decompression_bomb_is_refused_before_decoding():
    # A real PNG whose header claims 30000x30000 pixels (900 M), in a few kilobytes.
    bomb = png_bytes(Image.new("1", (30_000, 30_000), 0))
    assert len(bomb) < 200_000
    with pytest.raises(InvalidImage, match="limit|too large"):
        load_image(bomb)


def test_large_photo_is_scaled_down():
    big = Image.new("L", (5000, 5000), 255)
    ImageDraw.Draw(big).line([(2500, 500), (2500, 4500)], fill=0, width=200)
    out = to_mnist(load_image(png_bytes(big)))
    assert ink_box(out)[0] in (20, 21)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidImage, match="cannot read"):
        load_image(tmp_path / "nope.png")


def test_oversized_file_is_refused_before_it_is_read(tmp_path):
    sparse = tmp_path / "huge.png"
    with open(sparse, "wb") as fh:
        fh.truncate(MAX_BYTES + 5 * 1_048_576)  # sparse: no disk used, nothing to read
    tracemalloc.start()
    try:
        with pytest.raises(InvalidImage, match="the limit is 20 MiB"):
            load_image(sparse)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_BYTES // 10  # the file was not read whole


LOAD_IN_CHILD = ("import sys\nfrom aecore.core.errors import InvalidImage\n"
                 "from aecore.data.preprocess import load_image",
                 "try:\n    load_image(sys.argv[1])\nexcept InvalidImage as exc:\n    print(exc)")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_only_regular_files_are_opened(tmp_path, kind):
    """A FIFO would block the open, /dev/zero would fill memory: refused, not read."""
    path = tmp_path / "digit.png"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    proc = run_capped(*LOAD_IN_CHILD, str(path))
    assert "is a folder, device or pipe, not an image file" in proc.stdout, proc.stderr


def test_symlink_to_an_image_is_followed(tmp_path):
    image = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(image).line([(14, 4), (14, 24)], fill=255, width=3)
    (tmp_path / "real.png").write_bytes(png_bytes(image))
    (tmp_path / "link.png").symlink_to(tmp_path / "real.png")
    assert load_image(tmp_path / "link.png").size == (28, 28)
