"""Your own image folders as datasets (aecore.data.folders, aecore.runs.imported, `aecore
data`): what goes in, what is refused with one sentence, and that a refused or interrupted
import leaves the cache as it was."""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aecore import cli
from aecore.core.config import DATASETS, HeadConfig, ProjectionConfig, TrainConfig
from aecore.core.errors import DatasetExists, DatasetUnavailable, InvalidConfig
from aecore.data import datasets, folders
from aecore.runs import imported, pipeline, store
from benchmarks.shapes import CLASSES, make_folder, make_zip
from tests.support import train_tiny


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory) -> Path:
    """Six classes of 40 rendered shapes each: 240 images, mixed sizes, modes and formats."""
    return make_folder(tmp_path_factory.mktemp("shapes") / "shapes", per_class=40)


def cache_listing(cache: Path) -> list[str]:
    root = cache / "datasets"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def zip_of(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    """A zip of the folder as people make one (one top folder), with extra entries."""
    make_zip(folder, target)
    with zipfile.ZipFile(target, "a") as z:
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return target


def test_a_labelled_folder_becomes_a_dataset(cache, shapes_folder):
    m = imported.add(shapes_folder, "shapes")
    assert m.summary() == {"name": "shapes", "images": 240, "skipped": 0,
                           "classes": sorted(CLASSES), "train": m.summary()["train"],
                           "test": 240 - m.summary()["train"], "size": 28, "channels": 1}
    # Stratified: each class holds out its share (40 / 7, rounded), the same on every run.
    assert m.test == {c: 6 for c in CLASSES}
    data = datasets.load("shapes")
    assert data.train_x.shape == (204, 28, 28) and data.train_x.dtype == torch.uint8
    assert data.test_x.shape == (36, 28, 28) and data.labelled
    assert data.label_names == sorted(CLASSES) and data.nouns.one == "image"
    assert sorted(np.bincount(data.test_y.numpy()).tolist()) == [6] * 6
    assert datasets.names() == [*DATASETS, "shapes"] and datasets.offered()[-1] == "shapes"
    assert datasets.image_shape("shapes") == (28, 28)
    # The label of a circle is "circle": a bright disc's pixels are mostly one value.
    circle = data.label_names.index("circle")
    assert (data.train_y == circle).sum() == 34


def test_colour_and_size_are_kept(cache, shapes_folder):
    m = imported.add(shapes_folder, "colour", size=32, colour=True)
    data = datasets.load("colour")
    assert m.channels == 3 and data.train_x.shape[1:] == (32, 32, 3)
    # Colour images keep their colours: some pixels differ between channels.
    assert (data.train_x[..., 0].int() - data.train_x[..., 1].int()).abs().max() > 50


def test_a_zip_with_broken_files_among_good_ones(cache, shapes_folder, tmp_path):
    png = io.BytesIO()
    Image.new("RGBA", (50, 30), (255, 0, 0, 128)).save(png, "PNG")
    extra = {"shapes/circle/notes.txt": b"not an image",
             "shapes/circle/cut.png": (shapes_folder / "circle" / "00001.png").read_bytes()[:80],
             "shapes/square/wide.png": png.getvalue(),
             "shapes/loose.png": png.getvalue()}
    m = imported.add(zip_of(shapes_folder, tmp_path / "s.zip", extra), "zipped")
    reasons = dict(m.skipped_files)
    assert m.images == 241 and m.skipped == 3  # the wide RGBA square is read
    assert "not a PNG, JPEG" in reasons["circle/notes.txt"]
    assert "damaged or truncated" in reasons["circle/cut.png"]
    assert reasons["loose.png"] == "not in a class folder"


@pytest.mark.parametrize("entry", ["../evil.png", "/etc/evil.png", "a/../../evil.png",
                                   "C:/evil.png"])
def test_a_zip_slip_is_refused_whole(cache, shapes_folder, tmp_path, entry):
    archive = zip_of(shapes_folder, tmp_path / "slip.zip", {entry: b"x"})
    with pytest.raises(InvalidConfig, match="points outside its folder"):
        imported.add(archive, "slip")
    assert cache_listing(cache) == [] and not (tmp_path / "evil.png").exists()


@pytest.mark.parametrize(("limit", "value", "source", "sentence"), [
    ("MAX_UNZIPPED", 10_000_000, "bomb", "unpacks to .* GiB.*zip bomb"),
    ("MAX_FILES", 2, "bomb", "holds 3 entries; the limit is 2"),
    ("MAX_CLASSES", 5, "shapes", "sit in 6 class folders; the limit is 5"),
    # read from each image's header before it is decoded: 100 images of 64x64 pass 400,000
    ("MAX_DECODED_PIXELS", 400_000, "shapes", "more than 400,000 pixels in all"),
])
def test_each_limit_is_one_sentence_before_the_work_it_bounds(cache, shapes_folder, tmp_path,
                                                              monkeypatch, limit, value, source,
                                                              sentence):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(3):
            z.writestr(f"b/{i}.png", b"\0" * 5_000_000)
    monkeypatch.setattr(folders, limit, value)
    with pytest.raises(InvalidConfig, match=sentence):
        imported.add(bomb if source == "bomb" else shapes_folder, "limited")
    assert cache_listing(cache) == []


def test_symlinks_are_skipped_not_followed(cache, shapes_folder, tmp_path):
    folder = tmp_path / "linked"
    for c in ("circle", "cross", "square"):
        (folder / c).mkdir(parents=True)
        for f in sorted((shapes_folder / c).iterdir()):
            (folder / c / f.name).write_bytes(f.read_bytes())
    secret = tmp_path / "secret.png"
    secret.write_bytes((shapes_folder / "ring" / "00001.png").read_bytes())
    (folder / "circle" / "link.png").symlink_to(secret)
    (folder / "elsewhere").symlink_to(shapes_folder / "ring", target_is_directory=True)
    m = imported.add(folder, "linked")
    assert m.classes == ["circle", "cross", "square"] and m.images == 120
    assert dict(m.skipped_files) == {"circle/link.png": "a symbolic link",
                                     "elsewhere": "a symbolic link"}


def test_each_bad_input_is_one_sentence_and_leaves_nothing(cache, shapes_folder, tmp_path):
    one_class = tmp_path / "one"
    (one_class / "circle").mkdir(parents=True)
    for f in sorted((shapes_folder / "circle").iterdir()):
        for i in range(3):
            (one_class / "circle" / f"{i}{f.name}").write_bytes(f.read_bytes())
    few = tmp_path / "few"
    few.mkdir()
    (few / "one.png").write_bytes((shapes_folder / "bar" / "00001.png").read_bytes())
    cases = [(one_class, "one", "has one class folder \\(circle\\)"),
             (few, "few", "holds 1 candidate image files; a dataset needs at least 100"),
             (tmp_path / "absent", "absent", "does not exist"),
             (few / "one.png", "file", "neither a folder nor a .zip"),
             (shapes_folder, "mnist", "a built-in dataset's name"),
             (shapes_folder, "a/b", "a dataset name is 1 to 32"),
             (shapes_folder, "../up", "a dataset name is 1 to 32")]
    for source, name, sentence in cases:
        with pytest.raises(InvalidConfig, match=sentence) as info:
            imported.add(source, name)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidConfig, match="size must be a whole number from 16 to 64"):
        imported.add(shapes_folder, "big", size=65)
    assert cache_listing(cache) == []


