"""The command line: errors as one line on stderr, and every subcommand's JSON on tiny data."""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from aecore import cli


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "aecore", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.parametrize("args,needle", [
    (["train", "--latent-dim", "0"], "latent size"),
    (["train", "--latent-dim", "10000"], "latent size"),
    (["train", "--epochs", "0"], "epochs"),
    (["train", "--lr", "nan"], "learning rate"),
    (["train", "--lr", "-1"], "learning rate"),
    (["train", "--batch-size", "70000"], "batch size"),
    (["train", "--model", "resnet"], "invalid choice"),
    (["embed", "../../etc"], "not a run id"),
    (["embed", "0123456789ab"], "no run"),
    (["classify", "0123456789ab"], "no run"),
    (["predict", "0123456789ab", "x.png"], "no run"),
    (["frobnicate"], "invalid choice"),
    (["train", "--device", "meta"], "not available"),
    (["train", "--device", "xla"], "not available"),
    (["train", "--device", "banana"], "not available"),
    pytest.param(["train", "--device", "cuda"], "not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is here")),
    pytest.param(["train", "--device", "mps"], "not available",
                 marks=pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS is here")),
])
def test_bad_arguments_fail_with_one_line(args, needle, cache, capsys):
    try:  # in this process: a fresh interpreter per case would cost seconds (torch's import)
        code = cli.main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out = capsys.readouterr()
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert needle in lines[0] and lines[0].startswith("aecore: error:")
    assert out.out == ""


@pytest.mark.parametrize("args,needle", [(["train", "--latent-dim", "0"], "latent size"),
                                         (["frobnicate"], "invalid choice"),
                                         (["train", "--device", "xla"], "not available")])
@pytest.mark.slow
def test_bad_arguments_from_a_real_process(args, needle, cache):
    proc = run_cli(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aecore: error:") and needle in lines[0]


@pytest.mark.slow
def test_unwritable_cache_fails_with_one_line(cache):
    cache.mkdir(exist_ok=True)
    (cache / "locks").write_bytes(b"")  # as root, chmod cannot make a folder unwritable
    proc = run_cli("train", "--epochs", "1")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("aecore: error: could not create the lock"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "AECORE_CACHE_DIR" in proc.stderr


@pytest.mark.slow
def test_subcommands_on_tiny_data(tiny, tmp_path, capsys):
    def call(*args):
        code = cli.main([*args, "--json"])
        return code, json.loads(capsys.readouterr().out)

    tiny_args = ["--latent-dim", "8", "--epochs", "2", "--batch-size", "32", "--lr", "0.03"]
    code, out = call("train", *tiny_args, "--device", "cpu")
    assert code == 0
    assert set(out) == {"run_id", "dataset", "model", "latent_dim", "epochs", "train_loss",
                        "test_loss", "seconds", "seconds_per_epoch", "cached"}
    assert out["cached"] is False and out["epochs"] == 2
    run_id = out["run_id"]
    assert call("train", *tiny_args, "--device", "cpu")[1]["cached"] is True

    code, out = call("embed", run_id, "--method", "pca")
    assert set(out) == {"run_id", "method", "n_points", "seconds", "knn_accuracy_2d", "cached",
                        "trust"}
    assert out["n_points"] == 200
    assert set(out["trust"]) == {"neighbours_kept_15", "trustworthiness", "continuity",
                                 "distinct_codes"}
    assert all(0 <= v <= 1 for v in out["trust"].values())

    code, out = call("embed", run_id, "--method", "pca", "--over-training")
    assert code == 0 and set(out) == {"run_id", "method", "snapshots", "seconds", "cached"}
    epochs = [s["epoch"] for s in out["snapshots"]]
    assert epochs == sorted(epochs) and epochs[-2:] == [1.0, 2.0] and 0 < epochs[0] < 1
    assert all(0 <= s["knn_accuracy_2d"] <= 1 for s in out["snapshots"])

    code, out = call("classify", run_id, "--head", "linear")
    assert {"test_accuracy", "train_accuracy", "per_class", "confusion", "baselines",
            "seconds", "cached"} <= set(out)
    assert set(out["baselines"]) == {"pixels", "pca"}
    code, drawing = call("classify", run_id, "--head", "linear", "--jitter")
    assert code == 0 and drawing["jitter"] is True and drawing["baselines"] == out["baselines"]

    good = tmp_path / "digit.png"
    Image.fromarray(np.kron(tiny.test_x[0].numpy(), np.ones((4, 4), np.uint8))).save(good)
    bad = tmp_path / "fake.png"
    bad.write_text("not an image")
    code, out = call("predict", run_id, str(good), str(bad), "--head", "linear")
    assert code == 1  # one file failed, the other is still predicted
    ok, failed = out["predictions"]
    assert ok["file"] == str(good) and 0 <= ok["digit"] <= 9 and len(ok["probabilities"]) == 10
    assert failed["file"] == str(bad) and "not a PNG" in failed["error"]

    code, out = call("runs")
    assert [r["run_id"] for r in out["runs"]] == [run_id]


def test_a_missing_device_is_refused_even_for_a_cached_run(tiny, capsys):
    tiny_args = ["train", "--latent-dim", "8", "--epochs", "1", "--batch-size", "32"]
    assert cli.main([*tiny_args, "--device", "cpu"]) == 0
    capsys.readouterr()
    assert cli.main([*tiny_args, "--device", "meta"]) == 2  # cached, still refused
    assert "not available" in capsys.readouterr().err


def test_every_option_says_what_it_is_and_its_default():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for action in command._actions:
            assert action.help, f"aecore {name} {action.option_strings or action.dest}: no help"
    train = " ".join(commands.choices["train"].format_help().split())
    assert "2 to 256 (default: 32)" in train
    assert "cpu" in train and "(default: False)" not in train
    # shared options, each command with its own default
    assert parser.parse_args(["classify", "r"]).head == "linear"
    assert parser.parse_args(["predict", "r", "x.png"]).head == "mlp"


def test_the_old_bench_command_names_its_new_one(capsys):
    assert cli.main(["bench", "--quick"]) == 2
    assert "aecore-bench" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["nonsense"])
    assert "(see `aecore --help`)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--bogus"])  # a command's own option: its own help
    assert "--bogus (see `aecore train --help`)" in capsys.readouterr().err
