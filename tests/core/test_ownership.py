"""Each stage package owns its output files: no other module reads or writes them by name.

Outside the owner, a stage's output is reached through the owner's typed record (``FilterResult.load``,
``StageRecord``, ``PreparedDataset.exists`` ...), so renaming a file or a field is one edit in one package.
The check reads every module of ``src/synthmed`` and ``benchmarks`` as Python and looks at its string literals
(docstrings and messages that merely mention a file are sentences, not names, and pass).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "synthmed"

OWNERS = {
    "done.json": "pipeline", "run.json": "pipeline", "filter.json": "filter", "metrics.json": "metrics",
    "stats.json": "stats", "results.jsonl": "classify", "dataset.json": "dataset.py", "results.json": "report",
    "report.html": "report",
}
CHAIN = ("subset", "gan", "generate", "metrics", "filter")


def _modules() -> list[Path]:
    return sorted([*SRC.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")])


def _owner(path: Path) -> str:
    """The package (or top-level module) of ``src/synthmed`` a file belongs to; benchmarks own nothing."""
    return path.relative_to(SRC).parts[0] if path.is_relative_to(SRC) else "benchmarks"


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def _names_a_file(text: str, name: str) -> bool:
    return text == name or text.endswith("/" + name)


def test_no_module_reads_another_packages_files_by_name() -> None:
    misplaced = [f"{path.relative_to(ROOT)}:{line}: {text!r} belongs to {OWNERS[name]}"
                 for path in _modules() for line, text in _literals(path) for name in OWNERS
                 if _names_a_file(text, name) and _owner(path) != OWNERS[name]]
    assert not misplaced, "\n".join(misplaced)


def test_only_the_pipeline_spells_scoped_stage_names() -> None:
    """``gan-f0.25`` and friends are ``pipeline.stages.Scope``'s; others parse them with ``Scope.parse``."""
    spelled = [f"{path.relative_to(ROOT)}:{line}: {text!r}" for path in _modules() if _owner(path) != "pipeline"
               for line, text in _literals(path) if any(text.startswith(f"{s}-f") for s in CHAIN)]
    assert not spelled, "\n".join(spelled)


@pytest.mark.parametrize("name", sorted(OWNERS))
def test_the_owner_declares_the_name_once(name: str) -> None:
    """Each name is one constant in its owner (a record's FILE, the dataset's MANIFEST ...)."""
    owner = SRC / OWNERS[name]
    files = [owner] if owner.suffix == ".py" else sorted(owner.rglob("*.py"))
    uses = [(path, line) for path in files for line, text in _literals(path) if _names_a_file(text, name)]
    assert len(uses) == 1, uses
