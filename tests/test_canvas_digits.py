import numpy as np
import pytest
import torch

from aecore.data import canvas_digits as cd

PER_CLASS = 6


@pytest.fixture(scope="module")
def digits() -> cd.CanvasDigits:
    return cd.canvas_digits(per_class=PER_CLASS, seed=0)


def test_shapes_dtypes_and_balanced_labels(digits):
    n = 10 * PER_CLASS
    assert digits.images.shape == (n, 28, 28) and digits.images.dtype == torch.uint8
    assert digits.labels.shape == (n,) and digits.labels.dtype == torch.int64
    assert torch.bincount(digits.labels, minlength=10).tolist() == [PER_CLASS] * 10
    assert len(digits.sources) == n and all(isinstance(s, str) for s in digits.sources)


def test_half_of_each_class_from_fonts_half_from_strokes(digits):
    fonts = {name for name, _ in cd.fonts()}
    assert fonts, "at least Pillow's built-in font"
    for c in range(10):
        sources = [s for s, label in zip(digits.sources, digits.labels.tolist(), strict=True)
                   if label == c]
        assert sources.count("strokes") == PER_CLASS // 2
        assert all(s in fonts for s in sources if s != "strokes")
    assert len(set(digits.sources) - {"strokes"}) >= min(len(fonts), 3)  # the fonts cycle


def test_deterministic_for_a_seed_different_for_another(digits):
    again = cd.canvas_digits(per_class=PER_CLASS, seed=0)
    assert torch.equal(again.images, digits.images) and again.sources == digits.sources
    assert torch.equal(again.labels, digits.labels)
    other = cd.canvas_digits(per_class=PER_CLASS, seed=1)
    assert not torch.equal(other.images, digits.images)
    # Image i depends on (seed, i) alone: a smaller set is a prefix of a larger one.
    small = cd.canvas_digits(per_class=2, seed=0)
    assert torch.equal(small.images, digits.images[:20])


def test_images_are_preprocessed_drawings(digits):
    """Not empty, scaled to MNIST's 20 px box and centred by mass: to_mnist ran on each."""
    x = digits.images.numpy().astype(np.float64)
    assert (x.max(axis=(1, 2)) == 255).all()
    ys, xs = np.indices((28, 28))
    mass = x.sum(axis=(1, 2))
    cy, cx = (x * ys).sum(axis=(1, 2)) / mass, (x * xs).sum(axis=(1, 2)) / mass
    assert np.abs(cy - 14).max() <= 1 and np.abs(cx - 14).max() <= 1
    for image in x:
        rows, cols = np.flatnonzero(image.max(1) > 12), np.flatnonzero(image.max(0) > 12)
        assert 15 <= max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) <= 21


def test_ink_thickness_varies_in_both_sources(digits):
    share = (digits.images.numpy() > 127).mean(axis=(1, 2))
    strokes = np.array(digits.sources) == "strokes"
    for part in (share[strokes], share[~strokes]):
        assert part.min() > 0.01 and part.max() / part.min() > 2


def test_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    first = cd.load_canvas_digits(per_class=2, seed=3)
    files = list((tmp_path / "canvas").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz" and f"v{cd.VERSION}-" in files[0].name
    assert "2x10" in files[0].name and "seed3" in files[0].name

    def redraw(*args, **kwargs):
        raise AssertionError("the cached set should have been read")

    monkeypatch.setattr(cd, "canvas_digits", redraw)
    second = cd.load_canvas_digits(per_class=2, seed=3)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert second.images.dtype == torch.uint8 and second.labels.dtype == torch.int64
    assert first.sources == second.sources


def _flip_compressed_bytes(path):
    data = bytearray(path.read_bytes())
    data[60:90] = bytes(30)  # inside the first member's deflate stream: a zlib error
    path.write_bytes(bytes(data))


def _wrong_shape(path):
    np.savez_compressed(path, images=np.zeros((10, 14, 14), np.uint8),
                        labels=np.zeros(10, np.int64), sources=np.array(["x"] * 10))


@pytest.mark.parametrize("damage", [lambda p: p.write_bytes(b"not a zip"),
                                    lambda p: p.write_bytes(b""), _flip_compressed_bytes,
                                    _wrong_shape])
def test_a_damaged_cache_file_is_drawn_again(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    first = cd.load_canvas_digits(per_class=1, seed=0)
    (path,) = (tmp_path / "canvas").iterdir()
    damage(path)
    again = cd.load_canvas_digits(per_class=1, seed=0)
    assert torch.equal(first.images, again.images)
    assert [p.name for p in (tmp_path / "canvas").iterdir()] == [path.name]  # no tmp left
    assert np.load(path)["images"].shape == (10, 28, 28)


def test_bad_per_class():
    with pytest.raises(ValueError):
        cd.canvas_digits(per_class=0)
