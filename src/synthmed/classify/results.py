"""The classifier grid's outputs as typed objects: a grid cell, a result row and its predictions.

``results.jsonl`` (written by ``synthmed.classify.experiment``) holds one row per finished run; each row
names its cell (source, ratio, real_fraction, augment, arch), its seed, its positive class (None with more
than two classes) and a predictions CSV with columns ``index,label,pred,score_0..score_{K-1}`` (softmax
probabilities), relative to the experiment folder. Statistics and the report read them only through
``load_results`` and ``read_predictions``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthmed.errors import BadInputError

RESULTS_FILE = "results.jsonl"
_SOURCE_ORDER = {"real": 0, "mixed": 1, "synthetic": 2}


@dataclass(frozen=True, order=True)
class Cell:
    """One cell of the experiment grid; its runs differ only by seed."""

    source: str
    ratio: float
    real_fraction: float
    augment: str
    arch: str

    def to_dict(self) -> dict:
        return {"source": self.source, "ratio": self.ratio, "real_fraction": self.real_fraction,
                "augment": self.augment, "arch": self.arch}

    def label(self) -> str:
        """Short name for tables, e.g. 'mixed r=100% rf=0.5 aug=traditional resnet18'."""
        parts = [self.source]
        if self.source != "real":
            parts.append(f"r={self.ratio:g}%")
        parts += [f"rf={self.real_fraction:g}", f"aug={self.augment}"]
        if self.arch:
            parts.append(self.arch)
        return " ".join(parts)

    def words(self) -> str:
        """Name for sentences, e.g. 'synthetic-only (ratio 100 %)'."""
        base = {"real": "real-only", "synthetic": "synthetic-only", "mixed": "real + synthetic"}.get(
            self.source, self.source)
        extras = [f"ratio {self.ratio:g} %"] if self.source != "real" else []
        if self.real_fraction != 1:
            extras.append(f"{self.real_fraction:g} of the real images")
        if self.augment != "none":
            extras.append(f"{self.augment} augmentation")
        return f"{base} ({', '.join(extras)})" if extras else base

    def report_order(self) -> tuple:
        """Real first, then mixed by ratio, then synthetic-only; all real data before less; no augmentation first."""
        return (_SOURCE_ORDER.get(self.source, 3), self.ratio, -self.real_fraction, self.augment != "none", self.arch)


@dataclass
class ResultRow:
    """One finished run of the grid. ``row`` is the line as written (every field, e.g. training counts)."""

    cell: Cell
    seed: int
    run_id: str
    metrics: dict[str, Any]
    positive_class: int | None
    predictions: Path  # absolute
    line: int
    row: dict[str, Any] = field(repr=False)

    @property
    def threshold(self) -> float | None:
        """The binary decision threshold chosen on validation (None: argmax over classes)."""
        value = self.metrics.get("threshold")
        return None if value is None else float(value)

    @property
    def val_auc(self) -> float | None:
        """The validation AUC (macro one-vs-rest with K > 2) of the epoch the run kept, for choosing among cells
        on validation; None in rows written before the grid recorded it (or when it was undefined)."""
        value = self.row.get("best_val_auc")
        return None if value is None or not math.isfinite(float(value)) else float(value)


@dataclass
class Predictions:
    path: Path
    index: np.ndarray
    label: np.ndarray
    pred: np.ndarray
    scores: np.ndarray  # (N, K)


def results_path(results: str | Path) -> Path:
    """The results.jsonl of an experiment folder (or the file itself)."""
    path = Path(results)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise BadInputError(path, f"not found (expected an experiment folder with {RESULTS_FILE})")
    return path


def results_exist(results: str | Path) -> bool:
    """Whether an experiment folder (or file) has results to load."""
    path = Path(results)
    return (path / RESULTS_FILE if path.is_dir() else path).is_file()


def _number(row: dict, name: str, default: float, path: Path, line: int) -> float:
    value = row.get(name, default)
    if value is None:
        return default
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        raise BadInputError(path, f"line {line}: {name} is not a number: {value!r}") from None


def _parse(text: str, path: Path, line: int) -> ResultRow:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(path, f"line {line}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise BadInputError(path, f"line {line}: expected a JSON object")
    missing = [k for k in ("source", "seed", "predictions") if row.get(k) is None]
    if missing:
        raise BadInputError(path, f"line {line}: missing {', '.join(missing)}")
    cell = Cell(str(row["source"]), _number(row, "ratio", 0.0, path, line),
                _number(row, "real_fraction", 1.0, path, line), str(row.get("augment") or "none"),
                str(row.get("arch") or ""))
    pred = Path(row["predictions"])
    positive = row.get("positive_class")
    return ResultRow(cell=cell, seed=int(_number(row, "seed", 0, path, line)),
                     run_id=str(row.get("run_id", f"line{line}")), metrics=row.get("metrics") or {},
                     positive_class=None if positive is None else int(positive),
                     predictions=pred if pred.is_absolute() else path.parent / pred, line=line, row=row)


def load_results(results: str | Path) -> tuple[Path, list[ResultRow], list[str]]:
    """Parse results.jsonl: (its path, the rows, notes); a later row for the same (cell, seed) replaces an
    earlier one (a re-run), with a note."""
    path = results_path(results)
    rows: dict[tuple[Cell, int], ResultRow] = {}
    notes: list[str] = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        row = _parse(text, path, line)
        if (row.cell, row.seed) in rows:
            notes.append(f"{path.name} line {line}: replaces an earlier row of {row.cell.label()} seed {row.seed}")
        rows[(row.cell, row.seed)] = row
    if not rows:
        raise BadInputError(path, "no result rows")
    return path, list(rows.values()), notes


def read_predictions(path: str | Path) -> Predictions:
    """Read one predictions CSV, sorted by its index column; every malformed file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "predictions file not found")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        rows = list(reader)
    if not header or header[:3] != ["index", "label", "pred"]:
        raise BadInputError(path, "expected columns index,label,pred,score_0,...")
    k = len(header) - 3
    if k < 2 or header[3:] != [f"score_{i}" for i in range(k)]:
        raise BadInputError(path, "expected score columns score_0..score_{K-1} after index,label,pred")
    if not rows:
        raise BadInputError(path, "no prediction rows")
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError:
        raise BadInputError(path, "non-numeric or ragged rows") from None
    if table.ndim != 2 or table.shape[1] != len(header) or not np.isfinite(table).all():
        raise BadInputError(path, "ragged rows or NaN values")
    table = table[np.argsort(table[:, 0], kind="stable")]
    index = table[:, 0].astype(np.int64)
    if np.unique(index).size != index.size:
        raise BadInputError(path, "repeated values in the index column")
    return Predictions(path=path, index=index, label=table[:, 1].astype(np.int64),
                       pred=table[:, 2].astype(np.int64), scores=table[:, 3:])
