"""``synthmed report RUN_DIR`` on run folders that moved, were copied, or hold a broken file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from synthmed import cli
from synthmed.pipeline.runner import PlanEntry, RunRecord
from synthmed.report.build import ReportSources


def _run_folder(fake_run: ReportSources, out: Path, absolute: bool = False) -> Path:
    """The fake run's stages copied into ``out`` with the ``run.json`` ``synthmed run`` writes."""
    root = fake_run.folders["prepare"].parent.parent
    shutil.copytree(root, out)
    stages = [s for s, f in fake_run.folders.items() if f is not None]
    folder = (lambda s: str(root / "stages" / s)) if absolute else (lambda s: f"stages/{s}")
    config = {"profile": "cpu", "name": "fake", "report": {"samples_per_class": 4}}
    RunRecord(name="fake", config=config, seeds={}, environment={}, started_at="2026-01-01T00:00:00+00:00",
              plan=[PlanEntry(stage=s, key="0" * 64, status="cached", folder=folder(s), deps=[], reason=None,
                              options={}) for s in stages]).write(out)
    return out


def _report(run_dir: Path) -> int:
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", str(run_dir)])
    return exc.value.code


def _statuses(run_dir: Path) -> set[str]:
    return {s["status"] for s in json.loads((run_dir / "results.json").read_text())["stages"]}


def test_moved_run_folder_reads_its_own_stages(fake_run, tmp_path) -> None:
    moved = _run_folder(fake_run, tmp_path / "a").rename(tmp_path / "b")
    assert _report(moved) == 0
    assert _statuses(moved) == {"done"}


def test_copied_run_folder_reads_the_copy(fake_run, tmp_path, capsys) -> None:
    original = _run_folder(fake_run, tmp_path / "original")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    (original / "stages" / "stats" / "stats.json").write_text("")  # the original breaks; the copy must not care
    assert _report(copy) == 0
    assert _report(original) == 1
    assert "original/stages/stats/stats.json" in capsys.readouterr().err


def test_run_json_with_absolute_paths_is_read_from_where_it_is(fake_run, tmp_path) -> None:
    """Run folders made before paths were relative still report after a move."""
    run = _run_folder(fake_run, tmp_path / "old", absolute=True)
    assert _report(run) == 0 and _statuses(run) == {"done"}


@pytest.mark.parametrize("damage", ["empty", "truncated", "not a record"])
def test_broken_stage_file_is_one_line_naming_it(fake_run, tmp_path, capsys, damage) -> None:
    run = _run_folder(fake_run, tmp_path / "run")
    stats = run / "stages" / "stats" / "stats.json"
    text = stats.read_text()
    stats.write_text({"empty": "", "truncated": text[: len(text) // 2], "not a record": '{"comparisons": []}'}[damage])
    assert _report(run) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(stats) in err and "Traceback" not in err
    assert (run / "report.html").is_file()  # every other section is still there


@pytest.mark.parametrize("text", ["", "{", "[]", '{"name": "x"}'])
def test_empty_or_corrupt_run_json_is_one_line(fake_run, tmp_path, capsys, text) -> None:
    run = _run_folder(fake_run, tmp_path / "run")
    (run / "run.json").write_text(text)
    assert _report(run) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(run / "run.json") in err and "Traceback" not in err


def test_corrupt_stage_record_is_one_line(fake_run, tmp_path, capsys) -> None:
    run = _run_folder(fake_run, tmp_path / "run")
    (run / "stages" / "gan" / "done.json").write_text('{"stage": "gan"')
    assert _report(run) == 1
    assert str(run / "stages" / "gan" / "done.json") in capsys.readouterr().err


def test_a_renamed_summary_key_is_one_line_naming_the_record(fake_run, tmp_path, capsys) -> None:
    run = _run_folder(fake_run, tmp_path / "run")
    done = run / "stages" / "gan" / "done.json"
    record = json.loads(done.read_text())
    record["summary"]["run_folder"] = record["summary"].pop("run")
    done.write_text(json.dumps(record))
    assert _report(run) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(done) in err and "summary" in err


def test_a_config_this_version_cannot_read_is_one_line_naming_run_json(fake_run, tmp_path, capsys) -> None:
    """The report reads the run's config as the typed model: a renamed option names itself, not an empty section."""
    run = _run_folder(fake_run, tmp_path / "run")
    record = json.loads((run / "run.json").read_text())
    record["config"]["classify"] = {"oracle": True}
    (run / "run.json").write_text(json.dumps(record))
    assert _report(run) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(run / "run.json") in err and "classify.oracle" in err
