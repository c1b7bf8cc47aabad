"""Read an experiment folder: ``results.jsonl`` rows and their per-run prediction CSVs.

A row (written by ``synthmed.classify.experiment``) names its configuration (source, ratio, real_fraction,
augment, arch), its seed, its positive class and a predictions CSV with columns
``index,label,pred,score_0..score_{K-1}`` (softmax probabilities), relative to the experiment folder.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthmed.errors import BadInputError, SynthmedError

RESULTS_FILE = "results.jsonl"


@dataclass(frozen=True, order=True)
class ConfigKey:
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


@dataclass
class Run:
    key: ConfigKey
    seed: int
    run_id: str
    positive_class: int
    threshold: float
    predictions: Path
    line: int


@dataclass
class Predictions:
    path: Path
    index: np.ndarray
    label: np.ndarray
    pred: np.ndarray
    scores: np.ndarray  # (N, K)
    notes: list[str] = field(default_factory=list)


def results_path(results: str | Path) -> Path:
    """The results.jsonl of an experiment folder (or the file itself)."""
    path = Path(results)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise BadInputError(path, f"not found (expected an experiment folder with {RESULTS_FILE})")
    return path


def _number(row: dict, name: str, default: float, path: Path, line: int) -> float:
    value = row.get(name, default)
    if value is None:
        return default
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        raise BadInputError(path, f"line {line}: {name} is not a number: {value!r}") from None


def load_runs(results: str | Path) -> tuple[Path, list[Run], list[str]]:
    """Parse results.jsonl; a later row for the same (configuration, seed) replaces an earlier one."""
    path = results_path(results)
    runs: dict[tuple[ConfigKey, int], Run] = {}
    notes: list[str] = []
    for line_no, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(path, f"line {line_no}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise BadInputError(path, f"line {line_no}: expected a JSON object")
        missing = [k for k in ("source", "seed", "predictions") if row.get(k) is None]
        if missing:
            raise BadInputError(path, f"line {line_no}: missing {', '.join(missing)}")
        key = ConfigKey(str(row["source"]), _number(row, "ratio", 0.0, path, line_no),
                        _number(row, "real_fraction", 1.0, path, line_no), str(row.get("augment") or "none"),
                        str(row.get("arch") or ""))
        metrics = row.get("metrics") or {}
        pred_path = Path(row["predictions"])
        # Multi-class rows carry no positive class or threshold: one-vs-rest for class 1, argmax decisions.
        positive = row.get("positive_class")
        threshold = metrics.get("threshold")
        seed = int(_number(row, "seed", 0, path, line_no))
        run = Run(key=key, seed=seed, run_id=str(row.get("run_id", f"line{line_no}")),
                  positive_class=1 if positive is None else int(positive),
                  threshold=0.5 if threshold is None else float(threshold),
                  predictions=pred_path if pred_path.is_absolute() else path.parent / pred_path, line=line_no)
        if (key, run.seed) in runs:
            notes.append(f"{path.name} line {line_no}: replaces an earlier row of {key.label()} seed {run.seed}")
        runs[(key, run.seed)] = run
    if not runs:
        raise BadInputError(path, "no result rows")
    return path, list(runs.values()), notes


def read_predictions(path: Path) -> Predictions:
    """Read one predictions CSV, sorted by its index column."""
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
    order = np.argsort(table[:, 0], kind="stable")
    table = table[order]
    index = table[:, 0].astype(np.int64)
    if np.unique(index).size != index.size:
        raise BadInputError(path, "repeated values in the index column")
    return Predictions(path=path, index=index, label=table[:, 1].astype(np.int64),
                       pred=table[:, 2].astype(np.int64), scores=table[:, 3:])


def check_same_cases(a: Predictions, b: Predictions) -> None:
    """Paired tests need the same test images with the same labels, in the same order (by index)."""
    if a.index.shape != b.index.shape or not np.array_equal(a.index, b.index):
        raise BadInputError(a.path, f"index column does not match {b.path} (not the same test images)")
    if not np.array_equal(a.label, b.label):
        raise BadInputError(a.path, f"labels differ from {b.path} for the same test images")
    if a.scores.shape[1] != b.scores.shape[1]:
        raise BadInputError(a.path, f"{a.scores.shape[1]} score columns but {b.path} has {b.scores.shape[1]}")


def check_positive_class(runs: list[Run], k: int) -> int:
    """All runs of a comparison must score the same positive class, and it must exist."""
    classes = {r.positive_class for r in runs}
    if len(classes) != 1:
        raise SynthmedError(f"runs {', '.join(r.run_id for r in runs)} disagree on the positive class: {classes}")
    positive = classes.pop()
    if not 0 <= positive < k:
        raise BadInputError(runs[0].predictions, f"positive class {positive} but only {k} score columns")
    return positive
