"""Assemble the report: the numbers (``results.json``) and one self-contained ``report.html``.

The HTML embeds every image and plot as a base64 data URI, so it opens offline and can be mailed as one
file. Sections whose stage was skipped or failed say why instead of disappearing.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import yaml
from markupsafe import Markup, escape
from pydantic import BaseModel, ValidationError

from synthmed.classify.results import load_results, results_exist
from synthmed.dataset import PreparedDataset
from synthmed.errors import BadInputError, SynthmedError
from synthmed.filter.result import FilterResult
from synthmed.metrics.result import MetricsResult
from synthmed.pipeline.config import ExperimentConfig
from synthmed.pipeline.runner import RunRecord, StageRecord
from synthmed.pipeline.stages import CHAIN, Scope, summary_model
from synthmed.report import audit, collect, images, plots
from synthmed.stats import summary
from synthmed.stats.headline import headline, resolution_note
from synthmed.stats.result import StatsResult
from synthmed.utils.atomic import write_bytes, write_json, write_text
from synthmed.utils.jsonfile import read_json

HTML, RESULTS = "report.html", "results.json"  # what the report writes (and ``publish`` copies)

SECTIONS = ["summary", "dataset", "samples", "gan", "metrics", "filter", "classifier", "strategy", "leakage",
            "statistics", "verdict", "config"]
STAGES = ("prepare", "gan", "generate", "metrics", "filter", "classify", "stats")


@dataclass
class ReportSources:
    """Where each stage's output is (None when it was skipped, with the reason in ``skipped``).

    ``config``: the run's config as written (``results.json`` carries it); ``settings``: the same, typed.
    """

    name: str
    config: dict
    folders: dict[str, Path | None]
    summaries: dict[str, dict] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    samples_per_class: int = 16
    seed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # each finished stage's time
    settings: ExperimentConfig = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.settings = typed_config(self.config, f"run {self.name}")

    def folder(self, stage: str) -> Path | None:
        return self.folders.get(stage)

    def summary(self, stage: str) -> Any:
        """The stage's summary as its declared record (``pipeline.summaries``); None when the stage has none."""
        data = self.summaries.get(stage)
        return None if data is None else summary_model(stage).model_validate(data)

    def summary_records(self) -> dict[str, BaseModel]:
        """Every summary as its declared record; a stage ``primary_scope`` aliased is the same object as its
        original, as in ``summaries``."""
        records: dict[int, BaseModel] = {}
        out = {}
        for stage, data in self.summaries.items():
            if id(data) not in records:
                records[id(data)] = summary_model(stage).model_validate(data)
            out[stage] = records[id(data)]
        return out

    def experiment(self) -> Path | None:
        """The classifier grid's experiment folder, when the grid has results."""
        folder, classify = self.folder("classify"), self.summary("classify")
        experiment = folder / classify.experiment if folder and classify else None
        return experiment if experiment is not None and results_exist(experiment) else None

    def why_missing(self, stage: str) -> str:
        if stage in self.skipped:
            return f"stage {stage} was skipped: {self.skipped[stage]}"
        return f"stage {stage} has no output in this run"


def typed_config(config: dict, where: str | Path) -> ExperimentConfig:
    """A run's config as the model it was written from (one line naming ``where`` when it is not one)."""
    try:
        return ExperimentConfig.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadInputError(where, f"config is not one this synthmed version reads ({'.'.join(map(str, first['loc']))}"
                                   f": {first['msg']})") from None


def _since(model: BaseModel, name: str, before: Any) -> Any:
    """A config field's value, or ``before`` (what runs did before the field existed) when the config lacks it."""
    return getattr(model, name) if name in model.model_fields_set else before


def primary_scope(folders: dict, summaries: dict, skipped: dict) -> None:
    """Without a GAN on the whole train split (no real fraction 1 in the grid), the GAN, metrics and filter
    sections show the chain of the largest real fraction (``gan-f0.25`` ...; see ``pipeline.stages.Scope``)."""
    if "gan" in folders or "gan" in skipped:
        return
    scopes = sorted((s for k in folders if (s := Scope.parse(k)) and s[0] == "gan"), key=lambda s: -s[1].fraction)
    if scopes:
        largest = scopes[0][1]
        for stage in CHAIN[1:]:
            for store in (folders, summaries, skipped):
                if largest.stage(stage) in store:
                    store[stage] = store[largest.stage(stage)]


