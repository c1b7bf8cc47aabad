"""The documentation stays true to the code: the generated reference pages are current, the configuration
reference has every key `synthmed init` writes with the same defaults, every `synthmed` command in the README and
the docs names real commands and options (the short ones run), and the prose speaks of the product."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from synthmed import cli, docs_reference

ROOT = Path(__file__).resolve().parents[2]
DOC_PAGES = sorted((ROOT / "docs").rglob("*.md"))
PROSE = [ROOT / "README.md", *DOC_PAGES]


def _run_cli(args: list[str], capsys) -> str:
    try:
        cli.main(args)
    except SystemExit as exc:
        assert exc.code in (0, None), f"synthmed {' '.join(args)} exited {exc.code}: {capsys.readouterr().err}"
    return capsys.readouterr().out


# --- generated reference pages ------------------------------------------------------------------------------


def test_reference_pages_are_current() -> None:
    assert docs_reference.stale_pages(ROOT) == [], "stale reference pages: run 'make reference'"


def _reference_rows() -> dict[str, list[str]]:
    """``key`` -> its cells (default, quality, gpu) from the configuration page's section tables."""
    rows = {}
    for line in (ROOT / "docs/reference/configuration.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 5 and cells[0].startswith("`") and "." in cells[0] + "." and cells[0] != "key":
            rows[cells[0].strip("`")] = [c.strip("`").replace("\\|", "|") for c in cells[1:4]]
    return rows


def _written(init_text: str, keys: dict[str, object]) -> dict[str, str]:
    """Each key as ``synthmed init`` wrote it, set or commented out (``# key: value``), found in ``keys``' order;
    the value as text."""
    lines, at, out = init_text.splitlines(), 0, {}
    for dotted in keys:
        leaf = re.escape(dotted.split(".")[-1])
        pattern = re.compile(rf"^\s*(?:# )?{leaf}: (.*)$")
        while at < len(lines) and not pattern.match(lines[at]):
            at += 1
        assert at < len(lines), f"synthmed init does not write {dotted}"
        out[dotted] = pattern.match(lines[at]).group(1)
        at += 1
    return out


@pytest.mark.parametrize("profile", ["cpu", "quality", "gpu"])
def test_configuration_reference_lists_every_init_key_with_its_default(profile: str, capsys) -> None:
    keys = docs_reference._init_values(profile)
    written = _written(_run_cli(["init", "--profile", profile], capsys), keys)
    rows = _reference_rows()
    assert set(rows) == set(keys), sorted(set(rows) ^ set(keys))
    column = {"cpu": 0, "quality": 1, "gpu": 2}[profile]
    for key, value in written.items():
        documented = rows[key][column] or rows[key][0]
        assert documented == value, (key, documented, value)


def test_readme_links_point_at_files() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert links and not [t for t in links if not (ROOT / t).exists()]


# --- commands in the README and the docs ---------------------------------------------------------------------


def _shell_lines(text: str) -> list[str]:
    """The command lines of the fenced bash blocks, continuation lines joined, comments dropped."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _segments(line: str) -> list[list[str]]:
    """A line's simple commands (split at &&, ;, |, &), each as tokens, leading VAR=value assignments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    segments, current = [], []
    for token in lexer:
        if token in ("&&", ";", "|", "&", "||"):
            segments.append(current)
            current = []
        else:
            current.append(token)
    segments.append(current)
    out = []
    for seg in segments:
        while seg and re.match(r"^[A-Z_][A-Z0-9_]*=", seg[0]):
            seg = seg[1:]
        if seg:
            out.append(seg)
    return out


def _documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PROSE:
        if page.parent.name == "reference":
            continue
        for line in _shell_lines(page.read_text(encoding="utf-8")):
            for seg in _segments(line):
                found.append((page.relative_to(ROOT).as_posix(), seg))
    return found


def _click_group():
    import typer.main

    return typer.main.get_command(cli.app)


def _resolve(group, args: list[str]):
    """The command named by the leading words of ``args`` and the remaining tokens."""
    ctx = group.context_class(group, info_name="synthmed")
    cmd, rest = group, list(args)
    while hasattr(cmd, "list_commands") and rest and not rest[0].startswith("-"):
        sub = cmd.get_command(ctx, rest[0])
        assert sub is not None, f"no command '{rest[0]}'"
        cmd, rest = sub, rest[1:]
        ctx = cmd.context_class(cmd, parent=ctx, info_name=cmd.name)
    return cmd, rest


def _flags(cmd) -> set[str]:
    return {o for p in cmd.params for o in [*p.opts, *p.secondary_opts] if o.startswith("-")} | {"--help"}


def test_every_documented_command_names_real_commands_and_options() -> None:
    group = _click_group()
    problems, checked = [], 0
    for page, seg in _documented_commands():
        if seg[0] == "synthmed":
            args = seg[1:]
        elif seg[0] == "torchrun" and "synthmed.cli" in seg:
            args = seg[seg.index("synthmed.cli") + 1:]
        elif (seg[0] == "python" and len(seg) > 1 and seg[1].startswith("benchmarks/")) or \
                seg[0].startswith("benchmarks/"):
            script = ROOT / (seg[1] if seg[0] == "python" else seg[0])
            if not script.is_file():
                problems.append(f"{page}: {script.relative_to(ROOT)} does not exist")
                continue
            # A shell wrapper passes its options on to the Python script of the same name.
            source = "".join(p.read_text(encoding="utf-8") for p in (script, script.with_suffix(".py")) if p.is_file())
            args = seg[2:] if seg[0] == "python" else seg[1:]
            problems += [f"{page}: {script.name} has no option {t}" for t in args
                         if t.startswith("--") and f'"{t.split("=")[0]}"' not in source]
            checked += 1
            continue
        else:
            continue
        while args and args[0] == "--debug":
            args = args[1:]
        try:
            cmd, rest = _resolve(group, args)
        except AssertionError as exc:
            problems.append(f"{page}: {' '.join(seg)}: {exc}")
            continue
        known = _flags(cmd)
        problems += [f"{page}: {' '.join(seg[:3])}: unknown option {t}" for t in rest
                     if t.startswith("--") and t.split("=")[0] not in known]
        checked += 1
    assert checked > 50, checked  # the pages were read
    assert not problems, "\n".join(problems)


def test_short_documented_commands_run(capsys, tmp_path) -> None:
    assert "train-gan" in _run_cli(["--help"], capsys)
    (tmp_path / "labels.csv").write_text("path,label\na.png,x\n")
    for args in (["init"], ["init", "--profile", "quality"], ["init", "--csv", str(tmp_path / "labels.csv")]):
        text = _run_cli(args, capsys)
        assert yaml.safe_load(text)["profile"] and "# seeds: [" in text, args
    group = _click_group()
    paths = set()
    for _, seg in _documented_commands():
        if seg[0] == "synthmed" and len(seg) > 1 and not seg[1].startswith("-"):
            _cmd, rest = _resolve(group, seg[1:])
            paths.add(tuple(seg[1:len(seg) - len(rest)]))
    assert ("run",) in paths and ("reader-study", "create") in paths, sorted(paths)
    for path in sorted(paths):
        assert path[-1] in _run_cli([*path, "--help"], capsys), path


def test_getting_started_commands_run(capsys, tmp_path, monkeypatch) -> None:
    """``synthmed init > experiment.yaml`` then ``synthmed run experiment.yaml --dry-run``, as the pages say."""
    from tests.conftest import medmnist_root

    if medmnist_root() is None:
        pytest.skip("breastmnist.npz not found: set SYNTHMED_DATA_ROOT")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiment.yaml").write_text(_run_cli(["init"], capsys))
    plan = _run_cli(["run", "experiment.yaml", "--dry-run"], capsys)
    assert "runs/breastmnist-cpu" in plan and "report" in plan
    assert not (tmp_path / "runs").exists()  # a dry run writes nothing


# --- the prose speaks of the product ---------------------------------------------------------------------------

# A commit-like hash: 7 to 40 hex digits with at least one letter and one digit, standing alone (not part of a
# file name such as pt_inception-2015-12-05-6726825d.pth).
HASH = re.compile(r"(?<![\w./-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![\w-]|\.\w)")
ISSUE = re.compile(r"\bissues?\s+#?\d+", re.I)
INTERNAL_NAME = re.compile(r"\bseeds?\s+0\d\d\b", re.I)
ORGANISATION = re.compile(r"\bquick job\b|\b(?:this|the|a later|one) session\b", re.I)


def _product_files() -> list[Path]:
    files = [*PROSE, *(ROOT / "src").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py"),
             *(ROOT / "benchmarks").rglob("*.md")]
    files += [p for p in (ROOT / "src").rglob("*") if p.suffix in (".html", ".js", ".yaml")]
    return sorted(set(files))


@pytest.mark.parametrize("pattern", [HASH, ISSUE, INTERNAL_NAME, ORGANISATION], ids=["hash", "issue", "seed", "work"])
def test_prose_speaks_of_the_product(pattern: re.Pattern) -> None:
    hits = []
    for path in _product_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not hits, "name the product, not how it was made (cite papers by authors and year):\n" + "\n".join(hits)


@pytest.mark.parametrize("text, pattern", [("8 min 23 s at commit cd0bcd4", HASH), ("resumed at 20d0504.", HASH),
                                           ("## Recipe search (issue 16)", ISSUE), ("seed 001's table", INTERNAL_NAME),
                                           ("the 15-minute quick job", ORGANISATION)])
def test_prose_patterns_catch_what_they_are_for(text: str, pattern: re.Pattern) -> None:
    assert pattern.search(text)


def test_prose_patterns_leave_product_text_alone() -> None:
    fine = "pt_inception-2015-12-05-6726825d.pth, seed 0, seeds 0-4, 2026-12-03, --seed 3, a session cookie"
    assert not any(p.search(fine) for p in (HASH, ISSUE, INTERNAL_NAME, ORGANISATION))
