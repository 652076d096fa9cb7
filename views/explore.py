"""Explore: the test digits on a 2-D map of their codes; select regions, decode empty places."""

import numpy as np
import streamlit as st

from aecore import latents, plots, projection
from dashboard import session, state, widgets

MAX_SHOWN = 60

st.title("Explore the latent map")
run = session.require_run()
with state.errors_shown():
    test = state.test_set(run)
    names, test_images, labels = test.names, test.images, test.labels
    shown = state.current_map(run)
    result, final, fitted = shown.result, shown.final, shown.result.map

    colour = st.radio("Colour by", ["label", "error", "correct"], horizontal=True,
                      key="colour", format_func={"label": "label",
                                                 "error": "reconstruction error",
                                                 "correct": "classifier right / wrong"}.get)
    values = None
    if colour == "error":
        values = state.test_reconstructions(run)[1]
    elif colour == "correct":
        head = state.stored_head(run)
        if head is None:
            st.info("No classifier is trained for this run yet (see the Classifier page): "
                    "colouring by label.")
            colour = "label"
        else:
            probs = head.head.probabilities(state.codes(run)[1])
            values = (probs.argmax(1).numpy() == labels)

    method = "UMAP" if final else "PCA"
    if shown.state == "running":
        st.info("UMAP is fitting the map of this run for the first time (a few seconds); "
                "this is the PCA map meanwhile, it is swapped when UMAP is ready.")

    st.caption(f"{len(fitted.embedding):,} test digits, {method} of their "
               f"{run.config.latent_dim}-d codes (k={run.config.latent_dim}) · 2-D 5-NN label "
               f"accuracy {result.knn_accuracy_2d:.3f}. "
               "Click a digit, or an empty place to decode it; pick the box or lasso tool "
               "(top right of the map) to select a region.")
    fig = plots.map_figure(fitted.embedding, labels, names, colour, values,
                           title=f"{method} map of the codes")
    event = st.plotly_chart(fig, key="map", on_select="rerun",
                            selection_mode=("points", "box", "lasso"))

    points = event.selection.points if event and event.selection else []
    chosen = [int(p["customdata"]) for p in points
              if p.get("customdata") is not None and int(p["customdata"]) >= 0]
    places = [(p["x"], p["y"]) for p in points
              if p.get("customdata") is not None and int(p["customdata"]) < 0]

    if chosen:
        recon, errors = state.test_reconstructions(run)
        shown = chosen[:MAX_SHOWN]
        more = f" (the first {MAX_SHOWN} shown)" if len(chosen) > MAX_SHOWN else ""
        noun = "digit" if len(chosen) == 1 else "digits"
        st.subheader(f"{len(chosen)} selected {noun}{more}: original | reconstruction")
        counts = np.bincount(labels[chosen], minlength=len(names))
        st.caption("Labels in the selection: " + ", ".join(
            f"{names[c]}: {n}" for c, n in enumerate(counts) if n))
        widgets.pairs_grid(shown, test_images, recon,
                           [f"#{i} · {names[labels[i]]} · {errors[i]:.3f}" for i in shown])
    elif places:
        x, y = places[0]
        code = projection.codes_at(np.array([[x, y]], dtype=np.float32), fitted)
        image = latents.decode(run.model, code)[0].numpy()
        st.subheader(f"What lives at ({x:.2f}, {y:.2f})")
        st.image(plots.to_uint8(image), width=168,
                 caption="decoded from the blend of the 8 nearest codes")

    with st.expander("Decode any place of the map"):
        lo, hi = fitted.embedding.min(0), fitted.embedding.max(0)
        hi = np.maximum(hi, lo + 1e-3)  # a map of dead codes is a point: sliders need a span
        c1, c2 = st.columns(2)
        x = c1.slider("x", float(lo[0]), float(hi[0]), float((lo[0] + hi[0]) / 2), key="place_x")
        y = c2.slider("y", float(lo[1]), float(hi[1]), float((lo[1] + hi[1]) / 2), key="place_y")
        code = projection.codes_at(np.array([[x, y]], dtype=np.float32), fitted)
        st.image(plots.to_uint8(latents.decode(run.model, code)[0].numpy()), width=140,
                 caption=f"decoded at ({x:.2f}, {y:.2f})")
