"""The stage records the report reads: a renamed or missing field fails where the file is read."""

from __future__ import annotations

import json
import shutil

import pytest

from synthmed.errors import BadInputError
from synthmed.filter.result import FilterResult
from synthmed.metrics.result import MetricsResult
from synthmed.pipeline.runner import StageRecord
from synthmed.stats.result import StatsResult

RECORDS = [(FilterResult, "filter"), (MetricsResult, "metrics"), (StatsResult, "stats"), (StageRecord, "gan")]


@pytest.mark.parametrize(("record", "stage"), RECORDS, ids=[r.__name__ for r, _ in RECORDS])
def test_every_renamed_or_missing_field_is_refused(fake_run, tmp_path, record, stage) -> None:
    folder = tmp_path / stage
    shutil.copytree(fake_run.folder(stage), folder)
    data = json.loads(record.path(folder).read_text())
    assert record.load(folder).as_dict() == data  # written and read back field for field
    required = [name for name, f in record.model_fields.items() if f.is_required()]
    assert required
    for name in required:
        renamed = {(k + "_renamed" if k == name else k): v for k, v in data.items()}
        record.path(folder).write_text(json.dumps(renamed))
        with pytest.raises(BadInputError, match=rf"{record.path(folder)}: not a valid {record.__name__} \({name}"):
            record.load(folder)


def test_nested_fields_are_declared_too(fake_run, tmp_path) -> None:
    folder = tmp_path / "filter"
    shutil.copytree(fake_run.folder("filter"), folder)
    data = json.loads(FilterResult.path(folder).read_text())
    data["top_up"]["per_class"]["benign"]["made"] = data["top_up"]["per_class"]["benign"].pop("generated")
    FilterResult.path(folder).write_text(json.dumps(data))
    with pytest.raises(BadInputError, match=r"top_up\.per_class\.benign\.generated"):
        FilterResult.load(folder)
