"""Integration on the real MNIST (AECORE_DATA_DIR): quality bars and the CLI's JSON."""

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.mnist, pytest.mark.slow, pytest.mark.timeout(600)]  # 10-epoch CLI runs


@pytest.fixture(scope="module")
def cli(mnist_cli):
    return mnist_cli


def test_dense_32_reaches_the_keras_bar_in_10_epochs(default_run):
    # The Keras blog reaches 0.0916 after 50 epochs with Adam; we ask 0.092 after 10.
    assert default_run["test_loss"] <= 0.092
    assert default_run["epochs"] == 10 and default_run["latent_dim"] == 32


def test_second_train_is_cached(cli, default_run):
    _, again = cli("train", "--epochs", "10")
    assert again["cached"] is True and again["run_id"] == default_run["run_id"]
    assert again["test_loss"] == default_run["test_loss"]


def test_mlp_head_beats_097_and_reports_baselines(cli, default_run):
    _, out = cli("classify", default_run["run_id"], "--head", "mlp")
    assert out["test_accuracy"] > 0.97
    assert out["baselines"]["pixels"] > 0.95 and out["baselines"]["pca"] > 0.9
    assert np.array(out["confusion"]).sum() == 10_000
    assert len(out["per_class"]) == 10


def test_umap_map_keeps_classes(cli, default_run):
    _, out = cli("embed", default_run["run_id"], "--method", "umap")
    assert out["n_points"] == 10_000
    assert out["knn_accuracy_2d"] > 0.85


def test_the_map_of_all_70000_digits_keeps_classes(cli, default_run):
    _, out = cli("embed", default_run["run_id"], "--all-digits")
    assert out["n_points"] == 70_000
    assert out["knn_accuracy_2d"] > 0.9  # 0.963 measured on a 3-epoch dense run


def test_predict_real_test_digits(cli, default_run, mnist, tmp_path):
    files = []
    for i in range(20):
        path = tmp_path / f"digit{i}.png"
        big = np.kron(mnist.test_x[i].numpy(), np.ones((10, 10), np.uint8))  # 280x280
        Image.fromarray(big).save(path)
        files.append(str(path))
    _, out = cli("predict", default_run["run_id"], *files)
    digits = [p["digit"] for p in out["predictions"]]
    right = sum(d == t for d, t in zip(digits, mnist.test_y[:20].tolist(), strict=True))
    assert right >= 17  # re-preprocessed at 10x, so a little harder than the test set


def test_runs_lists_the_run(cli, default_run):
    _, out = cli("runs")
    assert default_run["run_id"] in [r["run_id"] for r in out["runs"]]


def test_the_drawing_head_reads_canvas_digits_better(cli, default_run):
    """Canvas-style digits (fonts and strokes, never MNIST): the head trained with jittered
    copies reads more of them than the plain head, and MNIST's test digits as well."""
    _, plain = cli("classify", default_run["run_id"], "--head", "mlp")
    _, drawing = cli("classify", default_run["run_id"], "--head", "mlp", "--jitter")
    assert drawing["jitter"] is True and plain["jitter"] is False
    assert drawing["canvas_accuracy"] > plain["canvas_accuracy"] + 0.01, (plain, drawing)
    assert drawing["canvas_accuracy"] > 0.93
    assert drawing["test_accuracy"] > plain["test_accuracy"] - 0.005


def test_the_recommended_model_reads_95_percent_of_drawings(cli, recommended_run):
    """The Draw page recommends conv, k=32, 10 epochs: its drawing head must read at least
    95 % of the canvas-style digits and keep MNIST's test accuracy."""
    run = recommended_run
    assert run["test_loss"] < 0.078
    _, head = cli("classify", run["run_id"], "--head", "mlp", "--jitter")
    assert head["canvas_accuracy"] >= 0.95 and head["test_accuracy"] >= 0.985, head
