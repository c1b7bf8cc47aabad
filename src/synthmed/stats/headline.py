"""What the headline verdicts compare with, and what they hold for.

"Better" should mean better than what a user would do without synthetic data, not better than the plainest
classifier: the headline compares each synthetic condition with the *strongest* real-only arm of the grid,
the real-only cell (no augmentation, traditional, or any other augmentation the grid ran) with the best mean
validation AUC over seeds, chosen per real fraction and classifier architecture. The test split does not take
part in that choice. Ties go to the earlier augmentation in ``synthmed.classify.options.AUGMENTS`` (no
augmentation first: the simpler arm).

When the generator or the classifiers work below the prepared images' resolution (a profile's cap, e.g. the cpu
profile's 32 px on a 256 px folder), the verdicts hold at that size: :func:`resolution_note` says so and names the
profile that would train at the data's own size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synthmed.classify.options import AUGMENTS
from synthmed.classify.results import Cell, ResultRow
from synthmed.pipeline.config import MAX_TRAIN_RESOLUTION
from synthmed.stats.seeds import mean_sd

CHOSEN_ON_VALIDATION = "best mean validation AUC over seeds (ties: the earlier augmentation of none, traditional, ...)"


def _augment_order(augment: str) -> int:
    return AUGMENTS.index(augment) if augment in AUGMENTS else len(AUGMENTS)


def strongest_real(groups: Mapping[Cell, Mapping[int, ResultRow]], real_fraction: float, arch: str,
                   baseline: str = "real") -> tuple[Cell | None, dict[str, Any]]:
    """The real-only cell of ``real_fraction`` and ``arch`` with the best mean validation AUC, and how it was chosen.

    Without a validation AUC in some run (grids written before it was recorded) the plain real-only cell is the
    baseline, and the rule says why; (None, ...) when the grid has no real-only cell there."""
    cells = sorted((c for c in groups if c.source == baseline and c.real_fraction == real_fraction
                    and c.arch == arch), key=lambda c: _augment_order(c.augment))
    table = [{"name": c.label(), "augment": c.augment,
              "val_auc": mean_sd(vals) if None not in (vals := [groups[c][s].val_auc for s in sorted(groups[c])])
              else None} for c in cells]
    info: dict[str, Any] = {"real_fraction": real_fraction, "arch": arch, "candidates": table}
    if not cells:
        return None, info | {"rule": "no real-only cell", "chosen": None}
    if len(cells) == 1:
        return cells[0], info | {"rule": "the only real-only cell", "chosen": cells[0].label()}
    if any(t["val_auc"] is None or t["val_auc"]["mean"] is None for t in table):
        plain = next((c for c in cells if c.augment == "none"), cells[0])
        return plain, info | {"rule": "some runs recorded no validation AUC: the plain real-only cell",
                              "chosen": plain.label()}
    best = max(range(len(cells)), key=lambda i: (table[i]["val_auc"]["mean"], -i))
    return cells[best], info | {"rule": CHOSEN_ON_VALIDATION, "chosen": cells[best].label()}


def strongest_words(cell: Cell) -> str:
    """The baseline's name in the sentences, saying what it is: 'real-only (traditional augmentation; the
    strongest real-only arm on validation)'; the sentence's AUC follows it."""
    words, what = cell.words(), "the strongest real-only arm on validation"
    return f"{words[:-1]}; {what})" if words.endswith(")") else f"{words} ({what})"


def headline(stats: Mapping[str, Any]) -> dict[str, Any] | None:
    """The headline comparisons: every synthetic condition on the most real data against the strongest real-only
    arm (``stats['strongest']`` of ``compare_results``); None for a stats file written before it existed."""
    strongest = stats.get("strongest")
    if not strongest or not strongest.get("comparisons"):
        return None
    comps = strongest["comparisons"]
    top = max(c["config"]["real_fraction"] for c in comps)
    heads = [c for c in comps if c["config"]["real_fraction"] == top]
    chosen = [a for a in strongest.get("arms", []) if a["real_fraction"] == top and a.get("chosen")]
    baselines = sorted({c["baseline_name"] for c in heads})
    words = "; ".join(f"{a['arch']}: {a['chosen_words']}" if len(chosen) > 1 else a["chosen_words"] for a in chosen)
    return {"real_fraction": top, "baselines": baselines, "baseline_words": words,
            "sentences": [c["sentence"] for c in heads], "verdicts": [c["verdict"] for c in heads],
            "summary": (f"Headline: each synthetic condition with {top:.0%} of the real images against {words}, the "
                        f"strongest real-only arm of the grid on validation ({strongest.get('family')}).")}


def resolution_note(prepared: int | None, gan: int | None, classify: int | None, profile: str | None,
                    caps: Mapping[str, int] | None = None) -> str | None:
    """A sentence for the summary when the generator or the classifiers work below the prepared resolution, naming
    the profile whose cap would keep the data's size (``caps``: profile -> largest training side, by default the
    pipeline's); None when both work at the data's size or a size is unknown."""
    caps = MAX_TRAIN_RESOLUTION if caps is None else caps
    if not prepared:
        return None
    lower = [f"{what} at {side} px" for what, side in (("the generator", gan), ("the classifiers", classify))
             if side and side < prepared]
    if not lower:
        return None
    head = (f"These verdicts hold at a fraction of the data's resolution: {' and '.join(lower)}, the images "
            f"being {prepared} px.")
    cap = caps.get(profile or "", None)
    if cap is None or cap >= prepared:
        return f"{head} The config sets that size (gan.resolution / classify.resolution)."
    fits = sorted((c, p) for p, c in caps.items() if c >= prepared)
    if not fits:
        return (f"{head} The {profile} profile trains at {cap} px at most and no profile reaches {prepared} px: "
                "set gan.resolution and classify.resolution.")
    return (f"{head} The {profile} profile trains at {cap} px at most; the {fits[0][1]} profile (up to "
            f"{fits[0][0]} px) would train at the data's {prepared} px.")
