"""Reconstructions: originals beside their decodings; interpolation; latent traversal; what
the codes hold (a VAE's KL and prior samples, sparsity)."""

import numpy as np
import streamlit as st
import torch

from aecore.figures import codeplots
from aecore.training import codestats, latents
from dashboard import cached, session, widgets

TRAVERSAL_ROWS = 8

st.title("Reconstructions")
run = session.require_run()
noun = session.dataset_of(run).nouns
with widgets.errors_shown():
    test = cached.test_set(run)
    names, test_images, labels = test.names, test.images, test.labels
    recon, errors = cached.test_reconstructions(run)
    test_codes = cached.codes(run)[1]
    n = len(labels)

    vae, noise = cached.variational_stats(run), run.config.noise
    variational = vae is not None
    tabs = st.tabs(["Side by side", "Interpolation", "Traversal", "Codes"]
                   + ["Samples from the prior"] * variational)
    pairs, interp, traverse, code_tab = tabs[:4]

    with pairs:
        c1, c2, c3 = st.columns(3)
        mode = c1.radio(f"Which {noun.many}", ["random", "per class", "worst"], key="recon_mode",
                        persist_state=session.KEEP,
                        horizontal=True)
        count = min(c2.slider("How many", 4, 60, 24, key="recon_count",
                              persist_state=session.KEEP), n)  # a small test split: all of it
        if mode == "random":
            seed = c3.number_input("Shuffle (seed)", 0, 10_000, 0, key="recon_seed",
                                   persist_state=session.KEEP)
            picked = np.random.default_rng(int(seed)).choice(n, count, replace=False)
        elif mode == "per class":
            digit = c3.selectbox("Class", range(len(names)), format_func=names.__getitem__,
                                 key="recon_digit", persist_state=session.KEEP)
            picked = np.flatnonzero(labels == digit)[:count]
        else:
            picked = np.argsort(errors)[::-1][:count]
            c3.caption(f"The test {noun.many} the autoencoder reconstructs worst (highest BCE).")
        captions = [f"#{i} · {names[labels[i]]} · {errors[i]:.3f}" for i in picked]
        if noise and st.toggle(f"Mask {noise:.0%} of the input pixels, as in training",
                               True, key="recon_noisy", persist_state=session.KEEP):
            cleaned = latents.denoise(run.model, torch.from_numpy(test_images[picked]), noise)
            st.caption(f"Each panel: noisy input | the model's output | the clean {noun.one}. This "
                       "run was trained to undo the masking.")
            widgets.panels_grid([np.stack([a, b, c]) for a, b, c in zip(
                cleaned.noisy.numpy(), cleaned.output.numpy(), test_images[picked],
                strict=True)], [c.rsplit(" · ", 1)[0] for c in captions], width=172)
        else:
            st.caption(f"Mean test BCE {errors.mean():.4f}; each caption: index · label · BCE")
            widgets.pairs_grid(picked, test_images, recon, captions)

    with interp:
        c1, c2, c3 = st.columns(3)
        a = c1.number_input(f"From test {noun.one} #", 0, n - 1, 0, key="interp_a",
                            persist_state=session.KEEP)
        b = c2.number_input(f"To test {noun.one} #", 0, n - 1, 1, key="interp_b",
                            persist_state=session.KEEP)
        steps = c3.slider("Steps", 3, 16, 10, key="interp_steps", persist_state=session.KEEP)
        images = codestats.interpolation(run.model, test_codes[int(a)], test_codes[int(b)],
                                         steps).numpy()
        widgets.row(np.concatenate([test_images[[int(a)]], images, test_images[[int(b)]]]),
                    f"{names[labels[int(a)]]} → {names[labels[int(b)]]}: the original, "
                    f"{steps} decoded points on the straight line between the codes, "
                    "the other original")

    def vae_traversal() -> None:
        """The most informative dimensions first, each from -3 to +3 prior std."""
        order = codestats.by_information(vae.kl_per_dim)
        c1, c2 = st.columns(2)
        idx = c1.number_input(f"Around test {noun.one} #", 0, n - 1, 0, key="vae_trav_index",
                              persist_state=session.KEEP)
        span = c2.slider("Span (prior standard deviations)", 1.0, 4.0, 3.0, 0.5,
                         key="vae_trav_span", persist_state=session.KEEP)
        dims = order[:TRAVERSAL_ROWS]
        grid = codestats.traversal(run.model, test_codes[int(idx)], dims,
                                   torch.linspace(-span, span, 9)).numpy()
        kl = vae.kl_per_dim
        if vae.active_units == 0:
            st.warning(f"No dimension carries information about the {noun.one} (every KL is below "
                       f"{codestats.ACTIVE_KL} nats): the decoder ignores the code, so every "
                       "row below shows the same image.")
        st.caption(f"The {len(dims)} dimensions with the highest KL, each moved from "
                   f"{-span:g} to +{span:g} prior standard deviations around {noun.one} "
                   f"#{int(idx)}'s posterior mean:")
        widgets.panels_grid(list(grid), [f"dimension {d} · KL {kl[d]:.2f} nats" for d in dims],
                            width=440)

    with traverse:
        if variational:
            vae_traversal()
            st.divider()
            st.caption("One dimension at a time, in the units of the codes:")
        c1, c2, c3 = st.columns(3)
        idx = c1.number_input(f"Test {noun.one} #", 0, n - 1, 0, key="trav_index",
                              persist_state=session.KEEP)
        dim = c2.slider("Latent dimension", 0, run.config.latent_dim - 1, 0, key="trav_dim")
        span = c3.slider("Span (standard deviations)", 0.5, 4.0, 2.0, 0.5, key="trav_span",
                         persist_state=session.KEEP)
        std = float(test_codes[:, dim].std())
        images = codestats.traversal(run.model, test_codes[int(idx)], [dim],
                                     torch.linspace(-span, span, 11) * std)[0].numpy()
        widgets.row(images, f"dimension {dim} moved by {-span:g} … +{span:g} std "
                            f"(std {std:.2f}) around {noun.one} #{int(idx)}")

    with code_tab:
        stats = codestats.sparsity(test_codes,
                                   codestats.PRIOR_NEAR_ZERO if variational else None)
        cut = ("a tenth of the prior's standard deviation" if variational
               else "1 % of the largest |value|")
        st.caption(f"{stats.near_zero:.1%} of the test codes' values are near zero (below "
                   f"{stats.threshold:.3g}, {cut})"
                   + (f"; this run adds an L1 penalty of {run.config.l1:g} on the codes."
                      if run.config.l1 else "; this run has no sparsity penalty (L1 0)."))
        st.plotly_chart(codeplots.activity_bars(stats), key="activity_bars")
        if variational:
            st.plotly_chart(codeplots.kl_bars(vae.kl_per_dim), key="kl_bars")
            st.caption(f"A unit is active when its KL to the prior is above "
                       f"{codestats.ACTIVE_KL} nats: {vae.active_units} of "
                       f"{run.config.latent_dim}. An inactive unit's code is the prior whatever "
                       f"the {noun.one}, so the decoder ignores it.")

    if variational:
        with tabs[4]:
            c1, c2 = st.columns(2)
            count = c1.slider("How many", 8, 64, 32, 8, key="prior_count",
                              persist_state=session.KEEP)
            seed = c2.number_input("Draw (seed)", 0, 10_000, 0, key="prior_seed",
                                   persist_state=session.KEEP)
            samples = codestats.prior_samples(run.model, count, int(seed)).numpy()
            st.caption(f"Codes drawn from the prior N(0, I) and decoded (β = "
                       f"{run.config.beta:g}): what the VAE makes up, with no {noun.one} "
                       "behind it.")
            widgets.digits_grid(samples, [""] * len(samples))
