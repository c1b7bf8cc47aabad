"""The filter's top-up: generate more of each class the filter left short of what the classifier grid needs,
filter those too, and (``when_short: best``) admit the best-scoring rejected images of a class still short.

Bounded: a class gets at most ``factor`` times its need generated in all (the first batch included), in at
most ``TOP_UP_ROUNDS`` rounds; each round asks for the shortfall divided by the class's pass rate so far, plus
a quarter. New images continue the generator's image indices, so their latents are new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthmed.dataset import PreparedDataset
from synthmed.filter.filtering import keep_best_rejected
from synthmed.generate.generate import generate_dataset

TOP_UP_ROUNDS = 3


@dataclass(frozen=True)
class Sampler:
    """How to draw more images from the generator that made the first batch."""

    run_dir: Path
    trunc: float
    seed: int
    batch: int
    device: str


def top_up_classes(work: Path, generated: PreparedDataset, need: np.ndarray, factor: float, sampler: Sampler,
           parts: list[Path], summaries: list[dict], run: Callable[[Path, Path], dict]) -> dict:
    """Top short classes up (``run(images, out)`` filters a batch); appends each round's filtered folder and
    summary to ``parts`` and ``summaries``; returns the per-class table and its notes."""
    classes = generated.classes
    made = np.bincount(generated.labels("train"), minlength=len(classes))
    kept = np.array([summaries[0]["per_class"][c]["kept"] for c in classes])
    limit = np.floor(factor * need).astype(np.int64)
    rounds = 0
    while rounds < TOP_UP_ROUNDS and (extra := extra_per_class(need, kept, made, limit)).any():
        rounds += 1
        out = work / f"generated-{rounds}"
        generate_dataset(sampler.run_dir, out, per_class=extra.tolist(), first_index=int(made.sum()),
                         trunc=sampler.trunc, seed=sampler.seed, batch=sampler.batch, device=sampler.device,
                         progress=False)
        parts.append(work / f"pass-{rounds}")
        summaries.append(run(out, parts[-1]))
        made += extra
        kept += np.array([summaries[-1]["per_class"][c]["kept"] for c in classes])
    per_class = {c: {"need": int(need[k]), "generated": int(made[k]), "kept": int(kept[k]),
                     "pass_rate": float(kept[k] / made[k]) if made[k] else None, "short": bool(kept[k] < need[k])}
                 for k, c in enumerate(classes)}
    notes = [f"{c}: the grid needs {r['need']}, {r['generated']} generated (at most {factor:g}x "
             f"the need), {r['kept']} kept (pass rate {r['pass_rate']:.0%}): still short, so the grid leaves out "
             f"the conditions it cannot feed" for c, r in per_class.items() if r["short"]]
    return {"factor": factor, "rounds": rounds, "per_class": per_class, "notes": notes}


def admit_best(work: Path, parts: list[Path], top_up: dict) -> tuple[Path, dict] | None:
    """``when_short: best``: fill a class still short after the top-up with its best-scoring images the
    confidence rule rejected (never near copies), so every condition of the grid runs; the top-up table and its
    notes say how many, and from what confidence (below the real-calibrated threshold)."""
    short = {c: r["need"] - r["kept"] for c, r in top_up["per_class"].items() if r["short"]}
    if not short:
        return None
    out = work / "relaxed"
    admitted = keep_best_rejected(parts, short, out)
    notes = []
    for c, a in admitted.items():
        row = top_up["per_class"][c]
        row.update(relaxed=a["admitted"], short=row["kept"] + a["admitted"] < row["need"])
        lowest = f", down to confidence {a['lowest_confidence']:.3g}" if a["lowest_confidence"] is not None else ""
        notes.append(f"{c}: the grid needs {row['need']}, {row['generated']} generated, {row['kept']} passed the "
                     f"filter (pass rate {row['pass_rate']:.0%}); the grid also uses the {a['admitted']} best-scoring "
                     f"images the confidence rule rejected{lowest} (filter.when_short: best; near copies never)"
                     + ("; still short, so the grid leaves out the conditions it cannot feed" if row["short"] else ""))
    top_up["notes"] = notes
    return out, {c: a["admitted"] for c, a in admitted.items()}


def extra_per_class(need: np.ndarray, kept: np.ndarray, made: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Images to generate per class this round: the shortfall over the pass rate so far (+25 %), within the limit."""
    short = np.maximum(need - kept, 0)
    rate = np.where(made > 0, kept / np.maximum(made, 1), 0.0)
    want = np.where(rate > 0, np.ceil(1.25 * short / np.maximum(rate, 1e-9)), limit)
    return np.where(short > 0, np.clip(want, 0, np.maximum(limit - made, 0)), 0).astype(np.int64)
