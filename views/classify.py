"""Classifier: a head on the codes, trained on demand, against pixel and PCA baselines."""

import numpy as np
import streamlit as st

from aecore.figures import plots, tables
from dashboard import background, cached, derive, downloads, server, session, widgets

st.title("Classify from the codes")
run = session.require_run()
with widgets.errors_shown():
    data = cached.dataset(run.config.dataset)
    names = data.label_names
    head_name = st.radio("Head", ["linear", "mlp"], horizontal=True, key="head",
                         persist_state=session.KEEP,
                         format_func={"linear": "linear (softmax, the classic recipe)",
                                      "mlp": "MLP (one hidden layer of 256)"}.get)
    if not data.labelled:
        st.info(f"{data.nouns.name} has no labels (its images sit in no class folders), so "
                "there is nothing to classify. The map and the reconstructions still work.")
        st.stop()
    st.caption(f"Trained on the {len(data.train_x):,} training codes, scored on the "
               f"{len(data.test_x):,} test codes (the "
               "classic recipe trains and scores on the test set; we never do). Baselines: "
               "the same head on raw pixels and on PCA with the same k.")
    job = derive.head_job(run, head_name)
    progress = background.follow(server.tasks(), job, start_now=False)
    if progress == "absent":
        if st.button("Train classifier", type="primary", key="train_head"):
            background.start(server.tasks(), job)
            st.rerun()
    elif progress == "running":
        st.info("Training the head (and, the first time for this size, its baselines) ...")
    if progress != "ready":
        st.stop()

    result = cached.head_result(run, head_name)
    r = result.report
    c1, c2, c3 = st.columns(3)
    c1.metric("Test accuracy", f"{r['test_accuracy']:.2%}")
    c2.metric("Raw pixels, same head", f"{r['baselines']['pixels']:.2%}",
              f"{(r['test_accuracy'] - r['baselines']['pixels']) * 100:+.2f} pts (codes)")
    c3.metric(f"PCA k={run.config.latent_dim}, same head", f"{r['baselines']['pca']:.2%}",
              f"{(r['test_accuracy'] - r['baselines']['pca']) * 100:+.2f} pts (codes)")
    if "canvas_accuracy" in r:
        st.caption("On 2,000 canvas-style digits (rendered from fonts and synthetic "
                   f"strokes, slanted, thick and thin, never MNIST) this head reads "
                   f"{r['canvas_accuracy']:.1%}: how it will read drawings. The Draw page "
                   "uses a head also trained on jittered digits.")
    left, right = st.columns(2)
    left.plotly_chart(plots.accuracy_bars(r, run.config.latent_dim), key="accuracy_chart")
    left.plotly_chart(plots.per_class_bars(r["per_class"], names), key="per_class_chart")
    right.plotly_chart(plots.confusion_heatmap(r["confusion"], names), key="confusion_chart")
    name = f"aecore-{run.run_id}-{head_name}"
    with right:
        downloads.button("Confusion matrix (CSV)", tables.csv_text(
            tables.confusion_table(r["confusion"], names)), f"{name}-confusion.csv",
            downloads.CSV, "dl_confusion")
    with left:
        downloads.button("Per-class accuracy (CSV)", tables.csv_text(
            tables.per_class_table(r, names)), f"{name}-per-class.csv", downloads.CSV,
            "dl_per_class")

    predicted = cached.predictions(run, head_name)
    labels = data.test_y.numpy()
    wrong = np.flatnonzero(predicted != labels)
    st.subheader(f"Misclassified test {data.nouns.many}: {len(wrong)} of {len(labels):,}")
    shown = wrong[:48]
    widgets.digits_grid(data.test_x.numpy()[shown] / 255.0,
                        [f"#{i}: {names[labels[i]]} → {names[predicted[i]]}" for i in shown])
