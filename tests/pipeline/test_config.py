"""Experiment config: init writes a commented YAML that loads back; bad configs fail with one clear line."""

from __future__ import annotations

import pytest
import yaml

from synthmed.cli import main
from synthmed.errors import BadInputError, SynthmedError
from synthmed.pipeline.config import ExperimentConfig, build_config, load_config, to_commented_yaml


def cli(args: list[str]) -> None:
    """Run the CLI in standalone mode, where success also ends in SystemExit(0)."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)


@pytest.mark.parametrize("profile", ["cpu", "quality", "gpu"])
def test_init_yaml_loads_back_to_the_same_config(profile: str, capsys, tmp_path) -> None:
    cli(["init", "--dataset", "pneumoniamnist", "--profile", profile])
    text = capsys.readouterr().out
    assert "# Synthetic images as % of the real images used" in text  # field descriptions become comments
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    cfg = load_config(path)
    assert cfg == build_config({"name": f"pneumoniamnist-{profile}", "data": {"medmnist": "pneumoniamnist"}}, profile)
    assert cfg.profile == profile


def test_profiles_differ_where_expected() -> None:
    cpu, gpu = build_config({}, "cpu"), build_config({}, "gpu")
    assert (cpu.gan.arch, cpu.data.size, cpu.data.resolution, cpu.classify.arch) == ("dcgan", 28, None, "cnn")
    assert (gpu.gan.arch, gpu.gan.aug, gpu.data.size, gpu.device) == ("stylegan2", "ada", 128, "cuda")
    assert cpu == ExperimentConfig()  # the cpu profile is the model's defaults


def test_quality_profile_is_dcgan_ada_at_64_px_with_five_seeds_and_three_fractions() -> None:
    from typing import get_args

    from synthmed.pipeline.config import MAX_TRAIN_RESOLUTION, PROFILES, Profile, classify_resolution, gan_resolution

    q = build_config({}, "quality")
    assert (q.name, q.profile, q.data.medmnist, q.data.size, q.device) == ("breastmnist-quality", "quality",
                                                                            "breastmnist", 64, "auto")
    assert (q.gan.arch, q.gan.kimg, q.gan.aug, q.gan.options.width) == ("dcgan", 180.0, "ada", 32)
    assert (q.classify.arch, q.classify.seeds, q.classify.ratios) == ("cnn", [0, 1, 2, 3, 4], [0, 50, 100])
    assert (q.classify.real_fractions, q.classify.augment, q.classify.synthetic_only) == (
        [1.0, 0.25, 0.1], ["none", "traditional"], True)
    assert (q.classify.options.synthetic_weight, q.classify.options.synthetic_smoothing) == (0.5, None)  # val-chosen
    assert q.classify.epochs == ExperimentConfig().classify.epochs  # what the profile leaves alone is the cpu one's
    assert [gan_resolution(q, r) for r in (28, 64, 128)] == [28, 64, 64]
    assert classify_resolution(q, 128) == 64
    # one list of profiles: the Literal, the table of what each changes and the resolution caps agree
    assert set(PROFILES) == set(MAX_TRAIN_RESOLUTION) == set(get_args(Profile)) == {"cpu", "quality", "gpu"}
    with pytest.raises(SynthmedError, match="unknown profile 'fast' \\(expected cpu, quality, gpu\\)"):
        build_config({}, "fast")


def test_quality_profile_in_a_config_file_with_other_data_keeps_the_recipe_and_names_the_run_after_the_data(
        tmp_path) -> None:
    path = tmp_path / "cells.yaml"
    path.write_text("profile: quality\ndata: {csv: rbc/labels.csv}\n")
    cfg = load_config(path)
    assert (cfg.name, cfg.profile, cfg.data.source, cfg.data.medmnist) == ("rbc-quality", "quality", "csv", None)
    assert cfg.data.csv == str((tmp_path / "rbc" / "labels.csv").absolute())
    assert (cfg.gan.arch, cfg.gan.kimg, cfg.gan.aug, cfg.classify.real_fractions) == ("dcgan", 180.0, "ada",
                                                                                      [1.0, 0.25, 0.1])
    medmnist = build_config({"data": {"medmnist": "pneumoniamnist", "size": 28}}, "quality")
    assert (medmnist.name, medmnist.data.size) == ("pneumoniamnist-quality", 28)
    assert build_config({"name": "mine", "data": {"folder": "x"}}, "quality").name == "mine"


def test_file_values_override_profile_and_cli_overrides_file(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("profile: gpu\nclassify: {epochs: 3}\ndata: {root: /from/file}\n")
    cfg = load_config(path, **{"data.root": "/from/cli", "device": None})
    assert (cfg.profile, cfg.gan.arch, cfg.classify.epochs, cfg.data.root) == ("gpu", "stylegan2", 3, "/from/cli")
    assert load_config(path, profile="cpu").gan.arch == "dcgan"  # --profile wins over the file's


@pytest.mark.parametrize(("text", "message"), [
    ("classify: {epochz: 3}", "classify.epochz: unknown key"),
    ("classify: {epochs: 0}", "classify.epochs: Input should be greater than or equal to 1"),
    ("classify: {real_fractions: [1.5]}", "classify.real_fractions: real fractions must be in (0, 1]"),
    ("classify: {seeds: [1, 1]}", "classify.seeds: seeds must be unique"),
    ("gan: {aug: adaa}", "gan.aug: Input should be 'none', 'diffaug' or 'ada'"),
    ("data: {size: 32}", "data.size: must be one of 28, 64, 128, 224"),
    ("gan: {arch: stylegan2}\ndata: {resolution: 28}", "StyleGAN2 needs a power of two"),
    ("name: 'has space'", "name: String should match pattern"),
    ("gan: {arch: dcgn}", "gan.arch: Input should be 'dcgan', 'wgan-gp', 'stylegan2'"),
    ("gan: {options: {widht: 32}}", "gan.options.widht: unknown key"),
    ("gan: {options: {width: 0}}", "gan.options.width: must be auto or a whole number >= 1, got 0"),
    ("metrics: {options: {msssim_pair: 10}}", "metrics.options.msssim_pair: unknown key"),
    ("classify: {options: {patience: -1}}", "classify.options.patience: Input should be greater than or equal to 0"),
    ("classify: {options: {balanse: sampler}}", "classify.options.balanse: unknown key"),
    ("classify: {options: {synthetic_weight: 0}}", "classify.options.synthetic_weight: Input should be greater than 0"),
    ("classify: {options: {synthetic_schedule: first}}",
     "classify.options.synthetic_schedule: Input should be 'mixed' or 'pretrain'"),
    ("gan: {kimg: .inf}", "gan.kimg: Input should be a finite number"),
    ("gan: {kimg: .nan}", "gan.kimg: Input should be a finite number"),
    ("data: {folder: x, split_ratios: [.nan, 0.5, 0.5]}", "data.split_ratios.0: Input should be a finite number"),
    ("data: {folder: x, split_ratios: [1, 0, 0]}", "data.split_ratios: three fractions train, val, test, each > 0"),
    ("gan: {options: {lr_g: .inf}}", "gan.options.lr_g: Input should be a finite number"),
    ("classify: {options: {synthetic_weight: .inf}}", "classify.options.synthetic_weight: Input should be a finite"),
    ("metrics: {options: {kid_subsets: .inf}}", "metrics.options.kid_subsets"),
    ("classify: {ratios: [0, 50000]}", "classify.ratios: ratios are percentages in 0..1000"),
    ("filter: {real_pass_rate: .nan}", "filter.real_pass_rate: Input should be a finite number"),
])
def test_validation_errors_name_the_key(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text + "\n")
    with pytest.raises(SynthmedError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_yaml_errors_name_file_and_line(tmp_path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nclassify:\n  epochs: [1,\n")
    with pytest.raises(BadInputError, match=r"broken.yaml: not valid YAML \(line \d+"):
        load_config(path)
    path.write_text("- a list\n")
    with pytest.raises(BadInputError, match="top level must be a mapping"):
        load_config(path)


def test_cli_prints_one_line_and_exits_1(tmp_path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("gan: {kimg: -1}\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(path), "--dry-run"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "gan.kimg: Input should be greater than 0" in err
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path / "nope.yaml")])
    assert "config file not found" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "message"), [
    ("gan: {options: {widht: 32}}", "gan.options.widht: unknown key"),
    ("gan: {arch: dcgn}", "gan.arch: Input should be"),
    ("metrics: {options: {kid_subset: 10}}", "metrics.options.kid_subset: unknown key"),
])
def test_option_typos_fail_at_start_up(tmp_path, capsys, text: str, message: str) -> None:
    """Typos in the stages' further options stop 'synthmed run --dry-run' with the config's one line."""
    path = tmp_path / "typo.yaml"
    path.write_text(text + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(path), "--dry-run", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 1 and err.count("\n") == 0
    assert f"{path}: " in err and message in err and not (tmp_path / "run").exists()


def test_further_options_reach_the_stages_as_given() -> None:
    from synthmed.pipeline.stages import classify_options, gan_options, metrics_options

    plain = ExperimentConfig()
    assert gan_options(plain)["gan"]["options"] == metrics_options(plain)["metrics"]["options"] == {}
    assert classify_options(plain)["classify"]["options"] == {}
    cfg = build_config({"gan": {"options": {"width": 32, "r1_interval": 4}}, "metrics": {"options": {"kid_subsets": 7}},
                        "classify": {"options": {"patience": 3, "balance": "sampler", "synthetic_weight": 0.5,
                                                 "synthetic_schedule": "pretrain"}}})
    assert gan_options(cfg)["gan"]["options"] == {"width": 32, "r1_interval": 4}
    assert metrics_options(cfg)["metrics"]["options"] == {"kid_subsets": 7}
    assert classify_options(cfg)["classify"]["options"] == {"patience": 3, "balance": "sampler",
                                                            "synthetic_weight": 0.5, "synthetic_schedule": "pretrain"}


def test_dry_run_prints_plan_and_creates_nothing(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHMED_DATA_ROOT", str(tmp_path / "no-data"))
    out = tmp_path / "run"
    cli(["run", "--dry-run", "--out", str(out)])
    text = capsys.readouterr().out
    chain = ["gan", "generate", "metrics", "filter"]
    # The default grid's real fractions 1 and 0.25: a GAN chain on the whole train split, one on the 25 % subset.
    stages = ["prepare", *chain, "subset-f0.25", *(f"{s}-f0.25" for s in chain), "classify", "stats", "report"]
    for i, stage in enumerate(stages, 1):
        assert f"[{i}/13] {stage} " in text
    assert "ratios: [0, 50, 100]" in text and " run " in text
    assert not out.exists()


def test_commented_yaml_round_trips_custom_values() -> None:
    cfg = build_config({"classify": {"ratios": [100, 0, 25]}, "gan": {"options": {"width": 32}}})
    again = build_config(yaml.safe_load(to_commented_yaml(cfg)))
    assert again == cfg and again.classify.ratios == [0, 25, 100] and again.gan.options.width == 32


def test_generated_count_leaves_the_filter_room_to_choose() -> None:
    from synthmed.pipeline.stages import auto_per_class

    cfg = ExperimentConfig()  # ratios up to 100 %, synthetic-only on, filter on, oversample 2.5
    assert auto_per_class(cfg, [147, 399]) == [998, 998]  # ceil(2.5 * 399)
    no_filter = cfg.model_copy(update={"filter": cfg.filter.model_copy(update={"enabled": False})})
    assert auto_per_class(no_filter, [147, 399]) == [499, 499]  # ceil(1.25 * 399)
    # Top-up at ratio 100: 546 synthetic -> [399, 147]; both classes are needed, the pool is 2.5 * 399.
    top_up = cfg.model_copy(update={"generate": cfg.generate.model_copy(update={"strategy": "top-up"})})
    assert auto_per_class(top_up, [147, 399]) == [998, 998]
    # Minority, no synthetic-only: ratio 100 % = 546 malignant, no benign image needed at all.
    minority = build_config({"generate": {"strategy": "minority"}, "classify": {"synthetic_only": False}})
    assert auto_per_class(minority, [147, 399]) == [1365, 0]


@pytest.mark.parametrize(("text", "message"), [
    ("name: a\ngan: {kimg: 1}\nname: b\n", "key 'name' is given twice (on lines 1 and 3); keep one"),
    ("gan: {kimg: 1, kimg: 2}\n", "key 'kimg' is given twice (on line 1); keep one"),
    ("classify:\n  epochs: 1\n  seeds: [0]\n  epochs: 2\n", "key 'epochs' is given twice (on lines 2 and 4)"),
])
def test_duplicate_yaml_keys_are_refused(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(BadInputError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}")


def test_yaml_anchors_and_merge_keys_still_load(tmp_path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text("gan: &g {kimg: 2, batch: 8}\nclassify: {epochs: 1, seeds: [0]}\n"
                    "generate: {<<: {per_class: 4, batch: 8}, batch: 16}\n")
    cfg = load_config(path)
    assert cfg.gan.kimg == 2 and cfg.generate.per_class == 4 and cfg.generate.batch == 16


def test_init_file_leaves_every_other_key_to_the_run_profile(tmp_path, capsys, monkeypatch) -> None:
    """``init --folder X > mine.yaml; run mine.yaml --profile quality`` runs the quality profile, not a mix."""
    monkeypatch.setenv("SYNTHMED_DATA_ROOT", str(tmp_path / "no-data"))
    (tmp_path / "imgs").mkdir()
    cli(["init", "--folder", str(tmp_path / "imgs")])
    path = tmp_path / "mine.yaml"
    path.write_text(capsys.readouterr().out)
    set_keys = [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert set_keys == ["profile: cpu", "data:", f"  folder: {tmp_path / 'imgs'}"]
    assert "  # kimg: 40.0" in path.read_text()  # the rest is there to read and uncomment
    quality = load_config(path, "quality")
    assert quality == build_config({"data": {"folder": str(tmp_path / "imgs")}}, "quality")
    assert (quality.name, quality.gan.kimg, quality.data.size, quality.classify.seeds) == (
        "imgs-quality", 180.0, 64, [0, 1, 2, 3, 4])
    assert load_config(path) == build_config({"data": {"folder": str(tmp_path / "imgs")}}, "cpu")


def test_run_with_profile_names_the_keys_the_file_keeps(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHMED_DATA_ROOT", str(tmp_path / "no-data"))
    path = tmp_path / "old.yaml"
    path.write_text("profile: cpu\nseed: 0\ngan: {kimg: 20.0, arch: dcgan}\nclassify: {seeds: [0, 1, 2]}\n")
    cli(["run", str(path), "--profile", "quality", "--dry-run", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"note: {path} sets 2 key(s) over the quality profile: ")
    assert "gan.kimg 20.0 (quality: 180.0)" in err and "classify.seeds [0, 1, 2] (quality: [0, 1, 2, 3, 4])" in err
    cli(["run", str(path), "--dry-run", "--out", str(tmp_path / "run")])  # the file's own profile: nothing to say
    assert capsys.readouterr().err == ""
