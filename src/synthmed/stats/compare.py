"""Compare every configuration of an experiment grid against its real-only baseline.

Pairing: a configuration is (source, ratio, real_fraction, augment, arch) over its seeds. Its baseline is
the configuration with source ``baseline`` (default "real"), the same arch and real_fraction and augment
"none"; so real + traditional augmentation is compared with real + none (and synthetic + traditional
with real + none too: the comparison is against the plain real-only model), and baselines themselves
are not compared. Seeds are paired (same seed, same test images; checked).

Per seed pair: DeLong test of the two AUCs, McNemar's test of the predicted labels, stratified bootstrap
CIs of AUC, sensitivity and specificity (and of their differences). Across seeds: mean +- sd and a paired
Wilcoxon signed-rank test of the per-seed AUCs. The primary test of a configuration is DeLong on the
seed-averaged positive-class probabilities of both sides, i.e. a comparison of the seed *ensembles*
(it uses every seed and keeps the pairing by test image); Holm's correction runs over the primary
p-values of the whole grid, and the verdict follows the Holm-adjusted p.

More than two classes (``compare_multiclass``, numbers in ``multiclass.py``): no class is singled out. The
primary test is a paired permutation test of the ensembles' macro one-vs-rest AUC, with class-stratified
bootstrap CIs; beside it, a DeLong test per class (one vs rest). Holm then runs over the primary and the
per-class p-values of the whole grid together, and the verdict names the classes that got better or worse.
Per seed pair: the macro point estimates and McNemar's test (across seeds as above).

Beside these, ``compare_results`` compares every synthetic configuration with the strongest real-only arm of its
real fraction and arch, chosen on validation (``synthmed.stats.headline``): ``result["strongest"]``, the same tests,
Holm over those comparisons (a family of their own). The report's headline verdicts are these.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from synthmed.classify.results import Cell, Predictions, ResultRow, load_results, read_predictions
from synthmed.errors import SynthmedError
from synthmed.stats import multiclass as mc
from synthmed.stats.bootstrap import bootstrap_metrics
from synthmed.stats.delong import delong_test
from synthmed.stats.headline import strongest_real, strongest_words
from synthmed.stats.loading import check_positive_class, check_same_cases
from synthmed.stats.mcnemar import mcnemar_test
from synthmed.stats.multiple import holm
from synthmed.stats.seeds import mean_sd, paired_wilcoxon
from synthmed.stats.table import write_outputs
from synthmed.stats.verdict import BETTER, WORSE, multiclass_sentence, sentence, verdict

MIN_BOOT = 2000


def find_baseline(key: Cell, keys: list[Cell], baseline: str) -> Cell | None:
    """The baseline configuration of ``key`` (None when none exists)."""
    candidates = [k for k in keys if k.source == baseline and k.augment == "none" and k.arch == key.arch
                  and k.real_fraction == key.real_fraction]
    if len(candidates) > 1:
        candidates = [k for k in candidates if k.ratio == key.ratio] or candidates
    if len(candidates) > 1:
        names = "; ".join(k.label() for k in candidates)
        raise SynthmedError(f"several baselines fit {key.label()}: {names}")
    return candidates[0] if candidates else None


def is_baseline(key: Cell, baseline: str) -> bool:
    return key.source == baseline and key.augment == "none"


class _Cache:
    """Each predictions CSV is read once, however many comparisons use it."""

    def __init__(self) -> None:
        self._files: dict[Path, Predictions] = {}

    def __call__(self, run: ResultRow) -> Predictions:
        if run.predictions not in self._files:
            self._files[run.predictions] = read_predictions(run.predictions)
        return self._files[run.predictions]


def _side(preds: list[Predictions], runs: list[ResultRow], positive: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed-ensemble of one side: mean positive-class score, predicted positive, predicted label correct.

    One run: its own predicted labels (its fixed threshold). Several: binary, positive when the mean
    probability reaches the mean of the runs' thresholds; K > 2, the argmax of the mean probabilities.
    """
    mean_scores = np.mean([p.scores for p in preds], axis=0)
    score = mean_scores[:, positive]
    if len(preds) == 1:
        pred_label = preds[0].pred
        predicted_positive = pred_label == positive
    elif mean_scores.shape[1] == 2:
        predicted_positive = score >= float(np.mean([0.5 if r.threshold is None else r.threshold for r in runs]))
        pred_label = np.where(predicted_positive, positive, 1 - positive)
    else:
        pred_label = mean_scores.argmax(axis=1)
        predicted_positive = pred_label == positive
    return score, predicted_positive, pred_label == preds[0].label


