"""synthmed inject and generate --masks on tiny trained models: bit-exact backgrounds, masks, labels, provenance."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synthmed import cli
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.gan.train import TrainConfig, train_gan
from synthmed.lesion.generate import generate_from_masks
from synthmed.lesion.inject import InjectOptions, inject_dataset
from synthmed.lesion.masks import NO_AUGMENT
from tests.lesion.helpers import write_lesion_dataset

TINY = {"width": 4, "max_width": 16, "batch": 4, "progress": False, "kimg": 0.016, "snapshot_kimg": 0.016}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("inject")
    data = write_lesion_dataset(root / "les32", {"train": [6, 6], "test": [2, 2]}, resolution=32)
    runs = {arch: train_gan(TrainConfig(data=str(data.root), arch=arch, out=str(root / "runs"), **TINY))
            for arch in ("inject", "pix2pix")}
    return data, runs


def _background_pixels(ds: PreparedDataset, entry: dict, backgrounds: PreparedDataset | None, folder=None):
    if backgrounds is None:
        with Image.open(folder / entry["background"]) as im:
            return np.asarray(im.convert("RGB"))
    split, path = entry["background"].split(":")[1:]
    match = next(e for e in backgrounds.entries(split) if (e.get("source_file") or e["path"]) == path)
    return backgrounds.load_image(match)


@pytest.mark.parametrize("place", ["free", "replace"])
def test_injected_images_keep_the_background_outside_the_mask(trained, tmp_path, place) -> None:
    data, runs = trained
    masks = f"{data.root}:train" if place == "replace" else None  # replace: real shapes fitted to the old lesion
    opts = InjectOptions(classes=["dark"], n=6, place=place, lesion_size=0.05, masks=masks, seed=1)
    inject_dataset(runs["inject"], str(data.root), tmp_path / "inj", opts, progress=False)
    out = PreparedDataset.open(tmp_path / "inj")
    entries = out.entries("train")
    assert len(entries) == 6 and all(e["label"] == 1 and e["place"] == place for e in entries)
    for e in entries:
        image, mask, bg = out.load_image(e), out.load_mask(e), _background_pixels(out, e, data)
        assert mask.any() and np.array_equal(image[~mask], bg[~mask])  # bit-exact outside the mask
        assert not np.array_equal(image[mask], bg[mask])  # and something was generated inside
        assert e["background_had_lesion"] and 0 < e["lesion_intensity"] <= 1
        assert e["mask_source"] == "ellipse" if masks is None else e["mask_source"].startswith("les32:train:")
        own = data.load_mask(next(x for x in data.entries("train") if x["path"] == e["background"].split(":")[2]))
        if place == "replace":  # the background's lesion is covered: one lesion per image, of its size
            assert not (own & ~mask).any()
            box = [(np.nonzero(m.any(axis=a))[0].min(), np.nonzero(m.any(axis=a))[0].max()) for m in (own, mask)
                   for a in (0, 1)]
            assert all(abs(lo - lo2) <= opts.margin + 1 and abs(hi - hi2) <= opts.margin + 1
                       for (lo, hi), (lo2, hi2) in zip(box[:2], box[2:], strict=True))
        else:  # a new lesion beside the old one; the mask holds both
            assert (own & mask).sum() == own.sum() and mask.sum() > own.sum()
    assert out.meta["source"]["type"] == "injected" and out.meta["preprocessing"]["inject"]["place"] == place


def test_injection_into_a_folder_of_normal_images_with_real_mask_shapes(trained, tmp_path) -> None:
    data, runs = trained
    normal = tmp_path / "normal"
    normal.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        skin = np.clip(0.75 + rng.normal(0, 0.03, (32, 32, 1)), 0, 1) * np.array([1, 0.85, 0.7])
        Image.fromarray((skin * 255).round().astype(np.uint8)).save(normal / f"skin{i}.png")
    opts = InjectOptions(classes=["light", "dark"], n=4, masks=f"{data.root}:train", intensity=0.3, seed=2)
    inject_dataset(runs["inject"], str(normal), tmp_path / "inj", opts, progress=False)
    out = PreparedDataset.open(tmp_path / "inj")
    labels = [e["label"] for e in out.entries("train")]
    assert labels == [0, 1, 0, 1]  # the classes in turn
    for e in out.entries("train"):
        image, mask = out.load_image(e), out.load_mask(e)
        bg = _background_pixels(out, e, None, normal)
        assert np.array_equal(image[~mask], bg[~mask]) and not e["background_had_lesion"]
        assert e["mask_source"].startswith("les32:train:") and e["lesion_intensity"] == 0.3
    again = tmp_path / "again"
    inject_dataset(runs["inject"], str(normal), again, opts, progress=False)
    assert PreparedDataset.open(again).content_hash == out.content_hash  # seeded: the same bytes


def test_inject_refuses_other_runs_and_unknown_classes(trained, tmp_path, capsys) -> None:
    data, runs = trained
    with pytest.raises(SynthmedError, match="synthmed inject needs a run of a family that makes images from a mask "
                                            "in image; this one is pix2pix"):
        inject_dataset(runs["pix2pix"], str(data.root), tmp_path / "x", InjectOptions(["dark"], 1), progress=False)
    from synthmed.lesion.generate import generate_from_masks

    with pytest.raises(SynthmedError, match="generate --masks needs a run of a family that makes images from a mask; "
                                            "this one is inject"):
        generate_from_masks(runs["inject"], str(data.root), tmp_path / "y", progress=False)
    with pytest.raises(SystemExit):
        cli.main(["inject", "--checkpoint", str(runs["inject"]), "--backgrounds", str(data.root), "--out",
                  str(tmp_path / "y"), "--class", "purple", "--n", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--class purple: the model knows light, dark" in err


def test_generate_from_masks_writes_labeled_pairs_with_provenance(trained, tmp_path) -> None:
    data, runs = trained
    meta = generate_from_masks(runs["pix2pix"], f"{data.root}:test", tmp_path / "gen", copies=2, seed=3,
                               progress=False)
    out = PreparedDataset.open(tmp_path / "gen")
    entries = out.entries("train")
    assert len(entries) == 8 and out.has_masks("train")
    assert [e["label"] for e in entries] == [int(x) for x in np.repeat(data.labels("test"), 2)]
    assert entries[0]["mask_source"] == entries[1]["mask_source"] and entries[0]["mask_seed"] != entries[1]["mask_seed"]
    assert not np.array_equal(out.load_mask(entries[0]), out.load_mask(entries[1]))  # each copy transformed
    plain = generate_from_masks(runs["pix2pix"], f"{data.root}:test", tmp_path / "plain", augment=None, seed=3,
                                progress=False)
    first = PreparedDataset.open(tmp_path / "plain")
    assert np.array_equal(first.load_mask(first.entries("train")[0]), data.load_masks("test")[0])
    assert plain["preprocessing"]["mask_augment"] == NO_AUGMENT.to_dict()
    assert meta["source"]["arch"] == "pix2pix" and len(meta["source"]["checkpoint_sha256"]) == 64


def test_generate_without_masks_on_a_pix2pix_run_is_one_line(trained, tmp_path, capsys) -> None:
    _, runs = trained
    with pytest.raises(SystemExit):
        cli.main(["generate", "--checkpoint", str(runs["pix2pix"]), "--out", str(tmp_path / "g"), "--per-class", "1"])
    assert "add --masks DATASET[:split]" in capsys.readouterr().err
