"""Recipe search on BreastMNIST 64 px: which GAN and classifier recipe helps with little real data?
(a benchmark, not a test)

Choose on validation, report on test: this script scores every recipe on the real VALIDATION split only and
never evaluates anything on the test split (every classifier grid gets ``test=<real>:val``), so the recipe it
finds can be tested once afterwards (``benchmarks/utility_study.py``, ``synthmed run --profile quality``).

1. GAN recipes (``GAN_RECIPES``): each is a pipeline config (BreastMNIST 64, GAN and classifiers at 64 px, real
   fractions 0.25 and 0.1, the low-data cells, each with a subset GAN trained on exactly its real
   images, as ``synthmed run`` does). Only the pipeline's stages up to the filter run (prepare, subset-f*, gan-f*,
   generate-f*, metrics-f*, filter-f*), through ``run_pipeline`` into ``--work/gans/<recipe>``: the stage cache
   and the GAN's checkpoints make a killed run resume. ``synthmed.pipeline.outputs.run_outputs`` gives each
   fraction's filtered synthetic set.
2. Classifier recipes (``CLS_RECIPES``): for each GAN recipe, one ``run_experiment`` grid per classifier recipe in
   ``--work/classifiers/<gan>--<classifier>`` (ratios 50/100/200 % of the real images, augmentation none and
   traditional, ``--seeds``; the pipeline's classifier options and budget), resumed cell by cell; the same real
   subset the subset GAN learnt from (``subset_seed`` = the config's seed, as the pipeline's grid does). The
   real-only and real + traditional augmentation baselines (no synthetic image, so no GAN or entry option changes
   them) run once per classifier architecture in ``--work/classifiers/baseline-<arch>``; every mixed cell is
   checked to have trained on exactly its baseline's real images.
3. ``recipes.json`` + ``recipes.md`` in ``--results``: per GAN recipe, classifier recipe, fraction and condition,
   the validation AUC over seeds and its difference from real-only and from real + traditional augmentation, every
   recipe tried (the ones that did not help too); rewritten after every grid, and the best recipe per fraction.

    python benchmarks/quality_recipes.py                 # hours on this CPU (GANs of 35-55 min each); resumable
    python benchmarks/quality_recipes.py --dry-run       # the units and which are done
    python benchmarks/quality_recipes.py --tiny          # minutes: 16 px, tiny GANs, 2 seeds, ratio 100 (plumbing)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RATIOS = (50, 100, 200)
FRACTIONS = (0.25, 0.1)
SEEDS = (0, 1, 2)
# The measured 64 px recipes (docs/studies/gan-architectures.md), and DCGAN-ADA with the ADA
# paper's geometric ops. kimg is for the whole train split: a subset GAN trains kimg * fraction ** 0.5.
GAN_RECIPES: dict[str, dict[str, Any]] = {
    "dcgan-ada": {"arch": "dcgan", "aug": "ada", "kimg": 180.0, "options": {"width": 32}},
    "dcgan-ada-bgc": {"arch": "dcgan", "aug": "ada", "kimg": 180.0, "options": {"width": 32, "ada_ops": "bgc"}},
    "stylegan2-ada": {"arch": "stylegan2", "aug": "ada", "kimg": 80.0, "options": {"width": 16}},
}
TINY_GAN = {"kimg": 0.3, "batch": 16, "options": {"width": 8, "z_dim": 16, "max_width": 16}}


@dataclass(frozen=True)
class ClsRecipe:
    """How one classifier grid takes the synthetic images: its sources, architecture and entry options."""

    sources: tuple[str, ...]
    arch: str | None = None  # None: the profile's classifier (the small CNN)
    options: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields (synthetic_weight, ...)
    optional: bool = False  # only with --with-resnet (or named in --cls-recipes)


CLS_RECIPES: dict[str, ClsRecipe] = {
    "mixed": ClsRecipe(("mixed",)),
    "synthetic-only": ClsRecipe(("synthetic",)),
    "weight-0.5": ClsRecipe(("mixed",), options={"synthetic_weight": 0.5}),
    "smoothing-0.1": ClsRecipe(("mixed",), options={"synthetic_smoothing": 0.1}),
    "pretrain": ClsRecipe(("mixed",), options={"synthetic_schedule": "pretrain"}),
    "resnet18": ClsRecipe(("mixed",), arch="resnet18", optional=True),
}
SCORE_NOTE = ("Scores are validation AUCs: each grid evaluates on the real val split (test=val), so a cell's AUC is "
              "that of its best-validation-epoch checkpoint on the images that chose the checkpoint. That is "
              "optimistic, for every recipe alike; it ranks recipes, it is not a result. The test split is never "
              "touched here.")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- configs ----------------------------------------------------------------------------------------------------------
def profile_name() -> str:
    """The quality profile once the pipeline has it; before that the cpu profile with the same explicit values."""
    from typing import get_args

    from synthmed.pipeline.config import Profile

    return "quality" if "quality" in get_args(Profile) else "cpu"


def base_config(args: argparse.Namespace, name: str = "quality-real", gan: dict[str, Any] | None = None):
    """BreastMNIST 64 at 64 px, the low-data fractions; the classifier options and budget are the profile's."""
    from synthmed.pipeline.config import build_config

    side = 16 if args.tiny else 64
    data: dict[str, Any] = {
        "name": name, "seed": 0, "device": args.device,
        "data": {"medmnist": "breastmnist", "size": 28 if args.tiny else 64, **({"resolution": 16} if args.tiny
                                                                                else {})},
        # ratio 0 is the real-only cell; the generate and filter stages size their pools for the largest ratio.
        "classify": {"real_fractions": list(args.fractions), "ratios": [0, *args.ratios], "synthetic_only": True,
                     "augment": ["none", "traditional"], "seeds": list(args.seeds), "resolution": side,
                     # how synthetic images enter training is what the classifier recipes vary: every recipe
                     # starts from plain mixing, whatever the profile has chosen since (synthetic_weight 0.5)
                     "options": {k: None for r in CLS_RECIPES.values() for k in r.options},
                     **({"epochs": 2} if args.tiny else {})},
    }
    if gan is not None:
        data["gan"] = {**gan, "resolution": side}
    if args.tiny:
        data["metrics"] = {"max_images": 60, "skip": ["frd", "inception"],
                           "options": {"msssim_pairs": 20, "kid_subsets": 10}}
    return build_config(data, profile_name(), source="benchmarks/quality_recipes.py")