def _paired_tests(positive_mask, a, b, rng, n_boot, level) -> dict:
    """DeLong, bootstrap and McNemar for config side ``a`` vs baseline side ``b`` (score, pred+, correct)."""
    return {
        "delong": delong_test(positive_mask, a[0], b[0], level).to_dict(),
        "bootstrap": bootstrap_metrics(positive_mask, np.stack([a[0], b[0]]), np.stack([a[1], b[1]]), rng,
                                       n_boot, level),
        "mcnemar": mcnemar_test(a[2], b[2]).to_dict(),
    }


def compare_config(key: Cell, base: Cell, runs: dict[int, ResultRow], base_runs: dict[int, ResultRow],
                   load: _Cache, rng: np.random.Generator, n_boot: int, level: float, alpha: float,
                   n_compared: int = 1) -> dict:
    """All numbers of one configuration against its baseline (before the Holm correction); ``n_compared``: how
    many comparisons share its Holm family (with K > 2 classes it sizes the permutation test)."""
    seeds = sorted(set(runs) & set(base_runs))
    notes = [f"seed {s} has no pair and is left out" for s in sorted(set(runs) ^ set(base_runs))]
    if not seeds:
        raise SynthmedError(f"{key.label()} and its baseline {base.label()} share no seed")
    cfg = [runs[s] for s in seeds]
    ref = [base_runs[s] for s in seeds]
    cfg_preds, ref_preds = [load(r) for r in cfg], [load(r) for r in ref]
    for p in cfg_preds + ref_preds[1:]:
        check_same_cases(p, ref_preds[0])
    k = ref_preds[0].scores.shape[1]
    positive = check_positive_class(cfg + ref, k)
    if k > 2:
        return compare_multiclass(key, base, seeds, (cfg, cfg_preds), (ref, ref_preds), rng, n_boot, level, alpha,
                                  notes, n_compared)
    positive = 1 if positive is None else positive  # a two-class row without one (old files): class 1, as before
    mask = ref_preds[0].label == positive
    try:
        per_seed = []
        for s, pa, pb in zip(seeds, cfg_preds, ref_preds, strict=True):
            side_a = _side([pa], [runs[s]], positive)
            side_b = _side([pb], [base_runs[s]], positive)
            per_seed.append({"seed": s, "run_id": runs[s].run_id, "baseline_run_id": base_runs[s].run_id,
                             **_paired_tests(mask, side_a, side_b, rng, n_boot, level)})
        ensemble = _paired_tests(mask, _side(cfg_preds, cfg, positive), _side(ref_preds, ref, positive),
                                 rng, n_boot, level)
    except ValueError as exc:  # too few cases of a class in the test set
        raise SynthmedError(f"{ref_preds[0].path}: {exc}") from None
    if len(seeds) == 1:
        notes.append("one seed: the ensemble is that seed's model and there is no across-seed test")
    return {
        "name": key.label(), "config": key.to_dict(), "baseline": base.to_dict(), "baseline_name": base.label(),
        "positive_class": positive, "seeds": seeds, "n_test": int(mask.size), "n_pos": int(mask.sum()),
        "n_neg": int((~mask).sum()), "ensemble": ensemble, "per_seed": per_seed,
        "across_seeds": _across_seeds(per_seed, alpha), "p_delong": ensemble["delong"]["p"], "notes": notes,
        "primary_test": "DeLong", "p_primary": ensemble["delong"]["p"], "words": (key.words(), base.words()),
    }


def _classes(rows: list[ResultRow], k: int) -> list[str]:
    """Class names from a row's per-class metrics (written in class order), else the indices."""
    names = list((rows[0].metrics.get("per_class") or {}).keys())
    return names if len(names) == k else [str(c) for c in range(k)]


def _multi_side(preds: list[Predictions]) -> tuple[np.ndarray, np.ndarray]:
    """Seed ensemble of K-class runs: mean probabilities and their argmax (one run: its own predicted labels)."""
    mean_scores = np.mean([p.scores for p in preds], axis=0)
    return mean_scores, preds[0].pred if len(preds) == 1 else mean_scores.argmax(axis=1)


