"""Random and mutated bytes into every loader: only our typed errors may come out."""

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aecore.core.errors import CacheCorrupt, DatasetCorrupt, InvalidImage, RunNotFound
from aecore.data import idx
from aecore.data.preprocess import load_image, to_mnist
from aecore.runs import pipeline, store

SEED = 1234
N = 150


def blobs(seed: int, valid: bytes) -> list[bytes]:
    """Pure noise of many lengths, and the valid file with flipped, cut or spliced bytes."""
    rng = random.Random(seed)
    out = [bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 7, 64, 900, 5000])))
           for _ in range(N // 3)]
    for _ in range(N - len(out)):
        b = bytearray(valid)
        kind = rng.choice(["flip", "cut", "splice"])
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            b = b[:rng.randrange(len(b))]
        else:
            at = rng.randrange(len(b))
            b[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 50)))
        out.append(bytes(b))
    return out


def png() -> bytes:
    img = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(img).line([(32, 8), (32, 56)], fill=255, width=6)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_images():
    outcomes = {"ok": 0, "refused": 0}
    for blob in blobs(SEED, png()):
        try:
            to_mnist(load_image(blob))
            outcomes["ok"] += 1
        except InvalidImage:
            outcomes["refused"] += 1
    assert outcomes["refused"] > N // 3  # the noise at least is refused, with our error


def test_idx_files(tmp_path):
    md5, size = idx.SOURCES["mnist"].files["t10k-labels-idx1-ubyte"]
    valid = b"\x00\x00\x08\x01\x00\x00\x27\x10" + bytes(i % 10 for i in range(size - 8))
    path = tmp_path / "t10k-labels-idx1-ubyte"
    for blob in blobs(SEED + 1, valid):
        path.write_bytes(blob)
        with pytest.raises(DatasetCorrupt):
            idx.check_file(path, md5, size)


def test_cache_artefacts(cache):
    folder = cache / "fuzz" / "a"
    store.write_artefact(folder, {"config.json": b'{"a": 1}', "w.bin": b"x" * 100})
    manifest = (folder / store.MANIFEST).read_bytes()
    for i, blob in enumerate(blobs(SEED + 2, manifest)):
        target = cache / "fuzz" / f"m{i}"
        store.write_artefact(target, {"config.json": b'{"a": 1}', "w.bin": b"x" * 100})
        (target / store.MANIFEST).write_bytes(blob)
        try:
            files = store.verify_artefact(target)
        except CacheCorrupt:
            continue
        assert files == {"config.json": b'{"a": 1}', "w.bin": b"x" * 100}


def test_run_files(tiny):
    run = list(pipeline.train(pipeline.TrainConfig(latent_dim=8, epochs=1, batch_size=64),
                         device="cpu"))[-1].run
    folder = store.run_dir(run.run_id)
    good = store.verify_artefact(folder)
    rng = random.Random(SEED + 3)
    for name in ("config.json", "weights.safetensors", "history.json", "metrics.json"):
        for blob in blobs(rng.randrange(10**6), good[name])[:40]:
            store.write_artefact(folder, {**good, name: blob})  # a valid manifest over bad bytes
            try:
                loaded = pipeline.load_run(run.run_id)
            except RunNotFound:
                store.write_artefact(folder, good)
                continue
            assert loaded.config.latent_dim == 8
            loss = loaded.metrics["test_loss"]  # a number, or unknown: never text
            assert loss is None or (isinstance(loss, int | float) and np.isfinite(loss))
            assert all(isinstance(e, dict) for e in loaded.history.epochs)
    store.write_artefact(folder, good)
    assert np.isfinite(pipeline.load_run(run.run_id).metrics["test_loss"])
