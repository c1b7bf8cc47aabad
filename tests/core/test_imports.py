"""Imports sit at the top of a module; one inside a function says why it waits.

A function-level import in ``src/synthmed`` passes when

- its module's role makes it lazy (``LAZY_MODULES``, each with its reason) and the import keeps something out of
  ``synthmed --help``: an import of a module that start-up loads anyway gains nothing and belongs at the top;
- it imports an optional dependency (``pyproject.toml``'s optional extras), which may be missing;
- it closes an import cycle: the imported module reaches the importing one through module-level imports (read
  from the source, so an excuse ends with its cycle); or
- a ``# lazy: <why>`` comment sits on its line or in the comment right above it (a heavy library on a branch few
  callers take).

``synthmed --help`` and every command's ``--help`` load none of ``HEAVY``: the commands import their stage's
modules when they run. The ``TORCH_FREE`` modules load no torch (the reason several ``# lazy:`` comments give).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "synthmed"

START_UP = ("synthmed --help imports it (cli.COMMAND_MODULES and the option models they declare their options "
            "with); what a command needs to run is imported when it runs")
# Module globs (relative to src/synthmed) whose function-level imports may wait, and why.
LAZY_MODULES = {
    "cli.py": START_UP,
    "*/commands.py": START_UP,
    "*/options.py": START_UP,
    "gan/arch_options.py": START_UP,
    "prepare/readers.py": START_UP + " (prepare.options checks its values with it)",
    "prepare/splitting.py": START_UP + " (prepare.options checks its values with it)",
    "gan/archs/__init__.py": START_UP + " (the family registry; families load on first use)",
    "gan/archs/*/__init__.py": "a family's torch-free declaration (name, summary, options), which the config "
                               "and the CLI read without building its networks",
}
# Libraries a plain ``synthmed --help`` must not load.
HEAVY = ("torch", "torchvision", "monai", "timm", "torchmetrics", "torch_fidelity", "frd_score", "radiomics",
         "SimpleITK", "scipy", "sklearn", "statsmodels", "matplotlib", "skimage", "medmnist", "pydicom", "nibabel",
         "ray", "fastapi", "uvicorn", "sqlalchemy", "jinja2", "tensorboard")
# Modules used without torch: datasets are prepared, read by the statistics and shown in the reader study (with
# mask outlines), and a config is written and checked, all without loading torch.
TORCH_FREE = ("synthmed.dataset", "synthmed.prepare.run", "synthmed.lesion.masks", "synthmed.stats.compare",
              "synthmed.reader_study.app", "synthmed.reader_study.create", "synthmed.pipeline.config",
              "synthmed.docs_reference")
LAZY_COMMENT = re.compile(r"#\s*lazy:\s*\S")


@dataclass(frozen=True)
class LocalImport:
    path: Path  # the file
    line: int
    targets: tuple[str, ...]  # the modules it loads (``from a.b import c``: a.b, or a.b.c when that is a module)

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: import of {', '.join(self.targets)}"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> tuple[str, ...]:
    if isinstance(node, ast.Import):
        return tuple(alias.name for alias in node.names)
    base = node.module or ""
    if node.level:  # relative: resolved against the importing package
        package = importer if is_package else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    submodules = tuple(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in all_modules())
    return submodules or (base,)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def scan(source: str, path: Path, name: str) -> tuple[list[LocalImport], set[str]]:
    """(imports inside functions, modules imported at module level) of one module's source."""
    tree = ast.parse(source, filename=str(path))
    is_package = path.name == "__init__.py"
    local: list[LocalImport] = []
    top: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and not in_function and _is_type_checking(child):
                continue  # never executed
            if isinstance(child, ast.Import | ast.ImportFrom):
                targets = _targets(child, name, is_package)
                if in_function:
                    local.append(LocalImport(path, child.lineno, targets))
                else:
                    top.update(targets)
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(tree, False)
    return local, top


@cache
def graph() -> dict[str, set[str]]:
    """Module-level imports between synthmed's modules (a package's ``__init__`` runs before its submodules)."""
    edges: dict[str, set[str]] = {}
    for name, path in all_modules().items():
        _, top = scan(path.read_text(encoding="utf-8"), path, name)
        out = edges.setdefault(name, set())
        for target in top:
            parts = target.split(".")
            out.update(m for m in (".".join(parts[:k]) for k in range(1, len(parts) + 1)) if m in all_modules())
    return edges


def reaches(start: str, goal: str, edges: dict[str, set[str]]) -> bool:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, ()))
    return False


