import math

import pytest

from aecore.core.config import HeadConfig, ProjectionConfig, TrainConfig
from aecore.core.errors import InvalidConfig


@pytest.mark.parametrize("field,name,value", [
    ("latent_dim", "latent size", 0), ("latent_dim", "latent size", 1),
    ("latent_dim", "latent size", 10_000), ("latent_dim", "latent size", 3.5),
    ("epochs", "epochs", 0), ("lr", "learning rate", -1.0), ("lr", "learning rate", math.nan),
    ("lr", "learning rate", math.inf), ("lr", "learning rate", 0.0),
    ("batch_size", "batch size", 60_001), ("batch_size", "batch size", 0),
    ("model", "model", "resnet"), ("dataset", "dataset", "CIFAR/10"), ("seed", "seed", -1),
])
def test_train_config_refuses_bad_values(field, name, value):
    with pytest.raises(InvalidConfig) as info:
        TrainConfig(**{field: value})
    message = str(info.value)
    assert message.startswith(f"{name} must") and repr(value) in message


def test_key_is_stable_and_depends_on_every_field():
    base = TrainConfig()
    assert base.key() == TrainConfig().key()
    assert len(base.key()) == 12
    variants = [TrainConfig(latent_dim=16), TrainConfig(epochs=3), TrainConfig(lr=1e-3),
                TrainConfig(seed=1), TrainConfig(model="deep"), TrainConfig(dataset="fashion"),
                TrainConfig(batch_size=64)]
    keys = {v.key() for v in variants}
    assert base.key() not in keys and len(keys) == len(variants)


def test_round_trip_and_format_guard():
    cfg = TrainConfig(latent_dim=8, epochs=2)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    old = {**cfg.to_dict(), "format": 0}
    with pytest.raises(InvalidConfig, match="format"):
        TrainConfig.from_dict(old)


def test_other_configs_validate():
    with pytest.raises(InvalidConfig):
        ProjectionConfig(method="tsne")
    with pytest.raises(InvalidConfig):
        HeadConfig(head="svm")
    assert ProjectionConfig().key() != ProjectionConfig(method="pca").key()


def test_without_a_setting_the_cache_is_the_checkouts(monkeypatch):
    """`aecore` run from this checkout and the app it serves share ./cache (not ~/.cache)."""
    from pathlib import Path

    from aecore.core import paths

    monkeypatch.delenv("AECORE_CACHE_DIR", raising=False)
    checkout = Path(__file__).resolve().parents[1]
    assert (checkout / "pyproject.toml").is_file()
    assert paths.cache_dir() == checkout / "cache"
