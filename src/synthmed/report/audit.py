"""The leakage audit: which real images each stage learnt from, and whether any val/test image reached training.

Every stage records what it saw in its summary (``done.json``): the subset stages and GANs, metrics and filters
of each GAN scope (``pipeline.stages.Scope``) a ``real`` entry (split, count, ``images_hash``), the classifier
grid each real fraction's subset and the val/test splits, and every grid run its ``real_images_hash``. The
audit only compares those hashes (``PreparedDataset.images_hash``: content, not paths); the stages themselves
stop when a hash differs, so a finished run should always pass. It also counts val/test images that are
pixel-identical to a training image in the source's own splits: a property of the data, not a pipeline leak,
but a reader of the test AUCs should know it.

It reads the summaries as their declared models (``pipeline.summaries``) and the run's typed config, so a renamed
field fails here (and in the tests) instead of leaving an empty table.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel

from synthmed.classify.results import ResultRow
from synthmed.dataset import PreparedDataset
from synthmed.metrics.result import MetricsResult
from synthmed.pipeline.config import ExperimentConfig
from synthmed.pipeline.stages import Scope
from synthmed.pipeline.summaries import ClassifySummary, PrepareSummary, Seen

ORACLE = "oracle GAN (upper bound)"
_ROLE = {"gan": "GAN training images", "metrics": "metrics reference (domain CNN, memorization)",
         "filter": "filter classifier and copy check"}


def _short(h: str | None) -> str | None:
    return h[:12] if h else None


def scope_rows(summaries: dict[str, BaseModel]) -> list[dict]:
    """One row per GAN-side stage of every scope: what it learnt from (``summaries``: each stage's summary as its
    model; an alias of another stage's, ``report.build.primary_scope``, is the same object)."""
    rows = []
    for stage, summary in summaries.items():
        parsed = Scope.parse(stage)
        if not parsed or parsed[0] not in _ROLE:
            continue
        step, scope = parsed
        real: Seen | None = summary.real  # a GanSummary, MetricsSummary or FilterSummary (None: an older run)
        if real is None:
            continue
        if scope.fraction >= 1 and any(k != stage and v is summary for k, v in summaries.items()):
            continue  # the report's alias of a subset chain (no GAN on the whole split), listed under its name
        rows.append({"stage": stage, "role": _ROLE[step], "gan_fraction": scope.fraction, "split": real.split,
                     "n": real.n, "images_hash": real.images_hash})
    return sorted(rows, key=lambda r: (-r["gan_fraction"], list(_ROLE).index(r["stage"].split("-")[0])))


def gan_table(summaries: dict[str, BaseModel], metrics: dict[str, MetricsResult]) -> list[dict]:
    """The GANs of the run: real images seen, kimg, and the headline metrics of each (``metrics``: by stage)."""
    out = []
    for row in scope_rows(summaries):
        if row["role"] != _ROLE["gan"]:
            continue
        measured = metrics.get(Scope(row["gan_fraction"]).stage("metrics"))
        overall = measured.overall if measured is not None else {}
        out.append({"stage": row["stage"], "real_fraction": row["gan_fraction"], "real_images": row["n"],
                    "kimg": summaries[row["stage"]].kimg,
                    **{k: overall.get(k) for k in ("fid_domain", "precision", "recall", "memorized_fraction")}})
    return out


def audit(summaries: dict[str, BaseModel], config: ExperimentConfig, runs: list[ResultRow],
          real: PreparedDataset | None) -> dict:
    """The table, the checks and the one-line verdict (``summaries`` as for ``scope_rows``; ``runs``: the grid's)."""
    classify: ClassifySummary | None = summaries.get("classify")
    prepare: PrepareSummary | None = summaries.get("prepare")
    # Optional fields: a grid made before the audit recorded no subsets (nothing to audit, said in the verdict).
    subsets = (classify.real_subsets if classify else None) or {}
    gan_of = (classify.gan_of_fraction if classify else None) or {}
    oracle = config.classify.oracle_gan
    table = [{**r, "fraction": r["gan_fraction"], "images_hash": _short(r["images_hash"]),
              "full_hash": r["images_hash"]} for r in scope_rows(summaries)]
    problems: list[str] = []
    # Which hash a GAN scope must have: the subset of the fraction whose cells it feeds.
    expected = {float(g): subsets[f].images_hash for f, g in gan_of.items() if float(f) == float(g) and f in subsets}
    for r in table:
        want = expected.get(r["gan_fraction"])
        if r["gan_fraction"] >= 1 and want is None and prepare is not None:
            want = prepare.train_hash
        if want and r["full_hash"] != want:
            problems.append(f"{r['stage']} learnt from other images than the classifiers of its fraction")
    for f, seen in sorted(subsets.items(), key=lambda kv: -float(kv[0])):
        hashes = {run.row.get("real_images_hash") for run in runs  # rows written before the audit lack it
                  if run.cell.real_fraction == float(f) and run.cell.source != "synthetic"}
        hashes.discard(None)
        if hashes - {seen.trained_hash or seen.images_hash}:  # rows hash the images at their resolution
            problems.append(f"classifiers of real fraction {f} trained on other real images than its subset")
        gan = float(gan_of.get(f, 1.0))
        table.append({"stage": "classify", "role": f"classifiers, real fraction {f}"
                      + (f" (synthetic from the {ORACLE})" if oracle and float(f) < 1 else ""),
                      "fraction": float(f), "split": "train", "n": seen.n,
                      "images_hash": _short(seen.images_hash), "full_hash": seen.images_hash,
                      "gan_fraction": gan})
    calibrations = [(k, v.calibrated_on) for k, v in summaries.items()
                    if (s := Scope.parse(k)) and s[0] == "filter" and v.calibrated_on
                    and not (k == "filter" and any(k2 != k and v2 is v for k2, v2 in summaries.items()))]
    for stage, seen in calibrations:  # thresholds only: the filter's classifier never trains on these images
        table.append({"stage": stage, "role": "filter thresholds (scores of real images, no training)",
                      "fraction": 1.0, "split": seen.split, "n": seen.n,
                      "images_hash": _short(seen.images_hash), "full_hash": seen.images_hash})
    for split, role in (("val", "model selection (best validation AUC, threshold)"), ("test", "evaluation only")):
        if seen := (classify and (classify.val if split == "val" else classify.test)):
            table.append({"stage": "classify", "role": role, "fraction": 1.0, "split": split, "n": seen.n,
                          "images_hash": _short(seen.images_hash), "full_hash": seen.images_hash})
            if any(r["full_hash"] == seen.images_hash for r in table if r["split"] == "train"):
                problems.append(f"a training set has the content hash of the {split} split")
    duplicates = source_duplicates(real) if real is not None else {}
    if problems:
        verdict = "LEAK: " + "; ".join(problems) + "."
    elif not subsets:
        verdict = "No classifier grid in this run: nothing to audit."
    else:
        verdict = ("No val/test image reached training: every GAN, metrics reference and filter learnt from the "
                   "train-split images of the classifiers it serves (same content hash); validation images were "
                   "used only for model selection" + (" and, as scores, to calibrate the filter's thresholds"
                                                      if calibrations else "") + ", test images only for evaluation.")
        if oracle and any(float(f) < 1 for f in subsets):
            verdict += (f" The cells below real fraction 1 got images of the {ORACLE}, which saw the whole train "
                        "split: more real images than those classifiers.")
    return {"table": [{k: v for k, v in r.items() if k != "full_hash"} for r in table], "problems": problems,
            "verdict": verdict, "leak": bool(problems), "oracle_gan": oracle, "source_duplicates": duplicates}


def source_duplicates(real: PreparedDataset) -> dict[str, int]:
    """Val/test images pixel-identical to a train image in the dataset's own splits (e.g. 1 test image of
    BreastMNIST's official splits)."""
    def digests(split: str) -> list[bytes]:
        return [hashlib.sha256(img.tobytes()).digest() for img in real.load_images(split)] if real.entries(split) \
            else []

    train = set(digests("train"))
    return {split: sum(d in train for d in digests(split)) for split in ("val", "test")}


def oracle_label(config: ExperimentConfig, cell: dict[str, Any]) -> str | None:
    """``ORACLE`` for a cell below real fraction 1 with synthetic images from the whole split's GAN."""
    oracle = config.classify.oracle_gan
    low = float(cell.get("real_fraction") or 1) < 1
    return ORACLE if oracle and low and cell.get("source") != "real" else None