def sources_from_context(ctx) -> ReportSources:
    """From the pipeline's report stage (its inputs are the upstream stage folders)."""
    cfg = ctx.config
    folders, summaries, skipped = dict(ctx.inputs), dict(ctx.summaries), dict(ctx.skipped)
    primary_scope(folders, summaries, skipped)
    seconds = {k: StageRecord.load(f).seconds for k, f in folders.items() if StageRecord.exists(f)}
    return ReportSources(name=cfg.name, config=cfg.model_dump(), folders=folders, summaries=summaries, skipped=skipped,
                         samples_per_class=cfg.report.samples_per_class, seed=cfg.seed, seconds=seconds)


def sources_from_run(run_dir: Path) -> ReportSources:
    """From a run folder's ``run.json`` (``synthmed report RUN_DIR``): its stages are read from ``run_dir`` itself,
    wherever the folder was moved or copied to."""
    run = RunRecord.load(run_dir)
    finished = run.finished_stages(run_dir)
    folders: dict[str, Path | None] = {p.stage: finished.get(p.stage) for p in run.plan}
    skipped = {p.stage: p.reason or "skipped" for p in run.plan if p.status == "skipped"}
    records = {stage: StageRecord.load(folder) for stage, folder in finished.items()}
    summaries = {stage: _checked(stage, r.summary, StageRecord.path(finished[stage])) for stage, r in records.items()}
    primary_scope(folders, summaries, skipped)
    cfg = typed_config(run.config, RunRecord.path(run_dir))
    return ReportSources(name=run.name, config=run.config, folders=folders, summaries=summaries, skipped=skipped,
                         samples_per_class=cfg.report.samples_per_class, seed=cfg.seed,
                         seconds={s: r.seconds for s, r in records.items()})


def _checked(stage: str, summary: dict, where: Path) -> dict:
    """A stage's summary as read from its record, checked against its declared fields (one line if not)."""
    try:
        summary_model(stage).model_validate(summary)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadInputError(where, f"summary is not a {stage} stage's ({'.'.join(map(str, first['loc']))}: "
                                   f"{first['msg']})") from None
    return summary


def stage_names(src: ReportSources) -> list[str]:
    """The stages to time: the fixed ones, with each real fraction's GAN chain (``subset-f0.25``, ``gan-f0.25``,
    ...) after the whole split's filter."""
    scoped = {k: s for k in (*src.folders, *src.skipped) if (s := Scope.parse(k)) and s[1].fraction < 1}
    order = sorted(scoped, key=lambda k: (-scoped[k][1].fraction, CHAIN.index(scoped[k][0])))
    return [*STAGES[:5], *order, *STAGES[5:]]