def compare_multiclass(key: Cell, base: Cell, seeds: list[int], side_a: tuple[list[ResultRow], list[Predictions]],
                       side_b: tuple[list[ResultRow], list[Predictions]], rng: np.random.Generator, n_boot: int,
                       level: float, alpha: float, notes: list[str], n_compared: int = 1) -> dict:
    """K > 2: macro one-vs-rest AUC (permutation p, class-stratified bootstrap CIs) and per-class DeLong tests."""
    (cfg, cfg_preds), (ref, ref_preds) = side_a, side_b
    labels = ref_preds[0].label
    k = ref_preds[0].scores.shape[1]
    try:
        per_seed = []
        for s, pa, pb in zip(seeds, cfg_preds, ref_preds, strict=True):
            scores, preds = np.stack([pa.scores, pb.scores]), np.stack([pa.pred, pb.pred])
            per_seed.append({"seed": s, "run_id": cfg[seeds.index(s)].run_id,
                             "baseline_run_id": ref[seeds.index(s)].run_id,
                             "macro": {"models": mc.point_estimates(labels, scores, preds)},
                             "mcnemar": mcnemar_test(pa.pred == labels, pb.pred == labels).to_dict()})
        (a, pred_a), (b, pred_b) = _multi_side(cfg_preds), _multi_side(ref_preds)
        ensemble = {"bootstrap": mc.bootstrap_macro(labels, np.stack([a, b]), np.stack([pred_a, pred_b]), rng,
                                                    n_boot, level),
                    # Holm's family: each comparison's macro p and its k per-class p-values
                    "permutation": mc.permutation_test(labels, a, b, rng, mc.permutations_for_family(
                        n_compared * (1 + k), alpha, n_boot)),
                    "mcnemar": mcnemar_test(pred_a == labels, pred_b == labels).to_dict()}
        per_class = mc.per_class_tests(labels, a, b, pred_a, pred_b, _classes(ref, k), level)
    except ValueError as exc:  # a class without test images
        raise SynthmedError(f"{ref_preds[0].path}: {exc}") from None
    if len(seeds) == 1:
        notes.append("one seed: the ensemble is that seed's model and there is no across-seed test")
    return {
        "name": key.label(), "config": key.to_dict(), "baseline": base.to_dict(), "baseline_name": base.label(),
        "positive_class": None, "classes": k, "class_counts": np.bincount(labels, minlength=k).tolist(),
        "seeds": seeds, "n_test": int(labels.size), "n_pos": None, "n_neg": None, "ensemble": ensemble,
        "per_class": per_class, "per_seed": per_seed, "across_seeds": _across_seeds(per_seed, alpha),
        "p_delong": None, "primary_test": "permutation (macro one-vs-rest AUC)",
        "p_primary": ensemble["permutation"]["p"], "notes": notes, "words": (key.words(), base.words()),
    }


def _across_seeds(per_seed: list[dict], alpha: float) -> dict:
    out: dict = {}
    for metric in ("auc", "sensitivity", "specificity"):
        models = [(s["bootstrap"] if "bootstrap" in s else s["macro"])["models"] for s in per_seed]
        a = [m[0][metric]["estimate"] for m in models]
        b = [m[1][metric]["estimate"] for m in models]
        out[metric] = {"config": mean_sd(a), "baseline": mean_sd(b),
                       "difference": mean_sd(np.subtract(a, b)), "wilcoxon": paired_wilcoxon(a, b, alpha)}
    return out


