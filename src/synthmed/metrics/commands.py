"""CLI verb ``synthmed metrics``: every metric, overall and per class, as a table and a JSON file."""

from __future__ import annotations

from pathlib import Path

import typer

SHORT = {"frd": "FRD", "fid_domain": "FID dom", "kid_domain": "KID dom", "precision": "prec", "recall": "recall",
         "density": "density", "coverage": "cover", "ms_ssim_real": "MSSSIM r", "ms_ssim_fake": "MSSSIM f",
         "memorized_fraction": "memorized", "fid_inception": "FID inc", "kid_inception": "KID inc",
         "inception_score": "IS"}


def metrics(
    real: str = typer.Option(..., "--real", help="Real prepared dataset, DIR[:split] (default split: train)."),
    fake: str = typer.Option(..., "--fake", help="Synthetic prepared dataset, DIR[:split] (default split: train)."),
    per_class: bool = typer.Option(True, "--per-class/--no-per-class", help="Also compute every metric per class."),
    out: Path | None = typer.Option(None, "--out", help="Write the results JSON here; the memorization PNG goes "
                                    "beside it."),
    features: Path | None = typer.Option(None, "--features", help="Your own feature extractor (TorchScript or "
                                         "pickled nn.Module); default: a CNN trained on the real train split."),
    inception_weights: Path | None = typer.Option(None, "--inception-weights",
                                                  help="pt_inception-2015-12-05-6726825d.pth (default: look in "
                                                  "$TORCH_HOME/hub/checkpoints, then download when online)."),
    no_download: bool = typer.Option(False, "--no-download", help="Never try to download Inception weights."),
    max_images: int | None = typer.Option(None, "--max-images", help="Use at most this many images per set."),
    frd_max_images: int = typer.Option(300, "--frd-max-images", help="Radiomics (~0.25 s/img/core) on at most "
                                       "this many images per set; 0 = all."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Feature cache (default: $SYNTHMED_CACHE or "
                                          "~/.cache/synthmed)."),
    skip: list[str] = typer.Option([], "--skip", help="Leave out a family: frd or inception (repeatable)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes for radiomics (default: all cores)."),
    seed: int = typer.Option(0, "--seed", help="Seed for subsampling, KID subsets, MS-SSIM pairs, the CNN."),
) -> None:
    """Compare a synthetic set with real images: FRD, domain FID/KID/PRDC, MS-SSIM, memorization, Inception."""
    from synthmed.errors import SynthmedError
    from synthmed.metrics.compute import compute_metrics
    from synthmed.utils.atomic import write_json

    bad = [s for s in skip if s not in ("frd", "inception")]
    if bad:
        raise SynthmedError(f"--skip takes frd or inception, got {', '.join(bad)}")
    out_dir = out.parent if out is not None else None
    result = compute_metrics(real, fake, per_class=per_class, features=features, inception_weights=inception_weights,
                             out_dir=out_dir, seed=seed, max_images=max_images,
                             cache_dir=cache_dir if cache_dir is not None else "default",
                             frd_max_images=frd_max_images or None, allow_download=not no_download,
                             workers=workers, skip=tuple(skip))
    typer.echo(render(result))
    if out is not None:
        write_json(out, result)
        typer.echo(f"wrote {out}")


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def render(result: dict) -> str:
    """A readable table (rows: overall and classes; columns: metrics), then the notes."""
    rows = [("overall", result["overall"]), *list(result["per_class"].items())]
    width = max(len(name) for name, _ in rows) + 2
    header = "".join(f"{SHORT[k]:>10}" for k in SHORT)
    lines = [f"real {result['real']['path']}:{result['real']['split']}  vs  fake {result['fake']['path']}:"
             f"{result['fake']['split']}", "", f"{'':<{width}}{header}"]
    for name, values in rows:
        lines.append(f"{name:<{width}}" + "".join(f"{_fmt(values[k]):>10}" for k in SHORT))
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
    app.command()(metrics)
