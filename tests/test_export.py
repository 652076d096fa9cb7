"""Exports: the projector bundle read by TensorBoard's own proto (and its server), ONNX models
run by onnxruntime, the HTML report, the CSV tables, and the CLI around them."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from aecore import cli
from aecore.core.config import MODELS, HeadConfig, ProjectionConfig, TrainConfig
from aecore.export import writers
from aecore.figures import tables
from aecore.runs import pipeline
from aecore.training import latents
from tests.support import train_tiny


def tiny_run(model: str = "dense", k: int = 6) -> pipeline.Run:
    return train_tiny(TrainConfig(model=model, latent_dim=k, epochs=1, batch_size=32)).run


def test_a_sprite_of_many_large_images_fits_the_projector():
    """20,000 colour 64x64 images would make a 9,024-px sheet: the tiles shrink to 57 px
    (8192 // 142), each its image's area average, so the sheet stays within 8,192 px."""
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (20_000, 64, 64, 3), dtype=np.uint8))
    images[7] = 200  # a flat image stays flat
    tiles = writers.sprite_tiles(images)
    assert tiles.shape == (20_000, 57, 57, 3) and tiles.dtype == torch.uint8
    assert (tiles[7] == 200).all()
    assert abs(tiles.float().mean() - images.float().mean()) < 0.5
    sheet = writers.sprite(tiles)
    assert sheet.shape == (142 * 57, 142 * 57, 3) and sheet.shape[0] <= writers.SPRITE_MAX_PX
    grey = torch.zeros(10_000, 64, 64, dtype=torch.uint8)
    assert writers.sprite_tiles(grey) is grey  # 100 x 64 = 6,400 px: kept as they are


@pytest.mark.slow
def test_projector_bundle_reads_in_tensorboards_proto(tiny, tmp_path):
    pytest.importorskip("tensorboard", reason="the export extra: pip install -e '.[export]'")
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    run = tiny_run(k=6)
    files = writers.projector(run, tmp_path / "bundle")
    assert [f.name for f in files] == list(writers.PROJECTOR_FILES)

    config = text_format.Parse((tmp_path / "bundle/projector_config.pbtxt").read_text(),
                               ProjectorConfig())
    [emb] = config.embeddings
    assert emb.tensor_path == "tensors.tsv" and emb.metadata_path == "metadata.tsv"
    assert emb.sprite.image_path == "sprite.png" and list(emb.sprite.single_image_dim) == [28, 28]
    assert list(emb.tensor_shape) == [200, 6] and run.run_id in emb.tensor_name

    codes = np.loadtxt(tmp_path / "bundle/tensors.tsv", delimiter="\t")
    assert codes.shape == (200, 6)
    np.testing.assert_allclose(codes, pipeline.codes(run)[1].numpy(), rtol=1e-5, atol=1e-5)
    meta = pd.read_csv(tmp_path / "bundle/metadata.tsv", sep="\t", dtype={"label": str,
                                                                           "prediction": str})
    assert list(meta.columns) == ["label", "prediction", "reconstruction_error"]
    assert len(meta) == 200
    assert (meta["label"] == tiny.test_y.numpy().astype(str)).all()
    head = pipeline.classify(run, HeadConfig(head="linear"))  # what predicted: stored, not
    # retrained
    assert (meta["prediction"] == head.head.probabilities(pipeline.codes(run)[1]).argmax(1)
            .numpy().astype(str)).all()
    errors = latents.reconstruction_error(run.model, tiny.test_x).numpy()
    np.testing.assert_allclose(meta["reconstruction_error"], errors, rtol=1e-4)

    sprite = np.asarray(Image.open(tmp_path / "bundle/sprite.png"))
    assert sprite.shape == (2800, 2800)
    for i in (0, 1, 57, 199):  # tile i is row i // 100, column i % 100
        r, c = divmod(i, 100)
        assert (sprite[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] == tiny.test_x[i].numpy()).all()
    assert not sprite[28 * 2:].any()  # past the last digit: empty tiles


