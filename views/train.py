"""Train: sliders for the config, a background job, a live loss chart, stop, the queue."""

import time

import streamlit as st

from aecore.core import metrics
from aecore.core.config import MODELS, VARIATIONAL, TrainConfig, model_label
from aecore.core.errors import AecoreError
from aecore.figures import plots
from aecore.runs import pipeline
from aecore.services import jobs
from dashboard import background, cached, server, session

# Every redraw costs the trainer: on 2 cores the page's reruns and Chromium take CPU from
# torch's threads. Measured with `aecore-bench` (app over CLI seconds per epoch): polling every
# 1 s and redrawing every 1 s, 1.8x; every 2 s (background.POLL_SECONDS) and 4 s, 1.2x.
CHART_SECONDS = 4.0
BETAS = [0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 10.0]
L1_WEIGHTS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]
st.title("Train an autoencoder")
st.caption("The classic recipe is a dense 784 → 32 → 784 autoencoder; choose the code size, "
           "the model and the epochs, and watch the loss fall.")

left, mid, right = st.columns(3)
latent = left.slider("Latent size k", 2, 128, 32, key="latent_dim", persist_state=session.KEEP)
epochs = mid.slider("Epochs", 1, 100, 10, key="epochs", persist_state=session.KEEP)
model = right.selectbox("Model", MODELS, key="model", persist_state=session.KEEP,
                        format_func=model_label)
a, b, c = st.columns(3)
beta = a.select_slider("β: weight of the KL term (VAE)", BETAS, 1.0, key="beta",
                       persist_state=session.KEEP,
                       disabled=model not in VARIATIONAL,
                       help="1 is the plain VAE; above 1 the codes are pushed toward the prior "
                            "(fewer active units, smoother maps), below 1 toward sharper "
                            "reconstructions.")
noise = b.slider("Denoising: masked share of input pixels", 0.0, 0.5, 0.0, 0.05, key="noise",
                 persist_state=session.KEEP,
                 help="That share of each input's pixels is set to 0, fresh each batch; the "
                      "model must reconstruct the clean image.")
l1 = c.select_slider("Sparse codes: L1 weight", L1_WEIGHTS, 0.0, key="l1",
                     persist_state=session.KEEP,
                     format_func=lambda v: "off" if v == 0 else f"{v:.0e}",
                     help="Adds this weight times each image's sum of |code| to the loss, as "
                          "the Keras blog's sparse autoencoder (1e-4 there).")
with st.expander("Advanced"):
    a, b, c = st.columns(3)
    batch = a.select_slider("Batch size", [32, 64, 128, 256, 512, 1024], 128, key="batch_size",
                            persist_state=session.KEEP)
    lr = b.number_input("Peak learning rate (one-cycle, Adam)", 1e-5, 1.0, TrainConfig.lr,
                        format="%.4f", step=1e-3, key="lr", persist_state=session.KEEP)
    seed = c.number_input("Seed", 0, 2**31 - 1, 0, key="seed", persist_state=session.KEEP)

try:
    cfg = TrainConfig(dataset=st.session_state.get("dataset", "mnist"), model=model,
                      latent_dim=latent, epochs=epochs, batch_size=batch, lr=float(lr),
                      seed=int(seed), beta=beta if model in VARIATIONAL else 1.0,
                      noise=round(float(noise), 2), l1=l1)
except AecoreError as exc:
    st.error(str(exc))
    st.stop()

queue = server.training_queue()
steps_per_epoch = jobs.steps_per_epoch(cfg)
stored = pipeline.find_complete(cfg.key())
own = session.own_statuses(queue)
# The job to show: this session's running or next one, else its last one; a session with
# none of its own watches whatever runs on the server (a refreshed tab finds it again).
status = next((s for s in own if not s.finished), own[-1] if own else queue.current())
just_trained = stored is not None and status is not None and status.run_id == stored.run_id

if stored is None:
    if st.button("Train", type="primary", key="train"):
        status = queue.status(session.submit(queue, cfg))
elif not just_trained:
    st.success(f"This config was trained before (run {stored.run_id}): its stored curves are "
               "below, nothing is retrained.")
    if st.button("Use this run", type="primary", key="train"):
        st.session_state["activate_run"] = stored.run_id
        session.picked_run()
        st.rerun()