def gather(src: ReportSources) -> tuple[dict, dict]:
    """(results: every number, figures: data URIs for the HTML).

    Each part is built on its own: one that raises (a bug, an unreadable file) is recorded in
    ``results["failed"]`` and shown in its section, and every other part is still built.
    """
    results: dict[str, Any] = {"name": src.name, "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                               "config": src.config, "missing": {}, "failed": {}}
    figures: dict[str, Any] = {}
    results["stages"] = [{"stage": s, "seconds": src.seconds.get(s) if src.folder(s) else None,
                          "status": "skipped" if s in src.skipped else ("done" if src.folder(s) else "missing"),
                          "reason": src.skipped.get(s)} for s in stage_names(src)]
    parts = [("dataset", _dataset), ("samples", _samples), ("gan", _gan), ("metrics", _metrics),
             ("filter", _filter), ("classifier", _classifier), ("strategy", _strategy),
             ("leakage", _leakage), ("statistics", _statistics)]
    for section, build in parts:
        before = set(results), set(figures)
        try:
            build(src, results, figures)
        except Exception as exc:  # a failing part must not cost the rest of the report
            for store, keys in ((results, before[0]), (figures, before[1])):
                for key in set(store) - keys:  # half-built numbers would be read as complete
                    del store[key]
            results["failed"][section] = failure(exc)
            results["missing"][section] = f"this section could not be built: {results['failed'][section]}"
    return results, figures


def failure(exc: BaseException) -> str:
    """One line: the error and where it was raised (file:line), for the page and results.json; a user's error
    (a corrupt stage file, ...) is its own message, which names the file."""
    if isinstance(exc, SynthmedError):
        return str(exc)
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _datasets(src: ReportSources) -> tuple[PreparedDataset | None, PreparedDataset | None, str]:
    """The real dataset, the synthetic one the classifiers used (filtered when the filter ran) and its stage."""
    real = PreparedDataset.open(src.folder("prepare") / "dataset") if src.folder("prepare") else None
    use_filtered = src.settings.classify.use_filtered
    filtered = PreparedDataset.exists(src.folder("filter") / "dataset") if src.folder("filter") else False
    syn_stage = "filter" if filtered and use_filtered else "generate"
    synthetic = PreparedDataset.open(src.folder(syn_stage) / "dataset") if src.folder(syn_stage) else None
    return real, synthetic, syn_stage


def _dataset(src: ReportSources, results: dict, figures: dict) -> None:
    if src.folder("prepare"):
        results["dataset"] = collect.dataset_summary(src.folder("prepare") / "dataset")
    else:
        results["missing"]["dataset"] = src.why_missing("prepare")
    real, synthetic, syn_stage = _datasets(src)
    results["resolutions"] = _resolutions(src, real, synthetic)
    if synthetic is not None:
        results["synthetic"] = {"from_stage": syn_stage, "counts": synthetic.class_counts("train"),
                                "resolution": synthetic.resolution}
        if src.folder("generate"):
            generated = PreparedDataset.open(src.folder("generate") / "dataset").class_counts("train")
            results["synthetic"]["generated"] = {**generated, **_topped_up(src)}


def _topped_up(src: ReportSources) -> dict[str, int]:
    """Images per class generated in all when the filter topped classes up (its summary counts the generate stage's
    images too): RBC's spherocytes were 1,610 from generate but 7,020 in all, and the dataset section said 1,610."""
    folder = src.folder("filter")
    return FilterResult.load(folder).generated_in_all() if FilterResult.exists(folder) else {}


def _samples(src: ReportSources, results: dict, figures: dict) -> None:
    real, synthetic, _ = _datasets(src)
    if real or synthetic:
        figures["samples"] = images.sample_grids(real, synthetic, src.samples_per_class, src.seed)
    else:
        results["missing"]["samples"] = src.why_missing("prepare")


def _resolutions(src: ReportSources, real: PreparedDataset | None, synthetic: PreparedDataset | None) -> dict:
    """Prepared, GAN and classifier image sides (each stage may train at its own; older runs: at the prepared)."""
    prepared = real.resolution if real else None
    gan_summary, classify_summary = src.summary("gan"), src.summary("classify")
    gan = (gan_summary and gan_summary.resolution) or (synthetic.resolution if synthetic else None)
    classify = (classify_summary and classify_summary.resolution) or (prepared if src.folder("classify") else None)
    return {"prepared": prepared, "gan": gan, "classify": classify,
            "resize_filter": _since(src.settings.data, "resize_filter", None)}


def _gan(src: ReportSources, results: dict, figures: dict) -> None:
    folder = src.folder("gan")
    if not folder:
        results["missing"]["gan"] = src.why_missing("gan")
        return
    run_dir = folder / src.summary("gan").run
    gan = collect.gan_training(run_dir)
    latest = gan.pop("latest_grid")
    results["gan"] = gan
    png = plots.gan_curves(gan["ticks"])
    figures["gan_curves"] = images.data_uri(png) if png else None
    figures["gan_grid"] = images.enlarged_uri(Path(latest)) if latest else None
    if not png:
        results["missing"]["gan_curves"] = f"{run_dir}: the GAN run has no training ticks"


def _metrics(src: ReportSources, results: dict, figures: dict) -> None:
    folder = src.folder("metrics")
    if not MetricsResult.exists(folder):
        results["missing"]["metrics"] = src.why_missing("metrics")
        return
    metrics = MetricsResult.load(folder)
    results["metrics"] = metrics.as_dict()
    figures["metrics_notes"] = metrics.note_lines()
    figures["metrics_images"] = [{"name": p.stem.replace("_", " ").replace("-", " "), "uri": images.enlarged_uri(p)}
                                 for p in sorted(folder.rglob("*.png"))]


def _filter(src: ReportSources, results: dict, figures: dict) -> None:
    folder = src.folder("filter")
    if not FilterResult.exists(folder):
        results["missing"]["filter"] = src.why_missing("filter")
        return
    results["filter"] = FilterResult.load(folder).as_dict()


def _classifier(src: ReportSources, results: dict, figures: dict) -> None:
    experiment = src.experiment()
    if experiment is None:
        results["missing"]["classifier"] = src.why_missing("classify")
        return
    stats = StatsResult.load(src.folder("stats")).as_dict() if StatsResult.exists(src.folder("stats")) else None
    _, rows, _ = load_results(experiment)
    conds = summary.cell_summaries(rows, stats)
    for c in conds:
        c["gan"] = audit.oracle_label(src.settings, c)
    top = max(c["real_fraction"] for c in conds)
    roc = summary.roc_ensembles(rows, top)
    results["classifier"] = {"runs": [{k: v for k, v in r.row.items() if k != "model_dir"} for r in rows],
                             "conditions": conds, "roc": roc, "roc_real_fraction": top,
                             "notes": src.summary("classify").notes,
                             "budget": _since(src.settings.classify, "budget", "epochs"),
                             "steps": collect.steps_per_fraction(rows),
                             "per_class": summary.class_breakdown(rows, top)}
    figures["auc_vs_ratio"] = _uri(plots.auc_vs_ratio(conds, top))
    figures["auc_vs_fraction"] = _uri(plots.auc_vs_fraction(conds, "none"))
    figures["roc"] = _uri(plots.roc_curves(roc))


def _strategy(src: ReportSources, results: dict, figures: dict) -> None:
    """Per cell, the real and synthetic images per class it trained on, and the minority classes' sensitivity."""
    experiment = src.experiment()
    if experiment is None or not src.folder("prepare"):
        results["missing"]["strategy"] = src.why_missing("classify" if src.folder("prepare") else "prepare")
        return
    real = PreparedDataset.open(src.folder("prepare") / "dataset")
    counts = list(real.class_counts("train").values())
    minority = [k for k, n in enumerate(counts) if n < float(np.median(counts))]  # as generate.strategy minority
    _, rows, _ = load_results(experiment)
    results["strategy"] = {"strategy": src.settings.generate.strategy,
                           "classes": real.classes, "train_counts": counts,
                           "minority": [real.classes[k] for k in minority], "cells": summary.class_mix(rows, minority)}


def _leakage(src: ReportSources, results: dict, figures: dict) -> None:
    experiment = src.experiment()
    if experiment is None or not src.summary("classify").real_subsets:
        results["missing"]["leakage"] = (src.why_missing("classify") if experiment is None else
                                         "the classifier grid of this run recorded no real subsets (made before the "
                                         "leakage audit existed)")
        return
    _, rows, _ = load_results(experiment)
    real = PreparedDataset.open(src.folder("prepare") / "dataset") if src.folder("prepare") else None
    metrics = {k: MetricsResult.load(f) for k, f in src.folders.items()
               if (s := Scope.parse(k)) and s[0] == "metrics" and MetricsResult.exists(f)}
    summaries = src.summary_records()
    results["leakage"] = {**audit.audit(summaries, src.settings, rows, real),
                          "gans": audit.gan_table(summaries, metrics),
                          "subset_kimg_power": _since(src.settings.gan, "subset_kimg_power", None)}


def _statistics(src: ReportSources, results: dict, figures: dict) -> None:
    folder = src.folder("stats")
    if not StatsResult.exists(folder):
        results["missing"]["statistics"] = src.why_missing("stats")
        return
    result = StatsResult.load(folder)
    for c in result.comparisons:
        if label := audit.oracle_label(src.settings, c.config.model_dump()):
            c.name, c.sentence = f"{c.name} [{label}]", f"{label}: {c.sentence}"
    stats = result.as_dict()  # as written (with the labels): the table and the headline read the file's layout
    results["statistics"] = {"settings": result.settings, "table": collect.stats_table(stats),
                             "skipped": stats["skipped"], "notes": result.notes,
                             "per_class": [{"name": c.name, "baseline": c.baseline_name, "classes": c.per_class}
                                           for c in result.comparisons if c.per_class]}
    results["verdicts"] = verdicts(result)
    _strongest_headline(results["verdicts"], stats, results.get("resolutions"), src.settings)


def _strongest_headline(out: dict, stats: dict, resolutions: dict | None, config: ExperimentConfig) -> None:
    """The headline against the strongest real-only arm (stats files that have it), and the resolution note;
    both from synthmed.stats.headline, so the template shows them without knowing how they were chosen."""

    if head := headline(stats):
        out.update(headline=head["sentences"], headline_verdicts=head["verdicts"],
                   summary=f"{out['summary']} {head['summary']}")
    r = resolutions or {}
    if note := resolution_note(r.get("prepared"), r.get("gan"), r.get("classify"), config.profile):
        out["summary"] = f"{out['summary']} {note}"


def verdicts(stats: StatsResult) -> dict:
    """The stats stage's sentences; the headline ones are those on all the real data without augmentation."""
    comps = stats.comparisons
    alpha = stats.settings.get("alpha", 0.05)  # settings: the comparison's options, free-form
    counts = {w: sum(1 for c in comps if c.verdict == w) for w in ("better", "worse", "no significant difference",
                                                                   "not tested")}
    top = max((c.config.real_fraction for c in comps), default=1.0)
    heads = [c for c in comps if c.config.real_fraction == top and c.config.augment == "none"]
    test = ("macro one-vs-rest AUC, paired permutation test on the seed ensembles, with per-class DeLong tests"
            if any(c.per_class for c in comps) else "DeLong test on the seed ensembles")
    summary = (f"{len(comps)} configurations compared with their real-only baseline ({test}, "
               f"Holm-adjusted across the grid, alpha = {alpha:g}): {counts['better']} better, "
               f"{counts['worse']} worse, {counts['no significant difference']} with no significant difference"
               + (f", {counts['not tested']} not tested" if counts["not tested"] else "") + ".")
    # headline_verdicts lets the report colour each box by its own verdict (green only for "better").
    return {"summary": summary, "headline": [c.sentence for c in heads],
            "headline_verdicts": [c.verdict for c in heads], "all": [c.sentence for c in comps],
            "counts": counts}


def _uri(png: bytes | None) -> str | None:
    return images.data_uri(png) if png else None


def render_html(results: dict, figures: dict) -> str:
    """The page; each section is a macro of the template rendered on its own, so a section whose template
    fails on unexpected data becomes a box naming the error (also added to ``results["failed"]``)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("synthmed.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.filters["num"] = format_number
    env.filters["g"] = lambda x: "n/a" if x is None else f"{x:g}"
    env.filters["pct"] = lambda x: "n/a" if x is None else f"{100 * x:.1f} %"
    env.filters["secs"] = lambda s: "n/a" if s is None else (f"{s:.1f} s" if s < 60 else f"{int(s // 60)} min "
                                                                                          f"{int(s % 60):02d} s")
    template = env.get_template("report.html.j2")
    context = {"r": results, "fig": figures, "sections": SECTIONS,
               "config_yaml": yaml.safe_dump(results["config"], sort_keys=False, default_flow_style=None)}
    macros = template.make_module(context)
    rendered = {}
    for section in SECTIONS:
        try:
            rendered[section] = getattr(macros, "section_" + section)()
        except Exception as exc:  # one section's bug must not cost the page
            results.setdefault("failed", {}).setdefault(section, failure(exc))
            rendered[section] = Markup(f'<section id="{section}"><h2>{escape(section)}</h2><p class="missing">'
                                       f"this section could not be rendered: {escape(failure(exc))}</p></section>")
    return template.render(**context, rendered=rendered)


def format_number(x: Any) -> str:
    """Numbers for tables: 3 decimals below 10 (AUCs, p-values line up), fewer above; n/a for missing."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x != x:
            return "n/a"
        if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
            return f"{x:.2e}"
        return f"{x:.3f}" if abs(x) < 10 else f"{x:.2f}" if abs(x) < 100 else f"{x:.1f}"
    return str(x)


def build_report(src: ReportSources, out: Path) -> dict:
    """Write ``out/results.json`` and ``out/report.html``; returns the results.

    A part that failed is named in ``results["failed"]`` (section -> error); the rest is complete.
    """
    results, figures = gather(src)
    html = render_html(results, figures)
    results["sections_rendered"] = [s for s in SECTIONS if s not in results["failed"]]
    write_json(out / RESULTS, results)
    write_text(out / HTML, html)
    return results


def failed_line(results: dict) -> str:
    """The sections that failed, as one line (the same error once, however many sections it cost)."""
    by_error: dict[str, list[str]] = {}
    for section, error in results["failed"].items():
        by_error.setdefault(error, []).append(section)
    return "; ".join(f"section {', '.join(sections)}: {error}" for error, sections in by_error.items())


def published_results(run_dir: Path) -> dict | None:
    """The numbers of the report at the top of a run folder (None before a report was built)."""
    path = run_dir / RESULTS
    return read_json(path) if path.is_file() else None


def publish(folder: Path, run_dir: Path) -> Path:
    """Copy a built report's files from ``folder`` to the top of ``run_dir``, where people look for them."""
    for name in (HTML, RESULTS):
        write_bytes(run_dir / name, (folder / name).read_bytes())
    return run_dir / HTML