@pytest.mark.slow
def test_the_mlp_head_predicts_when_it_was_trained(tiny):
    run = tiny_run()
    assert writers.test_digits(run).head == "linear"
    pipeline.classify(run, HeadConfig(head="mlp"))
    assert writers.test_digits(run).head == "mlp"


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_onnx_models_match_pytorch(tiny, tmp_path, model):
    ort = pytest.importorskip("onnxruntime", reason="the export extra: pip install -e '.[export]'")
    run = tiny_run(model, k=5)
    files = writers.onnx(run, tmp_path / "onnx")
    assert [f.name for f in files] == ["encoder.onnx", "decoder.onnx"]
    assert sorted(f.name for f in (tmp_path / "onnx").iterdir()) == ["decoder.onnx",
                                                                       "encoder.onnx"]
    images = tiny.test_x.reshape(-1, 784).float() / 255.0
    encoder = ort.InferenceSession(str(files[0]))
    decoder = ort.InferenceSession(str(files[1]))
    assert [i.name for i in encoder.get_inputs()] == ["images"]
    with torch.no_grad():
        codes = run.model.encode(images)
        pixels = torch.sigmoid(run.model.decode(codes))
    for n in (1, 7, 200):  # the batch dimension is dynamic
        got = encoder.run(None, {"images": images[:n].numpy()})[0]
        assert got.shape == (n, 5)
        assert np.abs(got - codes[:n].numpy()).max() <= 1e-5
        out = decoder.run(None, {"codes": codes[:n].numpy()})[0]
        assert out.shape == (n, 784)
        assert np.abs(out - pixels[:n].numpy()).max() <= 1e-5


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.timeout(600)  # alone, it trains the session's two 10-epoch runs first
def test_onnx_encoder_on_1000_real_test_digits(mnist, session_cache, default_run,
                                              recommended_run, monkeypatch, tmp_path):
    """The session's dense and conv runs (trained for the MNIST bars), exported."""
    ort = pytest.importorskip("onnxruntime", reason="the export extra: pip install -e '.[export]'")
    monkeypatch.setenv("AECORE_CACHE_DIR", str(session_cache))
    for trained in (default_run, recommended_run):
        run = pipeline.load_run(trained["run_id"])
        model = run.config.model
        files = writers.onnx(run, tmp_path / model)
        images = mnist.test_x[:1000].reshape(1000, 784).float() / 255.0
        with torch.no_grad():
            codes = run.model.encode(images)
            pixels = torch.sigmoid(run.model.decode(codes))
        got = ort.InferenceSession(str(files[0])).run(None, {"images": images.numpy()})[0]
        out = ort.InferenceSession(str(files[1])).run(None, {"codes": codes.numpy()})[0]
        code_diff = np.abs(got - codes.numpy()).max()
        image_diff = np.abs(out - pixels.numpy()).max()
        print(f"{model}: codes up to {codes.abs().max():.1f}, max |diff| {code_diff:.2e}; "
              f"images {image_diff:.2e}")
        assert code_diff <= 1e-5 and image_diff <= 1e-5


@pytest.mark.slow
def test_html_report_is_self_contained(tiny):
    run = tiny_run("vae", k=4)
    page = writers.html(run, projection=ProjectionConfig(method="pca"))
    assert page.startswith("<!DOCTYPE html>") and run.run_id in page
    assert page.count('class="plotly-graph-div"') == 5  # loss, map, accuracy, per class, confusion
    assert page.count("plotly.js v") == 1  # inlined once
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)  # plotly.js names URLs
    assert markup.count("<img") == 1 and 'src="data:image/png' in markup
    assert not re.search(r'(src|href)="(https?:)?//', markup)  # nothing fetched from elsewhere
    assert not re.search(r'<script[^>]*src=', page)
    for what in ("Config", "Training", "The map", "Reconstructions", "Classifier on the codes",
                 "same head on raw pixels", "active units", "PCA map"):
        assert what in page, what
    [uri] = re.findall(r'src="data:image/png;base64,([^"]+)"', markup)
    import base64
    grid = Image.open(io.BytesIO(base64.b64decode(uri)))
    assert grid.size[0] > 400 and grid.size[1] > 100