def show(status) -> None:
    if status.state == "queued":
        st.info(f"Waiting for the trainer: place {status.position} in the queue "
                "(one training at a time on this server).")
    elif status.state == "running":
        left = status.seconds_left
        eta = f", about {left:.0f} s left" if left is not None else ""
        st.progress(min(status.fraction, 1.0),
                    text=f"Epoch {max(status.epoch, 1)} of {status.config.epochs}{eta}")
    elif status.state == "failed":
        st.error(f"Training failed: {status.message}")
    elif status.state in ("stopped", "cancelled"):
        st.warning(status.message)
    else:
        st.success(status.message)
    if not session.is_own(status.job_id):
        sweep = status.origin == "sweep"
        st.caption(f"{'A sweep' if sweep else 'Another session'}'s training "
                   f"({describe(status.config)}): you can watch it; yours starts when you "
                   "press Train" + (" (Compare shows the sweep's progress)." if sweep else "."))
    elif not status.finished and not queue.owns(status.job_id, session.token()):
        st.caption(f"Another session was already training {describe(status.config)}: you joined "
                   "it, and its run becomes yours when it ends (only who started it can stop "
                   "it).")
    elif status.config != cfg:
        st.caption(f"Showing your training of {describe(status.config)}.")
    st.plotly_chart(loss_chart(status), key="loss_chart")


def describe(c: TrainConfig) -> str:
    return f"{c.model}, k={c.latent_dim}, {c.epochs} epochs" + (f", {c.variant}" * bool(c.variant))


def loss_chart(status):
    """The job's loss figure, rebuilt at most every CHART_SECONDS while it runs (an unchanged
    figure is cheap to send again)."""
    last = st.session_state.get("loss_chart_cache")
    now = time.monotonic()
    if status.finished or last is None or last[0] != status.job_id or now - last[1] >= \
            CHART_SECONDS:
        figure = plots.loss_figure(status.batch_steps, status.batch_losses, status.epochs,
                                   jobs.steps_per_epoch(status.config),
                                   status.batch_kl)
        last = st.session_state["loss_chart_cache"] = (status.job_id, now, figure)
    return last[2]


def live(job_id: str) -> None:
    # Finished: the whole page shows the outcome (drawn here too, it showed twice). None: a
    # server that ran many trainings since has forgotten it.
    background.watch(f"training-{job_id}", lambda: queue.status(job_id),
                     lambda status: None if status is None or status.finished else job_id,
                     live_view)


def live_view(status) -> None:
    job_id = status.job_id
    if queue.owns(job_id, session.token()) and st.button("Stop", key="stop"):
        session.stop(queue, job_id)
    show(status)
    for waiting in session.own_statuses(queue):
        if waiting.state == "queued" and waiting.job_id != job_id:
            c1, c2 = st.columns([4, 1])
            c1.caption(f"Next: your training of {describe(waiting.config)}, place "
                       f"{waiting.position} in the queue.")
            if c2.button("Cancel", key=f"cancel-{waiting.job_id}"):
                session.stop(queue, waiting.job_id)


def own_history() -> None:
    """Every training of this session, so that none ends unseen (a failure behind a queued
    job, a run trained while another was shown)."""
    if len(own) < 2:
        return
    with st.expander(f"Your trainings in this session ({len(own)})",
                     expanded=any(s.state == "failed" for s in own)):
        for s in own:
            st.caption(f"**{describe(s.config)}**: {s.state}" +
                       (f" · {s.message}" if s.message else ""))


def metrics_caption(run: pipeline.Run) -> None:
    m, vae = run.metrics, cached.variational_stats(run)
    st.caption(f"Test BCE {metrics.text(m['test_loss'], '.4f')} · train BCE "
               f"{metrics.text(m['train_loss'], '.4f')} · "
               f"{metrics.text(m['seconds_per_epoch'], '.2f')} s per epoch on "
               f"{m['device'] or 'an unknown device'}"
               + (f" · test KL {vae.kl:.1f} nats, {vae.active_units} of "
                  f"{run.config.latent_dim} units active, −ELBO {vae.negative_elbo:.1f} "
                  "nats per image" if vae else ""))


if status is not None and not status.finished:
    live(status.job_id)
elif status is not None and status.config == cfg and (stored is None or just_trained):
    show(status)
    if stored is not None:
        metrics_caption(stored)
elif stored is not None:
    st.plotly_chart(plots.loss_figure(list(range(1, len(stored.history.batch_loss) + 1)),
                                      stored.history.batch_loss, stored.history.epochs,
                                      steps_per_epoch, stored.history.batch_kl),
                    key="loss_chart")
    metrics_caption(stored)
own_history()