def test_split_folders_and_unlabelled_folders(cache, shapes_folder, tmp_path):
    split = tmp_path / "split"
    for part, files in (("train", slice(0, 30)), ("test", slice(30, 40))):
        for c in ("circle", "cross", "ring"):
            (split / part / c).mkdir(parents=True)
            for f in sorted((shapes_folder / c).iterdir())[files]:
                (split / part / c / f.name).write_bytes(f.read_bytes())
    m = imported.add(split, "split")
    assert m.train == {"circle": 30, "cross": 30, "ring": 30}
    assert m.test == {"circle": 10, "cross": 10, "ring": 10}

    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted(shapes_folder.rglob("*.png"))[:150]:
        (flat / f"{f.parent.name}-{f.name}").write_bytes(f.read_bytes())
    m = imported.add(flat, "flat")
    data = datasets.load("flat")
    assert not m.labelled and not data.labelled and data.label_names == ["unlabelled"]
    assert len(data.train_x) + len(data.test_x) == 150 and set(data.test_y.tolist()) == {0}
    # Its map has no label accuracy (a trivial 1.0 with one label), and no classifier.
    run = train_tiny(TrainConfig(dataset="flat", latent_dim=4, epochs=1)).run
    assert pipeline.embed(run, ProjectionConfig(method="pca")).knn_accuracy_2d is None
    with pytest.raises(InvalidConfig, match="flat has no labels"):
        pipeline.classify(run)
    from aecore.services import sweep

    assert sweep.missing(None, "flat") == ["map"] and sweep.missing(None, "mnist") == list(
        sweep.DERIVED)


def test_an_interrupted_import_leaves_the_cache_as_it_was(cache, shapes_folder, monkeypatch):
    decoded = []
    real = folders._decode

    def stopping(*args):
        decoded.append(1)
        if len(decoded) == 50:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(folders, "_decode", stopping)
    with pytest.raises(KeyboardInterrupt):
        imported.add(shapes_folder, "cut")
    assert cache_listing(cache) == []
    with pytest.raises(DatasetUnavailable, match="no dataset called 'cut'"):
        datasets.load("cut")