def _finish(comparisons: list[dict], alpha: float) -> None:
    """Holm across the grid's p-values (each comparison's primary one and, with K > 2 classes, its per-class
    DeLong ones: one family), then verdicts and sentences."""
    family = [(c, None) for c in comparisons] + [(c, pc) for c in comparisons for pc in c.get("per_class", [])]
    adjusted, _ = holm([c["p_primary"] if pc is None else pc["p"] for c, pc in family], alpha)
    for (c, pc), p_adj in zip(family, adjusted, strict=True):
        if pc is None:
            c["p_holm"] = p_adj
        else:
            pc["p_holm"], pc["verdict"] = p_adj, verdict(pc["diff"], p_adj, alpha)
    for c in comparisons:
        ens = c["ensemble"]
        diff = ens["delong"]["diff"] if "delong" in ens else ens["permutation"]["diff"]
        c["verdict"] = verdict(diff, c["p_holm"], alpha)
        boot = ens["bootstrap"]["models"]
        auc_a = tuple(boot[0]["auc"][k] for k in ("estimate", "ci_low", "ci_high"))
        auc_b = tuple(boot[1]["auc"][k] for k in ("estimate", "ci_low", "ci_high"))
        name, base_name = c.pop("words")
        if "per_class" not in c:
            c["sentence"] = sentence(name, auc_a, base_name, auc_b, c["p_delong"], c["p_holm"], c["verdict"])
            continue
        c["classes_better"] = [pc["name"] for pc in c["per_class"] if pc["verdict"] == BETTER]
        c["classes_worse"] = [pc["name"] for pc in c["per_class"] if pc["verdict"] == WORSE]
        c["sentence"] = multiclass_sentence(name, auc_a, base_name, auc_b, c["p_primary"], c["p_holm"], c["verdict"],
                                            c["per_class"], (ens.get("permutation") or {}).get("n_perm"))


def compare_results(results_dir: str | Path, baseline: str = "real", out: str | Path | None = None,
                    alpha: float = 0.05, n_boot: int = MIN_BOOT, seed: int = 0, level: float = 0.95) -> dict:
    """Compare every configuration in ``results_dir`` with its baseline; write JSON + CSV when ``out``."""
    _check_settings(n_boot, alpha, level)
    path, runs, notes = load_results(results_dir)
    groups = _groups(runs)
    keys = sorted(groups)
    if not any(k.source == baseline for k in keys):
        raise SynthmedError(f"{path}: no runs with source {baseline!r} to use as the baseline")
    todo, skipped = [], []
    for key in keys:
        if is_baseline(key, baseline):
            continue
        base = find_baseline(key, keys, baseline)
        if base is None:
            skipped.append({"name": key.label(), "reason": f"no {baseline} baseline with the same arch and "
                            "real_fraction and augment none"})
        else:
            todo.append((key, base))
    result = _compare(path, groups, todo, alpha, n_boot, seed, level)
    result["settings"]["baseline"] = baseline
    result.update(skipped=skipped, notes=notes, strongest=compare_strongest(path, groups, baseline, alpha, n_boot,
                                                                            seed, level))
    result = finite(result)
    if out is not None:
        write_outputs(result, Path(out))
    return result


def compare_pairs(results_dir: str | Path | Sequence[str | Path], pairs: list[tuple[Cell, Cell]], alpha: float = 0.05,
                  n_boot: int = MIN_BOOT, seed: int = 0, level: float = 0.95) -> dict:
    """Compare chosen (configuration, baseline) pairs of cells with exactly the tests of ``compare_results``.

    For a study that asks other questions of a grid than "each cell vs real-only" (e.g. real + synthetic vs
    real + traditional augmentation): every pair gets the same per-seed and seed-ensemble tests, and Holm
    runs over these pairs' p-values only (one family, with the per-class ones when K > 2). A baseline may be
    any cell. A cell without runs is a one-line error naming it.

    ``results_dir`` may also be several grids' folders (e.g. a synthetic grid and a study's real baselines trained
    on the same test split: each pair's test cases are checked to match); their pairs form one Holm family, and a
    cell with runs in several folders takes those of the first (a note says so: e.g. a grid's real-only runs that
    repeat a baseline grid's).
    """
    _check_settings(n_boot, alpha, level)
    folders = [results_dir] if isinstance(results_dir, str | Path) else list(results_dir)
    loaded = [load_results(folder) for folder in folders]
    path, groups, notes = loaded[0][0], {}, [note for _, _, found in loaded for note in found]
    needed, first = {cell for pair in pairs for cell in pair}, {}
    for where, runs, _ in loaded:
        for cell, by_seed in _groups(runs).items():
            if cell not in groups:
                groups[cell], first[cell] = by_seed, where
            elif cell in needed:
                notes.append(f"{cell.label()}: the runs of {first[cell]} (those of {where} are left out)")
    missing = sorted({c.label() for pair in pairs for c in pair if c not in groups})
    if missing:
        raise SynthmedError(f"{path}: no runs of {'; '.join(missing)}")
    result = _compare(path, groups, list(pairs), alpha, n_boot, seed, level)
    result["settings"]["baseline"] = "per pair"
    if len(loaded) > 1:
        result["settings"]["results"] = [str(where) for where, _, _ in loaded]
    result.update(skipped=[], notes=notes)
    return finite(result)