@cache
def start_up_modules() -> frozenset[str]:
    """Every module loaded once the CLI is built and each command has printed its ``--help``."""
    code = ("import contextlib, io, json, sys\n"
            "import typer.main\n"
            "from synthmed import cli\n"
            "for verb in [None, *typer.main.get_command(cli.app).commands]:\n"
            "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "        cli.main([verb, '--help'] if verb else ['--help'])\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return frozenset(json.loads(out))


@cache
def optional_dependencies() -> frozenset[str]:
    """Top-level import names of the distributions only pyproject's optional extras require."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def dist(requirement: str) -> str:
        return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")

    required = {dist(r) for r in project["dependencies"]}
    optional = {dist(r) for extra in project["optional-dependencies"].values() for r in extra} - required
    provided = importlib.metadata.packages_distributions()
    names = {top for top, dists in provided.items() if any(d.lower().replace("_", "-") in optional for d in dists)}
    return frozenset(names | {d.replace("-", "_") for d in optional})


def lazy_role(path: Path) -> str | None:
    relative = path.relative_to(PACKAGE).as_posix()
    return next((why for pattern, why in LAZY_MODULES.items() if fnmatch(relative, pattern)), None)


def unexplained(imports: list[LocalImport], lines: list[str], importer: str, role: str | None,
                start_up: frozenset[str], edges: dict[str, set[str]]) -> list[LocalImport]:
    """The function-level imports of one module that no rule excuses (``edges``: the module-level import graph)."""

    def commented(line: int) -> bool:
        """A ``# lazy:`` on the import's line, on the line above (``try:  # lazy: ...``) or in the comment lines
        right above it."""
        first = line - 2  # the line above, 0-based
        while first > 0 and lines[first - 1].lstrip().startswith("#"):
            first -= 1
        return any(LAZY_COMMENT.search(text) for text in lines[max(first, 0):line])

    def excused(imp: LocalImport) -> bool:
        return bool(
            commented(imp.line)
            or all(t.split(".")[0] in optional_dependencies() for t in imp.targets)
            or any(reaches(t, importer, edges) for t in imp.targets)
            or (role is not None and any(t not in start_up for t in imp.targets)))

    return [imp for imp in imports if not excused(imp)]


def all_unexplained() -> list[LocalImport]:
    found = []
    for name, path in all_modules().items():
        source = path.read_text(encoding="utf-8")
        local, _ = scan(source, path, name)
        found += unexplained(local, source.splitlines(), name, lazy_role(path), start_up_modules(), graph())
    return found


def test_every_import_inside_a_function_says_why() -> None:
    found = all_unexplained()
    assert not found, "imports inside functions without a reason (move them to the top, or see this file's " \
                      "docstring):\n" + "\n".join(map(str, found))


SNIPPET = '''\
import os


def plain():
    import json  # no reason: belongs at the top
    return json


def commented():
    # lazy: scipy only for the rare exact test,
    # which few runs take
    import scipy
    import sklearn  # lazy: the same
    return scipy, sklearn


def cycle():
    from synthmed.report.build import build_report
    return build_report


def no_cycle():
    from synthmed.stats.headline import headline
    return headline


def optional():
    import psycopg
    return psycopg


def started_anyway():
    import typer
    return typer


def heavy():
    import torch
    return torch
'''


def test_the_rule_flags_an_unexplained_import_and_passes_the_excused_ones() -> None:
    name = "synthmed.pipeline.stages"
    local, _ = scan(SNIPPET, PACKAGE / "pipeline" / "stages.py", name)
    lines = SNIPPET.splitlines()
    # report.build imports pipeline.stages at its top (through report.audit): importing it back is a cycle;
    # stats.headline reaches nothing that imports pipeline.stages
    edges = {"synthmed.report.build": {"synthmed.report.audit"}, "synthmed.report.audit": {name},
             "synthmed.stats.headline": {"synthmed.classify.options"}}
    start_up = frozenset({"json", "typer", "synthmed.cli"})

    def flagged(role: str | None) -> list[str]:
        return [lines[i.line - 1].strip() for i in unexplained(local, lines, name, role, start_up, edges)]

    assert flagged(None) == ["import json  # no reason: belongs at the top",
                             "from synthmed.stats.headline import headline", "import typer", "import torch"]
    # in a module that start-up imports, an import that keeps a module out of start-up may wait
    assert flagged(START_UP) == ["import json  # no reason: belongs at the top", "import typer"]
    assert str(LocalImport(ROOT / "file.py", 5, ("json",))) == "file.py:5: import of json"


def test_the_lazy_roles_name_modules_that_start_up_loads() -> None:
    """A role that no longer holds (a module start-up stopped importing) goes from the list."""
    for pattern in LAZY_MODULES:
        matched = [name for name, path in all_modules().items() if fnmatch(path.relative_to(PACKAGE).as_posix(),
                                                                            pattern)]
        assert matched, pattern
        assert set(matched) <= start_up_modules(), (pattern, sorted(set(matched) - start_up_modules()))


def test_help_loads_no_heavy_library() -> None:
    loaded = sorted(m for m in HEAVY if m in start_up_modules())
    assert not loaded, f"synthmed --help imports {loaded}: import them inside the command that needs them"


@pytest.mark.parametrize("module", TORCH_FREE)
def test_torch_free_modules_load_no_torch(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in ('torch', 'monai', 'timm') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]", f"{module} loads {out.strip()}"