def test_a_long_import_outlives_the_sweep_of_stale_temp_folders(cache, shapes_folder,
                                                                 monkeypatch):
    """An import that runs past store.STALE_TMP_SECONDS: its work folder, made to look two
    hours old after the first tick, is touched at the next, so the sweep leaves it."""
    seen = []

    def tick(done, total):
        [work] = (cache / "datasets").glob(".tmp-slow.*")
        if not seen:
            os.utime(work, (time.time() - 7200, time.time() - 7200))
        else:
            assert store.sweep_temp() == 0
        seen.append(done)

    monkeypatch.setattr(folders.Progress, "TICK", 64)
    m = imported.add(shapes_folder, "slow", on_progress=tick)
    assert len(seen) >= 3 and m.images == 240 and cache_listing(cache) == ["slow"]
    stale = cache / "datasets" / ".tmp-killed.abc"
    stale.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert store.sweep_temp() == 1 and cache_listing(cache) == ["slow"]


def test_two_sessions_adding_one_name_make_one_dataset(cache, shapes_folder):
    outcomes = []

    def add():
        try:
            outcomes.append(imported.add(shapes_folder, "twice").images)
        except DatasetExists as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, outcomes))[0] == "240"
    assert "called 'twice'" in sorted(map(str, outcomes))[1]
    assert cache_listing(cache) == ["twice"]


def test_train_map_and_remove_on_an_added_dataset(cache, shapes_folder):
    imported.add(shapes_folder, "shapes", size=32, colour=True)
    dense = train_tiny(TrainConfig(dataset="shapes", latent_dim=8, epochs=1)).run
    conv = train_tiny(TrainConfig(dataset="shapes", model="conv", latent_dim=8, epochs=1)).run
    assert dense.model.shape == (32, 32, 3) and conv.model.shape == (32, 32, 3)
    codes = pipeline.codes(conv)
    assert codes[1].shape == (36, 8)
    # A size the conv models cannot halve twice is one sentence, before any training.
    imported.add(shapes_folder, "odd", size=30)
    with pytest.raises(InvalidConfig, match="side is divisible by 4; these are 30x30"):
        train_tiny(TrainConfig(dataset="odd", model="conv", epochs=1))
    removed = imported.remove("shapes")
    assert sorted(removed.runs) == sorted([dense.run_id, conv.run_id])
    assert [r["config"]["dataset"] for r in pipeline.list_runs()] == []
    assert cache_listing(cache) == ["odd"]


