"""The new models' pages under AppTest on tiny data: a VAE's KL views, a denoising run's
noisy | output | clean panels, the codes' sparsity, and the Draw page's jittered head."""

from __future__ import annotations

import pytest

from aecore.core.config import HeadConfig, TrainConfig
from aecore.runs import compare, pipeline
from tests.support import poll, texts, train_tiny, visit

VAE = TrainConfig(model="vae", beta=2.0, latent_dim=8, epochs=2, batch_size=32, lr=1e-2)
NOISY = TrainConfig(latent_dim=8, epochs=2, batch_size=32, lr=3e-2, noise=0.3, l1=1e-4)


def train_run(cfg: TrainConfig) -> pipeline.Run:
    return train_tiny(cfg).run


def open_with(app, cfg: TrainConfig, page: str) -> pipeline.Run:
    """Train cfg (in this process), make it the active run, and open page."""
    run = train_run(cfg)
    visit(app, "views/train.py")
    app.sidebar.selectbox(key="run_id").set_value(run.run_id).run()
    visit(app, page)
    return run


def test_a_vae_trains_from_the_page_with_its_beta(app):
    visit(app, "views/train.py")
    assert app.select_slider(key="beta").disabled
    app.selectbox(key="model").set_value("vae").run()
    assert not app.select_slider(key="beta").disabled
    app.select_slider(key="beta").set_value(2.0)
    app.slider(key="latent_dim").set_value(8)
    app.slider(key="epochs").set_value(2)
    app.select_slider(key="batch_size").set_value(32)
    app.number_input(key="lr").set_value(0.01)
    app.button(key="train").click().run()
    poll(app, lambda a: "trained 2 epochs:" in texts(a))
    app.run()
    assert app.sidebar.selectbox(key="run_id").value == VAE.key(), texts(app)
    run = pipeline.load_run(VAE.key())
    assert len(run.metrics["kl_per_dim"]) == 8
    assert run.metrics["active_units"] == sum(v > 0.01 for v in run.metrics["kl_per_dim"])
    visit(app, "views/train.py")
    assert "units active" in texts(app) and "ELBO" in texts(app)
    chart = app.get("plotly_chart")[0].proto.spec
    assert "KL, nats per image" in chart
    assert "β 2" in app.sidebar.selectbox(key="run_id").format_func(VAE.key())


def test_a_vaes_reconstructions_show_kl_samples_and_traversal(app, tiny):
    open_with(app, VAE, "views/reconstruct.py")
    shown = texts(app)
    assert "dimensions with the highest KL" in shown
    assert "units active" in " ".join(c.proto.spec for c in app.get("plotly_chart"))
    assert "Codes drawn from the prior" in shown
    images = app.get("image")
    assert len(images) >= 3


def test_a_denoising_runs_panels_and_sparsity(app, tiny):
    open_with(app, NOISY, "views/reconstruct.py")
    shown = texts(app)
    assert "noisy input | the model's output | the clean digit" in shown
    assert "L1 penalty of 0.0001" in shown and "near zero" in shown
    app.toggle(key="recon_noisy").set_value(False).run()
    assert "Mean test BCE" in texts(app)
    assert "Samples from the prior" not in str([t.label for t in app.tabs])


@pytest.mark.slow
def test_draw_uses_the_jittered_head_and_reports_canvas_accuracy(app, tiny):
    run = open_with(app, NOISY, "views/draw.py")
    poll(app, lambda a: pipeline.is_valid(pipeline.head_folder(run, compare.DRAW_HEAD)))
    stored = pipeline.classify(run, compare.DRAW_HEAD)
    report = stored.report
    assert report["config"]["jitter"] is True
    assert report["test_accuracy"] > 0.25  # ten bars, chance 0.1 (jitter blurs the bars)
    # the canvas figure is the stored head's accuracy on all 2,000 canvas-style digits
    from aecore.data.canvas_digits import load_canvas_digits
    from aecore.training import latents

    canvas = load_canvas_digits()
    codes = latents.encode(run.model, canvas.images)
    right = (stored.head.probabilities(codes).argmax(1) == canvas.labels).sum().item()
    assert len(canvas.labels) == 2000
    assert report["canvas_accuracy"] == pytest.approx(right / 2000, abs=1e-6)  # a float32 mean
    # Draw's advice quotes it, as this cache's figure, not a figure of one day's
    app.run()
    table = app.dataframe[0].value
    assert table["run"].tolist() == [f"dense · k=8 · 2 ep · {NOISY.variant}"]
    assert table["canvas digits read"].iloc[0] == pytest.approx(report["canvas_accuracy"])
    assert "96.1" not in texts(app)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vae-conv"])
def test_every_page_on_a_conv_vae(app, tiny, model):
    cfg = TrainConfig(model=model, latent_dim=4, epochs=1, batch_size=64, lr=1e-2)
    open_with(app, cfg, "views/train.py")
    for page, shows in (("views/explore.py", "Explore the latent map"),
                        ("views/reconstruct.py", "Samples from the prior"),
                        ("views/classify.py", "Train classifier"),
                        ("views/draw.py", "Draw a digit on the black canvas")):
        visit(app, page)
        assert not app.error, (page, [e.value for e in app.error])
        assert shows in page_words(app), page


def page_words(app) -> str:
    """What a page says: its texts, its widgets' labels and help, its charts."""
    widgets = [w for kind in ("radio", "number_input", "toggle", "button", "slider",
                              "select_slider", "selectbox", "multiselect", "checkbox",
                              "text_input", "expander", "tabs") for w in getattr(app, kind)]
    words = [str(getattr(w, attr, "") or "") for w in widgets for attr in ("label", "help")]
    return "\n".join([texts(app), *words, *(c.proto.spec for c in app.get("plotly_chart"))])


def test_a_fashion_run_speaks_of_images_not_digits(app, tiny, monkeypatch):
    runs = [train_run(TrainConfig(dataset="fashion", latent_dim=k, epochs=1, batch_size=32,
                                  lr=3e-2, noise=0.3)) for k in (4, 8)]
    for run in runs:
        pipeline.classify(run, HeadConfig())  # the Classifier page's default head, and Compare's
    pipeline.classify(runs[1], compare.DRAW_HEAD)
    visit(app, "views/train.py")
    app.sidebar.selectbox(key="dataset").set_value("fashion").run()
    assert app.sidebar.selectbox(key="run_id").value == runs[1].run_id
    for page in ("views/explore.py", "views/reconstruct.py", "views/classify.py",
                 "views/compare.py", "views/draw.py"):
        visit(app, page)
        shown = page_words(app)
        assert "digit" not in shown.lower(), (page, [line for line in shown.splitlines()
                                                      if "digit" in line.lower()])
    assert "Draw a piece of clothing on the black canvas" in texts(app)
    visit(app, "views/classify.py")
    assert "Misclassified test images" in texts(app)
    visit(app, "views/explore.py")
    assert "the 200 test images" in app.radio(key="map_kind").options
