"""Read each stage's output folder into the numbers of the report (``results.json`` is exactly this).

Every function takes a stage's output (a folder or its typed record) and returns plain JSON data; missing
pieces become a ``missing`` reason that the report prints instead of leaving a gap.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from synthmed.classify.results import ResultRow
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.gan.archs import get_arch
from synthmed.gan.run import GanRun
from synthmed.prepare.info import describe
from synthmed.stats.table import flat_row


def dataset_summary(dataset: Path) -> dict:
    return describe(PreparedDataset.open(dataset))


def gan_training(run_dir: Path) -> dict:
    """The generator's options, family and per-tick stats, plus the latest sample grid's path (read through
    ``GanRun``)."""
    run = GanRun(Path(run_dir))
    rows = run.stats()
    latest = run.latest_grid()
    options = run.options()
    return {"options": options, "family": family_of(options.get("arch")), "ticks": rows,
            "final": rows[-1] if rows else None, "latest_grid": str(latest) if latest else None}


def family_of(arch: str | None) -> dict:
    """The generator family that made the images: its name and one-line summary (name only when no longer
    registered)."""
    try:
        return {"name": arch, "summary": get_arch(arch).summary}
    except SynthmedError:
        return {"name": arch or "?", "summary": ""}


def steps_per_fraction(rows: list[ResultRow]) -> dict[str, list[int]]:
    """The distinct optimizer-step counts of the runs of each real fraction (rows without the count left out)."""
    out: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        if r.row.get("steps") is not None:
            out[f"{r.cell.real_fraction:g}"].add(int(r.row["steps"]))
    return {f: sorted(v) for f, v in sorted(out.items(), key=lambda kv: -float(kv[0]))}


def stats_table(stats: dict) -> list[dict]:
    return [flat_row(c) for c in stats.get("comparisons", [])]