def test_the_data_commands(cache, shapes_folder, capsys):
    assert cli.main(["data", "add", str(shapes_folder), "--name", "shapes", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert set(added) == {"name", "images", "skipped", "classes", "train", "test", "size",
                          "channels"} and added["images"] == 240
    assert cli.main(["data", "add", str(shapes_folder), "--name", "shapes"]) == 2
    assert "exists: remove it first" in capsys.readouterr().err
    assert cli.main(["data", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in listed["datasets"]] == ["shapes"]
    assert [k["name"] for k in listed["known"]] == ["mnist", "fashion", "kmnist",
                                                    "emnist-letters", "emnist-balanced"]
    assert cli.main(["train", "--dataset", "shapes", "--latent-dim", "4", "--epochs", "1",
                     "--json"]) == 0
    with pytest.raises(SystemExit) as parse_error:
        cli.main(["train", "--dataset", "no/such", "--epochs", "1"])
    assert parse_error.value.code == 2
    assert f"dataset must be one of {', '.join(DATASETS)} or the name" in capsys.readouterr().err
    assert cli.main(["train", "--dataset", "nosuch", "--epochs", "1"]) == 2
    assert "no dataset called 'nosuch'" in capsys.readouterr().err
    assert cli.main(["data", "remove", "shapes", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["runs"]) == 1
    assert cli.main(["data", "remove", "shapes"]) == 2
    assert os.listdir(cache / "datasets") == []


def test_class_names_from_folders_are_plain_text():
    shown = folders.class_names({"<a href='x'>cat</a>", "dog\n", "**bold**", "a<b", "a>b",
                                 "__init__", "1. one", "- item", "[x](http://e)", "#"})
    assert shown["<a href='x'>cat</a>"] == "a href x cat a"
    assert shown["dog\n"] == "dog" and shown["**bold**"] == "bold"
    assert {shown["a<b"], shown["a>b"]} == {"a b", "a b 2"}
    assert shown["__init__"] == "init" and shown["1. one"] == "1 one"
    assert shown["- item"] == "item" and shown["[x](http://e)"] == "x http e"
    assert shown["#"] == "class"


def test_a_damaged_deflate_stream_is_one_skipped_file(cache, shapes_folder, tmp_path):
    archive = tmp_path / "bad.zip"
    make_zip(shapes_folder, archive)
    png = (shapes_folder / "circle" / "00001.png").read_bytes()
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("shapes/circle/zz-bad.png", png * 4)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo("shapes/circle/zz-bad.png")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start:start + 8] = b"\xff" * 8  # invalid code lengths: zlib.error, not an OSError
    archive.write_bytes(bytes(data))
    m = imported.add(archive, "bad")
    assert m.images == 240 and [p for p, _ in m.skipped_files] == ["circle/zz-bad.png"]


def test_split_names_in_any_case_and_a_dotted_wrapper(cache, shapes_folder, tmp_path):
    archive = tmp_path / "split.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part, files in (("Training", slice(0, 30)), ("Testing", slice(30, 40))):
            for c in ("circle", "cross", "ring"):
                for f in sorted((shapes_folder / c).iterdir())[files]:
                    z.write(f, f"./wrap/{part}/{c}/{f.name}")
    m = imported.add(archive, "split")
    assert m.classes == ["circle", "cross", "ring"] and sum(m.test.values()) == 30


def test_stored_files_are_checked_before_they_are_read(cache, shapes_folder):
    imported.add(shapes_folder, "shapes")
    folder = cache / "datasets" / "shapes"
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["classes"][0] = "**<b>bar</b>**"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert folders.manifest("shapes").classes[0] == "b bar b"
    # A header that claims a terabyte is refused before anything is allocated.
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1,), np.uint8))
    header["shape"] = (2**40,)
    with open(folder / "train_x.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
    with pytest.raises(DatasetUnavailable, match="damaged .train_x: holds"):
        list(folders.arrays("shapes"))
    (folder / "train_x.npy").unlink()
    (folder / "train_x.npy").symlink_to(folder / "test_x.npy")
    with pytest.raises(DatasetUnavailable, match="damaged .train_x"):
        list(folders.arrays("shapes"))
    # Damaged, it is still listed (with why) and removed.
    assert cli.main(["data", "remove", "shapes"]) == 0


def test_a_name_whose_runs_outlived_their_dataset_is_refused(cache, shapes_folder):
    imported.add(shapes_folder, "shapes")
    run = train_tiny(TrainConfig(dataset="shapes", latent_dim=4, epochs=1)).run
    folders.remove("shapes")  # by hand: the runs stay
    with pytest.raises(DatasetExists, match="1 runs or baselines of an earlier dataset"):
        imported.add(shapes_folder, "shapes")
    assert imported.remove("shapes").runs == [run.run_id]
    assert imported.add(shapes_folder, "shapes").images == 240


def test_drawing_and_galleries_on_added_datasets(cache, shapes_folder):
    from aecore.analysis.classify import NeighbourVote
    from aecore.figures.gallery import Thumbnails
    from aecore.runs import drawing

    imported.add(shapes_folder, "grey")
    run = train_tiny(TrainConfig(dataset="grey", latent_dim=4, epochs=1)).run
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[100:180, 60:220] = 255  # white ink on a transparent ground, as the canvas gives
    data = datasets.load("grey")
    guess = drawing.predict(run, NeighbourVote(pipeline.codes(run)[0], data.train_y,
                                               n_classes=6), canvas)
    assert 0 < guess.image.mean() < 0.6  # the ink on black, not a white square
    with pytest.raises(InvalidConfig, match="is for grey 28x28 images"):
        imported.add(shapes_folder, "colour", size=32, colour=True)
        colour = train_tiny(TrainConfig(dataset="colour", latent_dim=4, epochs=1)).run
        pipeline.classify(colour, HeadConfig(jitter=True))
    colour = pipeline.load_run(TrainConfig(dataset="colour", latent_dim=4, epochs=1).key())
    pairs = Thumbnails(colour.model, datasets.load("colour").test_x,
                       pipeline.codes(colour)[1]).pairs([0, 1])
    assert len(pairs) == 2 and all(p.error > 0 for p in pairs)


def test_a_readme_beside_the_zips_folder_and_clashing_class_names(cache, shapes_folder, tmp_path):
    archive = zip_of(shapes_folder, tmp_path / "readme.zip", {"README.md": b"# shapes"})
    m = imported.add(archive, "readme")
    assert m.classes == sorted(CLASSES) and dict(m.skipped_files) == {
        "README.md": "beside the zip's folder"}
    shown = folders.class_names({"!" * i for i in range(1, 1000)} | {"x" * 40 + "!"})
    assert len(set(shown.values())) == 1000 and max(map(len, shown.values())) == 40
    assert all(folders.safe_label(s) == s for s in shown.values())  # read back as written
    with pytest.raises(InvalidConfig, match="sit in 1,001 class folders"):  # before naming
        folders.class_names({"!" * i for i in range(1, 1002)})
