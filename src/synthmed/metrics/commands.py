"""CLI verb ``synthmed metrics``: every metric, overall and per class, as a table and a JSON file."""

from __future__ import annotations

import inspect
from pathlib import Path

import typer

from synthmed.metrics.options import MetricsOptions
from synthmed.utils.options import cli_command, validate

SHORT = {"frd": "FRD", "fid_domain": "FID dom", "kid_domain": "KID dom", "precision": "prec", "recall": "recall",
         "density": "density", "coverage": "cover", "ms_ssim_real": "MSSSIM r", "ms_ssim_fake": "MSSSIM f",
         "memorized_fraction": "memorized", "fid_inception": "FID inc", "kid_inception": "KID inc",
         "inception_score": "IS"}


def _metrics(values: dict, out: Path | None) -> None:
    from synthmed.metrics.compute import compute_metrics
    from synthmed.utils.atomic import write_json

    opts = validate(MetricsOptions, values)
    result = compute_metrics(opts.real, opts.fake, out_dir=out.parent if out is not None else None,
                             **opts.compute_kwargs())
    typer.echo(render(result))
    if out is not None:
        write_json(out, result)
        typer.echo(f"wrote {out}")


def metrics_command():
    """``metrics``: one option per field of synthmed.metrics.options.MetricsOptions, declared there once."""
    out = inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                            default=typer.Option(None, "--out", help="Write the results JSON here; the memorization "
                                                 "PNG goes beside it."))
    return cli_command(MetricsOptions, _metrics, extra=[out], name="metrics")


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


REFERENCE_LABEL = "  real val"


def with_reference_rows(result: dict) -> list[tuple[str, dict]]:
    """Rows overall and per class, each followed by its reference row (real train vs real val) when computed."""
    ref = result.get("reference") or {}
    rows: list[tuple[str, dict]] = []
    for name, values in [("overall", result["overall"]), *result["per_class"].items()]:
        rows.append((name, values))
        ref_values = ref.get("overall") if name == "overall" else ref.get("per_class", {}).get(name)
        if ref_values is not None:
            rows.append((REFERENCE_LABEL, ref_values))
    return rows


def render(result: dict) -> str:
    """A readable table (rows: overall and classes; columns: metrics), then the notes."""
    rows = with_reference_rows(result)
    width = max(len(name) for name, _ in rows) + 2
    header = "".join(f"{SHORT[k]:>10}" for k in SHORT)
    lines = [f"real {result['real']['path']}:{result['real']['split']}  vs  fake {result['fake']['path']}:"
             f"{result['fake']['split']}", "", f"{'':<{width}}{header}"]
    for name, values in rows:
        lines.append(f"{name:<{width}}" + "".join(f"{_fmt(values.get(k)):>10}" for k in SHORT))
    if result.get("reference"):
        lines.append(f"({REFERENCE_LABEL.strip()}: the real train split against the {result['reference']['n_val']} "
                     f"real val images, the same metrics: what real data achieves; its MSSSIM f is the val images')")
    grouped: dict[str, list[str]] = {}  # one line per distinct note (the Inception one covers three metrics)
    for key, text in result["notes"].items():
        if key != "per_class":
            grouped.setdefault(text, []).append(key)
    if grouped:
        lines += ["", "notes:", *(f"  {', '.join(keys)}: {text}" for text, keys in grouped.items())]
    for cls, cls_notes in result["notes"].get("per_class", {}).items():
        important = {k: v for k, v in cls_notes.items() if not v.startswith(("std ", "Inception weights"))}
        lines += [f"  [{cls}] {k}: {v}" for k, v in important.items()]
    t = result["info"]["timings_s"]
    lines += ["", "time (s): " + ", ".join(f"{k} {v}" for k, v in t.items())]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics_command())
