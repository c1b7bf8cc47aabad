"""Matplotlib figures of the report, returned as PNG bytes (Agg backend: no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLORS = {"none": "#1f77b4", "traditional": "#d62728"}
RATIO_COLORS = ["#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def gan_curves(rows: Sequence[dict]) -> bytes | None:
    """Losses, ADA's p and any metric logged during training, against kimg."""
    rows = [r for r in rows if isinstance(r.get("kimg"), int | float)]
    if not rows:
        return None
    kimg = [r["kimg"] for r in rows]
    loss_keys = [k for k in ("loss_G", "loss_D") if any(k in r for r in rows)]
    other = sorted({k for r in rows for k, v in r.items() if isinstance(v, int | float) and not isinstance(v, bool)}
                   - {"kimg", "loss_G", "loss_D", "tick", "nimg"})
    other = [k for k in other if "sec" not in k and "time" not in k  # speed is not a training curve
             and any(r.get(k) for r in rows)]  # nor is a value that stayed 0 (ADA's p without ADA)
    panels = [("losses", loss_keys)] + [(k, [k]) for k in other]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels, strict=True):
        for key in keys:
            pts = [(x, r[key]) for x, r in zip(kimg, rows, strict=True) if isinstance(r.get(key), int | float)]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="." if len(pts) < 30 else None, label=key)
        ax.set_xlabel("kimg")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend()
    fig.tight_layout()
    return _png(fig)


def _errorbar(ax, xs, points, label, color, marker="o", linestyle="-"):
    ys = [p["auc"] for p in points]
    low = [p["auc"] - p["ci_low"] if p.get("ci_low") is not None else 0 for p in points]
    high = [p["ci_high"] - p["auc"] if p.get("ci_high") is not None else 0 for p in points]
    ax.errorbar(xs, ys, yerr=[low, high], label=label, color=color, marker=marker, linestyle=linestyle, capsize=4)
    for x, p in zip(xs, points, strict=True):  # every seed's own AUC, small and faint
        seeds = p.get("auc_seeds") or []
        ax.scatter([x] * len(seeds), seeds, s=10, color=color, alpha=0.35, zorder=3)


def auc_vs_ratio(conditions: list[dict], real_fraction: float) -> bytes | None:
    """AUC against synthetic images as % of the real ones, one line per augmentation; synthetic-only at right."""
    cells = [c for c in conditions if c["real_fraction"] == real_fraction]
    if not cells:
        return None
    ratios = sorted({c["ratio"] for c in cells if c["source"] in ("real", "mixed")})
    has_syn = any(c["source"] == "synthetic" for c in cells)
    positions = {r: i for i, r in enumerate(ratios)}
    syn_x = len(ratios) + 0.5
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for aug in sorted({c["augment"] for c in cells}):
        line = sorted((c for c in cells if c["augment"] == aug and c["source"] in ("real", "mixed")),
                      key=lambda c: c["ratio"])
        offset = 0.06 if aug == "traditional" else 0.0
        if line:
            _errorbar(ax, [positions[c["ratio"]] + offset for c in line], line, f"augment: {aug}", COLORS.get(aug))
        syn = [c for c in cells if c["augment"] == aug and c["source"] == "synthetic"]
        if syn:
            _errorbar(ax, [syn_x + offset] * len(syn), syn, None, COLORS.get(aug), marker="s", linestyle="none")
    labels = [f"{r:g} %" for r in ratios]
    ticks = list(range(len(ratios)))
    if has_syn:
        ax.axvline(len(ratios) - 0.25, color="grey", linestyle=":", linewidth=1)
        ticks.append(syn_x)
        labels.append("synthetic\nonly")
    ax.set_xticks(ticks, labels)
    ax.set_xlabel("synthetic images added, % of the real training images")
    ax.set_ylabel("test AUC")
    ax.set_title(f"AUC vs synthetic ratio (real fraction {real_fraction:g})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _png(fig)


def auc_vs_fraction(conditions: list[dict], augment: str = "none") -> bytes | None:
    """AUC against the fraction of real training images: real only vs real + synthetic at each ratio."""
    cells = [c for c in conditions if c["augment"] == augment and c["source"] in ("real", "mixed")]
    fractions = sorted({c["real_fraction"] for c in cells})
    if len(fractions) < 1 or not cells:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    ratios = sorted({c["ratio"] for c in cells})
    for i, ratio in enumerate(ratios):
        line = sorted((c for c in cells if c["ratio"] == ratio), key=lambda c: c["real_fraction"])
        label = "real only" if ratio == 0 else f"real + synthetic ({ratio:g} %)"
        color = "black" if ratio == 0 else RATIO_COLORS[i % len(RATIO_COLORS)]
        nudge = 1 + 0.025 * (i - (len(ratios) - 1) / 2)  # side by side at one fraction (log axis: multiply)
        _errorbar(ax, [c["real_fraction"] * nudge for c in line], line, label, color)
    ax.set_xscale("log")
    ax.set_xticks(fractions, [f"{f:g}" for f in fractions])
    ax.minorticks_off()
    ax.set_xlabel("fraction of the real training images used")
    ax.set_ylabel("test AUC")
    ax.set_title(f"AUC vs real-data fraction (augment: {augment})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _png(fig)


def roc_curves(curves: list[dict]) -> bytes | None:
    """ROC curves of the seed ensembles: each ``{"label", "fpr", "tpr", "auc", "kind"}``.

    With more than two classes each curve is the macro average of the one-vs-rest curves, and its AUC the
    macro one-vs-rest AUC (``kind`` says which).
    """
    if not curves:
        return None
    macro = any(c.get("positive_class") is None for c in curves)
    fig, ax = plt.subplots(figsize=(5.0, 5.0))
    for i, c in enumerate(curves):
        color = "black" if c.get("source") == "real" else RATIO_COLORS[i % len(RATIO_COLORS)]
        ax.plot(c["fpr"], c["tpr"], color=color, label=f"{c['label']} (AUC {c['auc']:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false positive rate (1 - specificity)" + (", macro average" if macro else ""))
    ax.set_ylabel("true positive rate (sensitivity)" + (", macro average" if macro else ""))
    ax.set_title("ROC on the real test split (seed ensembles" + (", one-vs-rest macro)" if macro else ")"))
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)
