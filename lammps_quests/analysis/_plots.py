"""Figures as PNG files of a fixed pixel size, drawn with matplotlib's Agg canvas.

Figures are built without pyplot, so no global backend is switched and nothing needs a display.
"""

from __future__ import annotations

import numpy as np

FIGURE_INCHES = (6.4, 4.8)
DPI = 100  # -> 640 x 480 pixels


def _figure(size=FIGURE_INCHES):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path) -> None:
    # No bbox_inches="tight": the file keeps exactly FIGURE_INCHES x DPI pixels.
    figure.savefig(path, dpi=DPI, format="png")


def overlap_heatmap(path, matrix: np.ndarray, names) -> None:
    """Heatmap of the overlap matrix (rows: compared set, columns: reference set), like Fig. 3a."""
    figure = _figure()
    axes = figure.add_subplot()
    image = axes.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
    axes.set_xticks(range(len(names)), labels=names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), labels=names)
    axes.set_xlabel("reference set")
    axes.set_ylabel("compared set")
    for (i, j), value in np.ndenumerate(matrix):
        axes.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black")
    figure.colorbar(image, ax=axes, label="overlap (fraction dH <= 0)")
    figure.tight_layout()
    _save(figure, path)


def learning_curve_plot(path, curve, fit=None) -> None:
    """Entropy against number of environments (log axis), with the Eq. 9 fit and log n."""
    from ._learning_curve import eq9

    figure = _figure()
    axes = figure.add_subplot()
    axes.errorbar(curve.sizes, curve.mean, yerr=curve.std, fmt="o", ms=4, label="entropy of subsets")
    axes.plot(curve.sizes, np.log(curve.sizes), "--", color="gray", label="log N (maximum)")
    if fit is not None:
        dense = np.geomspace(curve.sizes[0], curve.sizes[-1], 200)
        axes.plot(dense, eq9(dense, fit.a, fit.b, fit.c), "-", label=f"Eq. 9 fit, asymptote {fit.a:.3f} nats")
        axes.axhline(fit.a, color="C1", lw=0.8, ls=":")
    axes.set_xscale("log")
    axes.set_xlabel("number of environments N")
    axes.set_ylabel("entropy H (nats)")
    axes.legend()
    figure.tight_layout()
    _save(figure, path)


def clusters_plot(path, largest, sizes, counts) -> None:
    """Left: largest cluster per frame (Fig. 5f). Right: cluster size distribution (Fig. 31)."""
    figure = _figure((9.6, 4.8))
    left, right = figure.subplots(1, 2)
    left.plot(np.arange(len(largest)), largest, "o-", ms=3)
    left.set_xlabel("frame")
    left.set_ylabel("largest cluster (atoms)")
    if len(sizes):
        right.loglog(sizes, counts, "o", ms=4)
    right.set_xlabel("cluster size (atoms)")
    right.set_ylabel("number of clusters")
    figure.tight_layout()
    _save(figure, path)
