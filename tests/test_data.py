import pytest

from aecore.core.errors import DatasetCorrupt, DatasetUnavailable, InvalidConfig
from aecore.data import datasets, idx


def fake_raw(root, name="mnist"):
    folder = idx.raw_folder(root, name)
    folder.mkdir(parents=True)
    for file in idx.SOURCES[name].files:
        (folder / file).write_bytes(b"\x00" * 16)
    return folder


def test_absent_offline_names_folder_files_and_variable(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetUnavailable) as info:
        datasets.locate("mnist", download=False)
    msg = str(info.value)
    assert "AECORE_DATA_DIR" in msg and "train-images-idx3-ubyte" in msg
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in msg


def test_offline_download_is_one_message(cache, tmp_path, monkeypatch, capsys):
    """No mirror answers (a closed local port): the error alone, no "downloading" line first."""
    from torchvision import datasets as torchvision_datasets

    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(torchvision_datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DatasetUnavailable, match="no download mirror answers .127.0.0.1."):
        datasets.locate("mnist", download=True)
    assert "downloading" not in capsys.readouterr().err


def test_failed_download_is_dataset_unavailable(cache, tmp_path, monkeypatch):
    """The real torchvision download from a local mirror that answers 404 to every file."""
    import http.server
    import threading

    from torchvision import datasets as torchvision_datasets

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "nowhere"))
        mirror = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setattr(torchvision_datasets.MNIST, "mirrors", [mirror])
        with pytest.raises(DatasetUnavailable, match="download failed"):
            datasets.locate("mnist", download=True)
    finally:
        server.shutdown()


def test_truncated_file_is_refused(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path))
    fake_raw(tmp_path)
    with pytest.raises(DatasetCorrupt, match="truncated"):
        datasets.load("mnist", download=False)


def test_altered_file_is_refused(tmp_path):
    md5, size = idx.SOURCES["mnist"].files["t10k-labels-idx1-ubyte"]
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x01" + b"\x07" * (size - 4))  # right size, wrong bytes
    with pytest.raises(DatasetCorrupt, match="md5"):
        idx.check_file(path, md5, size)


def test_unknown_dataset():
    with pytest.raises(InvalidConfig):
        datasets.locate("cifar")


@pytest.mark.mnist
def test_real_mnist_shapes(mnist):
    assert mnist.train_x.shape == (60_000, 28, 28) and mnist.test_x.shape == (10_000, 28, 28)
    assert mnist.train_x.dtype.is_floating_point is False
    assert sorted(mnist.test_y.unique().tolist()) == list(range(10))
