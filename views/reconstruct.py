"""Reconstructions: originals beside their decodings; interpolation; latent traversal."""

import numpy as np
import streamlit as st
import torch

from aecore import latents
from dashboard import session, state, widgets

st.title("Reconstructions")
run = session.require_run()
with state.errors_shown():
    test = state.test_set(run)
    names, test_images, labels = test.names, test.images, test.labels
    recon, errors = state.test_reconstructions(run)
    test_codes = state.codes(run)[1]
    n = len(labels)

    pairs, interp, traverse = st.tabs(["Side by side", "Interpolation", "Traversal"])

    with pairs:
        c1, c2, c3 = st.columns(3)
        mode = c1.radio("Which digits", ["random", "per digit", "worst"], key="recon_mode",
                        horizontal=True)
        count = c2.slider("How many", 4, 60, 24, key="recon_count")
        if mode == "random":
            seed = c3.number_input("Shuffle (seed)", 0, 10_000, 0, key="recon_seed")
            picked = np.random.default_rng(int(seed)).choice(n, count, replace=False)
        elif mode == "per digit":
            digit = c3.selectbox("Class", range(len(names)), format_func=names.__getitem__,
                                 key="recon_digit")
            picked = np.flatnonzero(labels == digit)[:count]
        else:
            picked = np.argsort(errors)[::-1][:count]
            c3.caption("The test digits the autoencoder reconstructs worst (highest BCE).")
        st.caption(f"Mean test BCE {errors.mean():.4f}; each caption: index · label · BCE")
        widgets.pairs_grid(picked, test_images, recon,
                           [f"#{i} · {names[labels[i]]} · {errors[i]:.3f}" for i in picked])

    with interp:
        c1, c2, c3 = st.columns(3)
        a = c1.number_input("From test digit #", 0, n - 1, 0, key="interp_a")
        b = c2.number_input("To test digit #", 0, n - 1, 1, key="interp_b")
        steps = c3.slider("Steps", 3, 16, 10, key="interp_steps")
        t = torch.linspace(0, 1, steps)[:, None]
        line = (1 - t) * test_codes[int(a)] + t * test_codes[int(b)]
        images = latents.decode(run.model, line).numpy()
        widgets.row(np.concatenate([test_images[[int(a)]], images, test_images[[int(b)]]]),
                    f"{names[labels[int(a)]]} → {names[labels[int(b)]]}: the original, "
                    f"{steps} decoded points on the straight line between the codes, "
                    "the other original")

    with traverse:
        c1, c2, c3 = st.columns(3)
        idx = c1.number_input("Test digit #", 0, n - 1, 0, key="trav_index")
        dim = c2.slider("Latent dimension", 0, run.config.latent_dim - 1, 0, key="trav_dim")
        span = c3.slider("Span (standard deviations)", 0.5, 4.0, 2.0, 0.5, key="trav_span")
        std = float(test_codes[:, dim].std())
        offsets = torch.linspace(-span, span, 11) * std
        moved = test_codes[int(idx)].repeat(len(offsets), 1)
        moved[:, dim] += offsets
        images = latents.decode(run.model, moved).numpy()
        widgets.row(images, f"dimension {dim} moved by {-span:g} … +{span:g} std "
                            f"(std {std:.2f}) around digit #{int(idx)}")