def test_tables(tiny):
    embedding = np.arange(8, dtype=np.float32).reshape(4, 2)
    labels, names = np.array([0, 1, 2, 1]), ["zero", "one", "two"]
    table = tables.map_table(embedding, labels, names, np.array([.1, .2, .3, .4]))
    assert list(table.columns) == ["index", "x", "y", "label", "reconstruction_error"]
    table = tables.map_table(embedding, labels, names, np.array([.1, .2, .3, .4]),
                             predictions=np.array([0, 2, 2, 1]), trust=np.array([1, .5, 0, 1]))
    assert list(table.columns)[-2:] == ["prediction", "trust"]
    assert table["prediction"].tolist() == ["zero", "two", "two", "one"]
    picked = tables.selection_table(table, [3, 1], np.eye(4, 3))
    assert picked["index"].tolist() == [3, 1]
    assert picked[["z0", "z1", "z2"]].to_numpy().tolist() == [[0, 0, 0], [0, 1, 0]]
    back = pd.read_csv(io.StringIO(tables.csv_text(picked)))
    assert back["y"].tolist() == [7.0, 3.0]

    originals = np.zeros((3, 28, 28))
    originals[1] = 1.0
    sheet = np.asarray(Image.open(io.BytesIO(tables.pairs_png(originals, originals, columns=2))))
    assert sheet.shape == (28 * 2 + 4, 58 * 2 + 4)
    assert sheet[:28, 62:62 + 28].min() == 255 and sheet[:28, :28].max() == 0  # pair 2 is ink
    assert (sheet[28:32] == 255).all()  # white between rows

    report = {"confusion": [[3, 1], [0, 4]], "per_class": [0.75, 1.0]}
    confusion = tables.confusion_table(report["confusion"], ["a", "b"])
    assert confusion.columns.tolist() == ["label", "predicted a", "predicted b"]
    per_class = tables.per_class_table(report, ["a", "b"])
    assert per_class["test_count"].tolist() == [4, 4]


@pytest.mark.slow
def test_cli_export_json_and_errors(tiny, tmp_path, capsys, monkeypatch):
    run = tiny_run()
    code = cli.main(["export", run.run_id, "--projector", str(tmp_path / "p"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["run_id"] == run.run_id
    assert [p.rsplit("/", 1)[1] for p in out["files"]] == list(writers.PROJECTOR_FILES)

    assert cli.main(["export", run.run_id]) == 2
    assert "say what to export" in capsys.readouterr().err
    for flag, other in (("--onnx", "--projector"), ("--projector", "--html"),
                        ("--html", "--projector")):
        # An empty path (an unset shell variable) is said, not taken as "not given" or as a
        # folder named " ", and before the other target is written.
        target = tmp_path / f"beside{flag}"
        assert cli.main(["export", run.run_id, other, str(target), flag, " "]) == 2
        assert f"{flag} was given an empty path" in capsys.readouterr().err
        assert not target.exists() and not Path(" ").exists()
    assert cli.main(["export", "nosuchrun", "--projector", str(tmp_path / "q")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    (tmp_path / "file").write_text("x")
    assert cli.main(["export", run.run_id, "--projector", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot make the folder" in err
    assert cli.main(["export", run.run_id, "--html", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err

    # Every target is checked before any is written: no ONNX beside a report that failed.
    assert cli.main(["export", run.run_id, "--onnx", str(tmp_path / "o1"),
                     "--html", str(tmp_path / "file" / "run.html")]) == 2
    assert "cannot make the folder" in capsys.readouterr().err
    assert not list((tmp_path / "o1").glob("*"))  # nor its folder: nothing is made first

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # the extra, not installed
    assert cli.main(["export", run.run_id, "--onnx", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install" in err and "[export]" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.slow
def test_tensorboard_serves_the_bundle(tiny, tmp_path):
    """TensorBoard itself, run on the bundle: its projector lists the codes and serves them."""
    pytest.importorskip("tensorboard", reason="the export extra: pip install -e '.[export]'")
    run = tiny_run(k=6)
    writers.projector(run, tmp_path)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir",
                               str(tmp_path), "--port", str(port), "--host", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/data/plugin/projector"

    def get(path: str) -> bytes:
        with urllib.request.urlopen(base + path, timeout=30) as reply:
            return reply.read()
    try:
        for _ in range(240):
            try:
                runs = json.loads(get("/runs"))
                break
            except OSError:
                time.sleep(0.5)
        assert runs == ["."]
        [emb] = json.loads(get("/info?run=."))["embeddings"]
        assert emb["tensorShape"] == [200, 6]
        name = urllib.parse.quote(emb["tensorName"])
        tensor = np.frombuffer(get(f"/tensor?run=.&name={name}"), dtype=np.float32)
        np.testing.assert_allclose(tensor.reshape(200, 6), pipeline.codes(run)[1].numpy(),
                                   rtol=1e-5, atol=1e-5)
        assert get(f"/metadata?run=.&name={name}").startswith(b"label\tprediction\t")
        assert get(f"/sprite_image?run=.&name={name}")[:4] == b"\x89PNG"
    finally:
        server.terminate()
        server.wait(30)