def gan_config(args: argparse.Namespace, recipe: str):
    gan = {k: v for k, v in GAN_RECIPES[recipe].items()}
    if args.tiny:
        gan = {**gan, **TINY_GAN, "options": {**gan["options"], **TINY_GAN["options"]}}
    return base_config(args, f"quality-{recipe}", gan)


def gan_stages(cfg) -> list:
    """The pipeline's stages up to and including the filter: no classifier grid, statistics or report."""
    from synthmed.pipeline.stages import Scope, stages_for

    return [s for s in stages_for(cfg) if s.name == "prepare" or Scope.parse(s.name)]


# -- classifier grids -------------------------------------------------------------------------------------------------
def grid_kwargs(cfg, recipe: ClsRecipe, args: argparse.Namespace) -> dict[str, Any]:
    """run_experiment's options as the pipeline's grid sets them from ``cfg.classify``, with the recipe's."""
    from synthmed.pipeline.stages import resolve_device
    from synthmed.utils.options import given

    c = cfg.classify
    return {"real_fractions": c.real_fractions, "augments": c.augment, "seeds": c.seeds, "arch": recipe.arch or c.arch,
            "epochs": c.epochs, "batch_size": c.batch, "lr": c.lr, "budget": c.budget, "subset_seed": cfg.seed,
            "draw": cfg.generate.strategy, "images_per_run": c.images_per_run, "device": resolve_device(cfg.device),
            "workers": 1, "threads": args.threads, "progress": False, **given(c.options), **recipe.options}


def run_grid(real: Path, synthetic: dict[float, Path] | None, out: Path, ratios: list[int],
             sources: tuple[str, ...], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    from synthmed.classify.experiment import run_experiment

    val = f"{real}:val"  # also the grid's "test": recipes are chosen on validation, the test split stays unseen
    rows = run_experiment(str(real), {f: str(p) for f, p in synthetic.items()} if synthetic else None, out,
                          ratios=ratios, sources=sources, val=val, test=val, echo=say, **kwargs)
    # The folder may hold cells of an earlier invocation with other seeds or fractions: this table has its own.
    return [r for r in rows if r["seed"] in kwargs["seeds"] and r["real_fraction"] in kwargs["real_fractions"]]


def baseline_arch(recipe: ClsRecipe, cfg) -> str:
    return recipe.arch or cfg.classify.arch


def grid_cells(sources: tuple[str, ...], ratios: list[int], kwargs: dict[str, Any]) -> int:
    from synthmed.classify.experiment import grid

    return len(grid(sources, ratios, kwargs["real_fractions"], kwargs["augments"], kwargs["seeds"], kwargs["arch"]))


# -- the table --------------------------------------------------------------------------------------------------------
def condition(row: dict[str, Any]) -> str:
    aug = " + trad aug" if row["augment"] == "traditional" else ""
    if row["source"] == "real":
        return "real-only" if not aug else "real + trad aug"
    if row["source"] == "synthetic":
        return f"synthetic-only{aug}"
    return f"real + synthetic {row['ratio']:g} %{aug}"


def summarise(gan: str, cls: str, rows: list[dict[str, Any]], baselines: dict[str, list[dict[str, Any]]]
              ) -> list[dict[str, Any]]:
    """One table row per (fraction, condition): val AUC over seeds, paired differences from the baselines."""
    from synthmed.errors import SynthmedError
    from synthmed.stats.seeds import mean_sd

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["arch"], r["real_fraction"], r["source"], r["ratio"], r["augment"]), []).append(r)
    out = []
    for (arch, fraction, source, ratio, augment), runs in sorted(groups.items(), key=lambda kv: (-kv[0][1], kv[0])):
        base = {(r["augment"], r["seed"]): r for r in baselines.get(arch, []) if r["real_fraction"] == fraction}
        for r in runs:  # a mixed cell's real part must be its baseline's real images (the same subset)
            b = base.get(("none", r["seed"]))
            if source == "mixed" and b is not None and b["real_images_hash"] != r["real_images_hash"]:
                raise SynthmedError(f"{r['run_id']} ({gan}, {cls}): trained on other real images than its baseline")
        row = {"gan_recipe": gan, "classifier_recipe": cls, "arch": arch, "fraction": fraction,
               "condition": condition(runs[0]), "source": source, "ratio": ratio, "augment": augment,
               "seeds": sorted(r["seed"] for r in runs),
               "val_auc": mean_sd([r["metrics"]["auc"] for r in sorted(runs, key=lambda r: r["seed"])])}
        if checked := [abs(r["metrics"]["auc"] - r["best_val_auc"]) for r in runs if "best_val_auc" in r]:
            # The grid's evaluation on val against the val AUC training chose the checkpoint by: the same number.
            row["max_gap_to_training_val_auc"] = max(checked)
        for name, aug in (("delta_vs_real", "none"), ("delta_vs_real_trad", "traditional")):
            if source == "real" and augment == aug:  # the baseline itself
                row[name] = None
                continue
            diffs = [r["metrics"]["auc"] - base[(aug, r["seed"])]["metrics"]["auc"] for r in runs
                     if (aug, r["seed"]) in base]
            row[name] = mean_sd(diffs) if diffs else None
        out.append(row)
    return out


def best_per_fraction(rows: list[dict[str, Any]], n_seeds: int) -> dict[str, dict[str, Any] | None]:
    """Per fraction, the synthetic condition with the largest mean val AUC gain over real-only (all seeds done)."""
    best: dict[str, dict[str, Any] | None] = {}
    for fraction in sorted({r["fraction"] for r in rows}, reverse=True):
        done = [r for r in rows if r["fraction"] == fraction and r["source"] != "real" and r["delta_vs_real"]
                and r["delta_vs_real"]["n"] == n_seeds]
        best[f"{fraction:g}"] = max(done, key=lambda r: r["delta_vs_real"]["mean"]) if done else None
    return best


def _pm(block: dict[str, Any] | None, signed: bool = False) -> str:
    if not block or block["mean"] is None:
        return ""
    mean = f"{block['mean']:+.3f}" if signed else f"{block['mean']:.3f}"
    return mean + (f" ± {block['sd']:.3f}" if block["sd"] is not None else "")


def markdown(study: dict[str, Any]) -> str:
    lines = [f"# Quality recipes on BreastMNIST ({study['setting']})", "",
             f"{SCORE_NOTE} Profile `{study['profile']}`; seeds {study['seeds']}; real fractions "
             f"{', '.join(f'{f:g}' for f in study['fractions'])}, each with a GAN trained on exactly its real "
             "subset. Δ: mean over seeds of the paired difference (same seed, same real images) from the same "
             "classifier architecture's real-only / real + traditional augmentation run.", "",
             "| GAN recipe | classifier recipe | fraction | condition | seeds | val AUC mean ± sd | Δ vs real-only | "
             "Δ vs real + trad aug |", "|---|---|---|---|---|---|---|---|"]
    for r in study["rows"]:
        lines.append(f"| {r['gan_recipe']} | {r['classifier_recipe']} | {r['fraction']:g} | {r['condition']} | "
                     f"{len(r['seeds'])} | {_pm(r['val_auc'])} | {_pm(r['delta_vs_real'], True)} | "
                     f"{_pm(r['delta_vs_real_trad'], True)} |")
    lines += ["", "## Best recipe per fraction (mean val Δ vs real-only, every seed done)", ""]
    for fraction, r in study["best"].items():
        lines.append(f"- {fraction}: " + (f"{r['gan_recipe']} / {r['classifier_recipe']} / {r['condition']}: "
                                          f"{_pm(r['delta_vs_real'], True)}" if r else "none finished yet"))
    lines += ["", "## GAN recipes", "", "| recipe | arch | aug | kimg (whole split) | options | grid notes |",
              "|---|---|---|---|---|---|"]
    for name, g in study["gan_recipes"].items():
        gan = g["config"]["gan"]
        options = {k: v for k, v in gan["options"].items() if v is not None}
        lines.append(f"| {name} | {gan['arch']} | {gan['aug']} | {gan['kimg']:g} | {options} | "
                     f"{'; '.join(g.get('grid_notes', [])) or ('not trained yet' if not g.get('done') else '')} |")
    lines += ["", "## Classifier recipes", "", "| recipe | sources | arch | options |", "|---|---|---|---|"]
    for name, c in study["classifier_recipes"].items():
        lines.append(f"| {name} | {', '.join(c['sources'])} | {c['arch'] or 'profile'} | {c['options'] or ''} |")
    return "\n".join(lines) + "\n"


# -- main -------------------------------------------------------------------------------------------------------------
class Study:
    """The units of one invocation: the real data, each GAN recipe's pipeline folder and every grid folder."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.work, self.results = args, Path(args.work), Path(args.results)
        self.base = base_config(args)
        self.gan_cfgs = {g: gan_config(args, g) for g in args.gan_recipes}
        self.cls = {c: CLS_RECIPES[c] for c in args.cls_recipes}
        self.archs = list(dict.fromkeys(baseline_arch(r, self.base) for r in self.cls.values()))

    def gan_folder(self, gan: str) -> Path:
        return self.work / "gans" / gan

    def grid_folder(self, gan: str | None, cls: str) -> Path:
        return self.work / "classifiers" / (f"baseline-{cls}" if gan is None else f"{gan}--{cls}")

    def baseline_kwargs(self, arch: str) -> dict[str, Any]:
        return grid_kwargs(self.base, ClsRecipe(("real",), arch=arch), self.args)

    def real(self) -> Path:
        from synthmed.pipeline.main import run_pipeline
        from synthmed.pipeline.outputs import run_outputs

        out = self.work / "real"
        run_pipeline(self.base, out, echo=say, stages=gan_stages(self.base)[:1])  # prepare only
        return run_outputs(self.base, out).real_dataset

    def at_real_resolution(self, cfg, real, sets: dict[float, Path]) -> dict[float, Path]:
        """The synthetic sets at the classifiers' size, resized as the pipeline's grid does (a no-op at 64 px, where
        the GAN makes the prepared size; a GAN trains at 32 px at least, so the tiny run's 16 px needs it)."""
        from synthmed.dataset import PreparedDataset
        from synthmed.prepare.resize import resized_view

        return {f: resized_view(PreparedDataset.open(p), self.work / "views", real.resolution,
                                cfg.data.resize_filter).root for f, p in sets.items()}

    def dry_run(self) -> None:
        from synthmed.classify.experiment import collect_rows
        from synthmed.pipeline.runner import plan

        print(f"work {self.work}; results {self.results}; profile {profile_name()}")
        prepare = plan(gan_stages(self.base)[:1], self.base, (self.work / "real").absolute())[0]
        print(f"real data: prepare {prepare.status}")
        for arch in self.archs:
            kw = self.baseline_kwargs(arch)
            done = len(collect_rows(self.grid_folder(None, arch)))
            print(f"baseline-{arch}: {done} of {grid_cells(('real',), [0], kw)} cells done")
        for gan, cfg in self.gan_cfgs.items():
            planned = plan(gan_stages(cfg), cfg, self.gan_folder(gan).absolute())
            pending = [f"{p.name} ({p.status})" for p in planned if p.status not in ("cached", "skipped")]
            print(f"GAN {gan}: {len(planned) - len(pending)} of {len(planned)} stages done"
                  + (f"; to do: {', '.join(pending)}" if pending else ""))
            for cls, recipe in self.cls.items():
                kw = grid_kwargs(cfg, recipe, self.args)
                done = len(collect_rows(self.grid_folder(gan, cls)))
                print(f"  {gan}--{cls}: {done} of {grid_cells(recipe.sources, self.args.ratios, kw)} cells done "
                      "(up to: the filter may leave a ratio out)")

    def run(self) -> dict[str, Any]:
        from synthmed.dataset import PreparedDataset
        from synthmed.errors import SynthmedError
        from synthmed.pipeline.main import run_pipeline
        from synthmed.pipeline.outputs import run_outputs
        from synthmed.pipeline.stages import feasible_grid

        real = self.real()
        baselines = {arch: run_grid(real, None, self.grid_folder(None, arch), [0], ("real",),
                                    self.baseline_kwargs(arch)) for arch in self.archs}
        study = self.study(baselines)
        self.write(study)
        for gan, cfg in self.gan_cfgs.items():
            say(f"GAN recipe {gan}: the pipeline's stages up to the filter in {self.gan_folder(gan)}")
            run_pipeline(cfg, self.gan_folder(gan), echo=say, stages=gan_stages(cfg))
            outputs, mine = run_outputs(cfg, self.gan_folder(gan)), PreparedDataset.open(real)
            sets = self.at_real_resolution(cfg, mine, outputs.synthetic_sets())
            # Its subsets are drawn from its own prepared copy with the same seed: the same images only if the
            # copies are the same (the grids' real part is ``real``; summarise checks each cell against its baseline).
            if PreparedDataset.open(outputs.real_dataset).content_hash != mine.content_hash:
                raise SynthmedError(f"{self.gan_folder(gan)}: its prepared BreastMNIST differs from {real}")
            ratios, synthetic_only, notes = feasible_grid(cfg, mine, {f: PreparedDataset.open(p)
                                                                       for f, p in sets.items()})
            for note in notes:
                say(f"{gan}: {note}")
            study["gan_recipes"][gan].update(done=True, grid_notes=notes,
                                             synthetic_sets={f"{f:g}": str(p) for f, p in sets.items()})
            kept = [r for r in ratios if r > 0]
            for cls, recipe in self.cls.items():
                if (recipe.sources == ("synthetic",) and not synthetic_only) or ("mixed" in recipe.sources
                                                                                   and not kept):
                    notes.append(f"classifier recipe {cls} left out: not enough synthetic images")
                    say(f"{gan}: {notes[-1]}")
                    continue
                rows = run_grid(real, sets, self.grid_folder(gan, cls), kept or [0], recipe.sources,
                                grid_kwargs(cfg, recipe, self.args))
                study["rows"] += summarise(gan, cls, rows, baselines)
                self.write(study)
        return study

    def study(self, baselines: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        table = [r for arch, b in baselines.items() for r in summarise("—", f"baseline-{arch}", b, baselines)]
        return {"setting": "tiny (plumbing check, not a result)" if self.args.tiny else "full", "scored_on": "val",
                "note": SCORE_NOTE, "profile": profile_name(), "seeds": list(self.args.seeds),
                "fractions": list(self.args.fractions), "rows": table,
                "gan_recipes": {g: {"recipe": GAN_RECIPES[g], "config": cfg.model_dump(mode="json"), "done": False}
                                for g, cfg in self.gan_cfgs.items()},
                "classifier_recipes": {c: {"sources": list(r.sources), "arch": r.arch, "options": r.options}
                                       for c, r in self.cls.items()}}

    def write(self, study: dict[str, Any]) -> None:
        from synthmed.utils.atomic import write_json, write_text

        study["best"] = best_per_fraction(study["rows"], len(self.args.seeds))
        write_json(self.results / "recipes.json", study)
        write_text(self.results / "recipes.md", markdown(study))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gan-recipes", default=",".join(GAN_RECIPES), help=f"comma list of {', '.join(GAN_RECIPES)}")
    p.add_argument("--cls-recipes", default=",".join(k for k, r in CLS_RECIPES.items() if not r.optional),
                   help=f"comma list of {', '.join(CLS_RECIPES)}")
    p.add_argument("--with-resnet", action="store_true", help="add the resnet18 classifier recipe (slower)")
    p.add_argument("--fractions", default=",".join(f"{f:g}" for f in FRACTIONS))
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    p.add_argument("--threads", type=int, default=1, help="torch threads (GAN and classifiers, one run at a time)")
    p.add_argument("--device", default="auto")
    p.add_argument("--work", help="large outputs (default benchmarks/_out/quality, with --tiny _out/quality-tiny)")
    p.add_argument("--results", help="recipes.json/.md (default benchmarks/results/quality; with --tiny under --work)")
    p.add_argument("--tiny", action="store_true",
                   help="minutes: 16 px, tiny GANs, 2 seeds, ratio 100 only (results under --work)")
    p.add_argument("--dry-run", action="store_true", help="print the units and which are done; run nothing")
    args = p.parse_args(argv)
    args.ratios = list(RATIOS)
    args.work = args.work or str(HERE / "_out" / ("quality-tiny" if args.tiny else "quality"))
    args.results = args.results or str(Path(args.work) / "results" if args.tiny else HERE / "results" / "quality")
    if args.tiny:
        args.seeds = "0,1"
        args.ratios = [100]  # one ratio: the tiny run proves the plumbing, every cell costs minutes on a busy CPU
    args.gan_recipes = [g for g in args.gan_recipes.split(",") if g]
    args.cls_recipes = [c for c in args.cls_recipes.split(",") if c]
    if args.with_resnet and "resnet18" not in args.cls_recipes:
        args.cls_recipes.append("resnet18")
    for what, names, known in (("GAN", args.gan_recipes, GAN_RECIPES), ("classifier", args.cls_recipes, CLS_RECIPES)):
        if unknown := [n for n in names if n not in known]:
            p.error(f"unknown {what} recipe(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    args.fractions = sorted({float(f) for f in args.fractions.split(",")}, reverse=True)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    return args


def main(argv: list[str] | None = None) -> None:
    import torch

    from synthmed.errors import SynthmedError

    args = parse(argv)
    torch.set_num_threads(args.threads)  # the sums' order depends on the thread count; one shares the CPU fairly
    try:
        study = Study(args)
        if args.dry_run:
            study.dry_run()
            return
        result = study.run()
    except SynthmedError as err:
        raise SystemExit(f"error: {err}") from None
    study.write(result)
    say(f"wrote {Path(args.results) / 'recipes.json'} and {Path(args.results) / 'recipes.md'}")
    for fraction, r in result["best"].items():
        say(f"best at fraction {fraction}: " + (f"{r['gan_recipe']} / {r['classifier_recipe']} / {r['condition']}, "
                                                f"val Δ vs real-only {_pm(r['delta_vs_real'], True)}"
                                                if r else "none finished"))


if __name__ == "__main__":
    main()
