"""Which GAN each real fraction's cells get: its own subset's (default) or the whole split's (oracle_gan)."""

from __future__ import annotations

from synthmed.pipeline.config import build_config
from synthmed.pipeline.stages import Scope, gan_scopes, scope_kimg, scope_of_fraction, stages_for


def test_one_gan_chain_per_real_fraction_below_one() -> None:
    cfg = build_config({"classify": {"real_fractions": [1.0, 0.5, 0.25]}})
    assert gan_scopes(cfg) == [Scope(1.0), Scope(0.5), Scope(0.25)]
    assert [scope_of_fraction(cfg, f).fraction for f in (1.0, 0.5, 0.25)] == [1.0, 0.5, 0.25]
    names = [s.name for s in stages_for(cfg)]
    assert names[:6] == ["prepare", "gan", "generate", "metrics", "filter", "subset-f0.5"]
    classify = next(s for s in stages_for(cfg) if s.name == "classify")
    assert {"subset-f0.25", "generate-f0.25", "filter-f0.25", "generate", "filter"} <= set(classify.deps)
    # kimg * fraction ** 0.5: 40 kimg on the whole split, 20 on a quarter of it.
    assert (scope_kimg(cfg, Scope(1.0)), scope_kimg(cfg, Scope(0.25))) == (40.0, 20.0)


def test_oracle_gan_gives_low_fractions_the_whole_splits_gan() -> None:
    cfg = build_config({"classify": {"real_fractions": [0.25], "oracle_gan": True}})
    assert gan_scopes(cfg) == [Scope(1.0)] and scope_of_fraction(cfg, 0.25) == Scope(1.0)
    assert not any(s.name.startswith("subset") for s in stages_for(cfg))


def test_run_outputs_give_each_fractions_finished_filter_or_generate_set(tmp_path) -> None:
    import pytest

    from synthmed.errors import SynthmedError
    from synthmed.pipeline.outputs import run_outputs
    from synthmed.pipeline.runner import StageRecord, plan

    cfg = build_config({"classify": {"real_fractions": [0.25, 0.1]}})
    with pytest.raises(SynthmedError, match=r"stage filter-f0\.25 has status 'run'"):
        run_outputs(cfg, tmp_path).synthetic_sets()
    planned = {p.name: p for p in plan(stages_for(cfg), cfg, tmp_path)}
    for name in ("prepare", "filter-f0.25", "filter-f0.1", "generate-f0.1"):
        StageRecord(stage=name, key=planned[name].key, options={}, deps=[], seconds=1.0, cpu_seconds=1.0,
                    finished_at="2026-01-01T00:00:00+00:00", summary={}).write(planned[name].folder)
    sets = run_outputs(cfg, tmp_path).synthetic_sets()
    assert sets == {0.25: planned["filter-f0.25"].folder / "dataset", 0.1: planned["filter-f0.1"].folder / "dataset"}
    assert run_outputs(cfg, tmp_path).real_dataset == planned["prepare"].folder / "dataset"
    unfiltered = cfg.model_copy(update={"filter": cfg.filter.model_copy(update={"enabled": False})})
    with pytest.raises(SynthmedError, match=r"stage generate-f0\.25 has status 'run'"):
        run_outputs(unfiltered, tmp_path).synthetic_sets()
