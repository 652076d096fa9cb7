import pytest
import torch

from aecore.models import REGISTRY, build


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("k", [2, 32])
def test_interface_shapes(name, k):
    model = build(name, k)
    x = torch.rand(5, 784)
    z = model.encode(x)
    assert z.shape == (5, k)
    logits = model.decode(z)
    assert logits.shape == (5, 784)
    recon = model.reconstruct(x)
    assert 0 <= recon.min() and recon.max() <= 1
    loss = model.loss(x)["loss"]
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_loss_is_mean_per_pixel_bce():
    model = build("dense", 4)
    x = torch.rand(3, 784)
    expected = torch.nn.functional.binary_cross_entropy(torch.sigmoid(model(x)), x)
    assert torch.allclose(model.loss(x)["loss"], expected, atol=1e-5)


def test_the_registry_builds_exactly_the_configs_models():
    """A model is a name in config.MODELS (checked before any import of torch) and a class in
    the registry: the two lists agree, and so does which of them are variational."""
    from aecore.core.config import MODELS, VARIATIONAL

    assert tuple(REGISTRY) == MODELS
    assert tuple(name for name, model in REGISTRY.items() if model.variational) == VARIATIONAL