def _check_settings(n_boot: int, alpha: float, level: float) -> None:
    if n_boot < MIN_BOOT:
        raise SynthmedError(f"n_boot must be at least {MIN_BOOT} for stable 95 % percentile intervals, got {n_boot}")
    if not 0 < alpha < 1 or not 0 < level < 1:
        raise SynthmedError(f"alpha and level must lie in (0, 1), got {alpha} and {level}")


def compare_strongest(path: Path, groups: dict[Cell, dict[int, ResultRow]], baseline: str = "real",
                      alpha: float = 0.05, n_boot: int = MIN_BOOT, seed: int = 0, level: float = 0.95) -> dict:
    """Every synthetic configuration against the strongest real-only arm of its real fraction and arch (chosen on
    validation, ``headline.strongest_real``); Holm over these comparisons. ``arms``: each choice and its
    candidates' validation AUC."""
    arms, todo = [], []
    for fraction, arch in sorted({(c.real_fraction, c.arch) for c in groups}, reverse=True):
        chosen, info = strongest_real(groups, fraction, arch, baseline)
        if chosen is None:
            continue
        arms.append(info | {"chosen_words": chosen.words()})
        todo += [(c, chosen) for c in sorted(groups) if c.source != baseline and c.real_fraction == fraction
                 and c.arch == arch]
    if not todo:
        return {"arms": arms, "comparisons": [], "family": "no synthetic configuration"}
    result = _compare(path, groups, todo, alpha, n_boot, seed, level, describe_baseline=strongest_words)
    return {"arms": arms, "comparisons": result["comparisons"],
            "family": f"Holm over these {len(todo)} comparisons" + (
                " and their per-class p-values" if any("per_class" in c for c in result["comparisons"]) else "")}


def _groups(runs: list[ResultRow]) -> dict[Cell, dict[int, ResultRow]]:
    groups: dict[Cell, dict[int, ResultRow]] = defaultdict(dict)
    for run in runs:
        groups[run.cell][run.seed] = run
    return groups


def _compare(path: Path, groups: dict[Cell, dict[int, ResultRow]], todo: list[tuple[Cell, Cell]], alpha: float,
             n_boot: int, seed: int, level: float, describe_baseline=None) -> dict:
    """The comparisons of ``todo`` (configuration, baseline) in order, one random stream each, then Holm;
    ``describe_baseline(cell)``: the baseline's name in the sentences (default: its own words)."""
    streams = np.random.SeedSequence(seed).spawn(len(todo))  # one independent stream per comparison
    load = _Cache()
    comparisons = [compare_config(key, base, groups[key], groups[base], load, np.random.default_rng(stream),
                                  n_boot, level, alpha, len(todo))
                   for (key, base), stream in tqdm(list(zip(todo, streams, strict=True)), desc="compare",
                                                   unit="config", disable=None)]
    if describe_baseline is not None:
        for c, (key, base) in zip(comparisons, todo, strict=True):
            c["words"] = (key.words(), describe_baseline(base))
    _finish(comparisons, alpha)
    return {"settings": {"results": str(path), "baseline": None, "alpha": alpha, "n_boot": n_boot, "seed": seed,
                         "level": level, **_test_settings(comparisons)},
            "comparisons": comparisons}


def _test_settings(comparisons: list[dict]) -> dict:
    """How the grid was tested, in words (two classes: as it always was)."""
    if not any("per_class" in c for c in comparisons):
        return {"primary_test": "DeLong on seed-averaged scores (ensemble), Holm across grid",
                "bootstrap": "stratified by label, percentile"}
    return {"primary_test": "macro one-vs-rest AUC of the seed ensembles: paired permutation test "
                            f"({comparisons[0]['ensemble']['permutation']['n_perm']} permutations); per-class "
                            "one-vs-rest DeLong tests; Holm across the grid's primary and per-class p-values",
            "bootstrap": "stratified by class, percentile"}


def finite(obj):
    """JSON has no infinity or NaN: they become None (e.g. z of a certain difference)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj
