"""Your own folder of images through the cpu profile: wall and CPU time per stage, as JSON.

Builds a folder of ``--side`` x ``--side`` PNGs, one subfolder per class, from the RBC crops
(``../shared/data/rbc``, 48 px, six cell types) upscaled with Lanczos: the shape of a typical clinical export (a folder
of 256x256 images per class) with real image content. Then runs ``synthmed run`` with the cpu profile on it
(``data: {folder: ...}``; the prepared resolution is the images' 256, the GAN and classifiers train at 32, the
cpu profile's cap) and prints each stage's time from its ``done.json``. The run folder resumes: a second call
reuses what is done, so time it with an empty ``--out``.

    OMP_NUM_THREADS=1 python benchmarks/own_data.py                     # the full cpu profile (the lead times it)
    OMP_NUM_THREADS=1 python benchmarks/own_data.py --tiny --per-class 40   # proves it works in a few minutes
    OMP_NUM_THREADS=1 python benchmarks/own_data.py --csv ../shared/data/rbc/labels.csv   # the RBC CSV itself
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
RBC = REPO.parent / "shared" / "data" / "rbc"
TINY = {"gan": {"kimg": 0.3}, "generate": {"per_class": 24},
        "metrics": {"max_images": 60, "skip": ["frd", "inception"]},
        "classify": {"epochs": 1, "seeds": [0], "ratios": [0, 50], "real_fractions": [1.0], "augment": ["none"],
                     "synthetic_only": False}}


def make_folder(out: Path, side: int, per_class: int | None) -> int:
    """``out/<class>/<name>.png`` at ``side`` px from the RBC crops; reuses a folder made with the same settings."""
    marker = out / ".made.json"
    settings = {"side": side, "per_class": per_class}
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return sum(1 for _ in out.glob("*/*.png"))
    n = 0
    for class_dir in sorted(p for p in RBC.iterdir() if p.is_dir()):
        files = sorted(class_dir.glob("*.png"))[:per_class]
        (out / class_dir.name).mkdir(parents=True, exist_ok=True)
        for path in files:
            with Image.open(path) as im:
                im.convert("RGB").resize((side, side), Image.Resampling.LANCZOS).save(out / class_dir.name / path.name)
            n += 1
    marker.write_text(json.dumps(settings))
    return n


def stage_times(run_dir: Path) -> dict:
    from synthmed.pipeline.runner import RunRecord, StageRecord

    run = RunRecord.load(run_dir)
    finished = run.finished_stages(run_dir)
    times = {}
    for p in run.plan:
        if p.stage in finished:
            record = StageRecord.load(finished[p.stage])
            times[p.stage] = {"seconds": record.seconds, "cpu_seconds": record.cpu_seconds}
        else:
            times[p.stage] = {"status": p.status}
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "_out" / "own_data")
    parser.add_argument("--side", type=int, default=256, help="Side of the made PNGs.")
    parser.add_argument("--per-class", type=int, default=None, help="At most this many images per class.")
    parser.add_argument("--csv", type=Path, default=None, help="Run on this CSV instead of a made folder.")
    parser.add_argument("--tiny", action="store_true", help="A few-minute run: short GAN, one classifier seed.")
    args = parser.parse_args()

    from synthmed.pipeline.config import build_config
    from synthmed.pipeline.main import run_pipeline
    from synthmed.report.build import published_results

    if args.csv is not None:
        data, images = {"csv": str(args.csv.absolute())}, None
    else:
        folder = args.out / f"images-{args.side}"
        start = time.monotonic()
        images = {"n": make_folder(folder, args.side, args.per_class), "side": args.side,
                  "seconds_to_make": round(time.monotonic() - start, 1)}
        data = {"folder": str(folder.absolute())}
    overrides = TINY if args.tiny else {}
    cfg = build_config({"name": "own-data", "data": data, **overrides}, "cpu", source="benchmark")
    run_dir = args.out / ("run-tiny" if args.tiny else "run") / (args.csv.stem if args.csv else f"folder-{args.side}")
    lines: list[str] = []
    start = time.monotonic()
    run_pipeline(cfg, run_dir, echo=lambda line: (lines.append(line), print(line, file=sys.stderr)))
    total = time.monotonic() - start
    results = published_results(run_dir) or {}
    print(json.dumps({"source": data, "images": images, "tiny": args.tiny, "run": str(run_dir),
                      "wall_seconds": round(total, 1), "stages": stage_times(run_dir),
                      "note": "cpu_seconds count the stage's own process: the classifier grid's worker "
                              "processes are not in classify's",
                      "resolutions": results.get("resolutions"),
                      "cached": [line for line in lines if " cached " in line]}, indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
