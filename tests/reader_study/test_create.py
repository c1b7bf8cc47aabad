"""Study creation: sampling, identical re-encoding, opaque ids, truth only in the database."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from synthmed.errors import SynthmedError
from synthmed.reader_study import db
from synthmed.reader_study.create import create_study, encode_png


def _png_chunks(data: bytes) -> list[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, names = 8, []
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        names.append(data[pos + 4:pos + 8].decode("ascii"))
        pos += 12 + length
    return names


def _truths(made) -> list[tuple[str, str, str]]:
    st = made.open()
    try:
        with st.engine.connect() as conn:
            return [(r.id, r.truth, r.class_name) for r in conn.execute(select(db.images_table))]
    finally:
        st.close()


def test_images_are_identical_in_format_and_size(make_study) -> None:
    made = make_study(n_real=4, n_synthetic=5)
    files = sorted((made.path / "images").iterdir())
    assert len(files) == 9
    sizes = {f.stat().st_size for f in files}
    assert len(sizes) == 1  # stored PNG: the byte length cannot tell real from synthetic
    for f in files:
        data = f.read_bytes()
        assert _png_chunks(data) == ["IHDR", "IDAT", "IEND"]  # no text, time or colour metadata
        with Image.open(f) as im:
            assert im.mode == "L" and im.size == (16, 16) and not im.info
    rows = _truths(made)
    assert sorted(f.stem for f in files) == sorted(r[0] for r in rows)
    assert sum(r[1] == "real" for r in rows) == 4 and sum(r[1] == "synthetic" for r in rows) == 5


def test_truth_only_in_the_database(make_study) -> None:
    made = make_study(n_real=3, n_synthetic=3)
    meta = json.loads((made.path / "study.json").read_text())
    text = json.dumps(meta)
    for image_id, _truth, _cls in _truths(made):
        assert image_id not in text  # study.json lists no images
        assert len(image_id) == 16
    in_folder = {"images", "study.json"} | ({"study.db"} if made.database_url is None else set())
    assert {p.name for p in made.path.iterdir()} == in_folder
    assert meta["counts"] == {"real": 3, "synthetic": 3} and meta["images"]["compress_level"] == 0


def test_pixels_survive_re_encoding(make_study) -> None:
    made = make_study(n_real=2, n_synthetic=2)
    st = made.open()
    with st.engine.connect() as conn:
        rows = list(conn.execute(select(db.images_table)))
    st.close()
    for row in rows:
        root, _split, rel = row.source.rsplit(":", 2)
        original = np.asarray(Image.open(Path(root) / rel))
        again = np.asarray(Image.open(made.path / "images" / f"{row.id}.png"))
        np.testing.assert_array_equal(original, again)


def test_per_class_counts_and_seeded_selection(make_study) -> None:
    a = make_study(n_real=2, n_synthetic=3, per_class=True, seed=5, name="a")
    b = make_study(n_real=2, n_synthetic=3, per_class=True, seed=5, name="b")
    c = make_study(n_real=2, n_synthetic=3, per_class=True, seed=6, name="c")
    rows_a = _truths(a)
    counts = {(t, cls): sum(1 for r in rows_a if (r[1], r[2]) == (t, cls))
              for t in ("real", "synthetic") for cls in ("class0", "class1")}
    assert counts == {("real", "class0"): 2, ("real", "class1"): 2, ("synthetic", "class0"): 3,
                      ("synthetic", "class1"): 3}

    def sources(made):
        st = made.open()
        with st.engine.connect() as conn:
            out = sorted(conn.execute(select(db.images_table.c.source)).scalars())
        st.close()
        return out

    assert sources(a) == sources(b) != sources(c)  # same seed, same images
    assert {r[0] for r in rows_a}.isdisjoint({r[0] for r in _truths(b)})  # ids are secrets, not seeded


def test_incompatible_inputs_fail_clearly(toy_dataset, tmp_path: Path) -> None:
    real = toy_dataset(counts={"test": [4, 4]}, resolution=16, name="real")
    big = toy_dataset(counts={"train": [4, 4]}, resolution=32, name="big")
    rgb = toy_dataset(counts={"train": [4, 4]}, resolution=16, channels=3, name="rgb")
    with pytest.raises(SynthmedError, match="32px but the real ones are 16px"):
        create_study(str(real.root), str(big.root), 2, 2, tmp_path / "s1")
    with pytest.raises(SynthmedError, match="channel"):
        create_study(str(real.root), str(rgb.root), 2, 2, tmp_path / "s2")
    with pytest.raises(SynthmedError, match="8 images, 9 requested"):
        create_study(str(real.root), str(big.root), 9, 2, tmp_path / "s3", resize_synthetic=True)
    assert not (tmp_path / "s1").exists() and not (tmp_path / "s3").exists()
    made = create_study(str(real.root), str(big.root), 2, 2, tmp_path / "s4", resize_synthetic=True)
    assert made.meta["images"]["resized_synthetic_from"] == 32
    assert len({f.stat().st_size for f in (tmp_path / "s4" / "images").iterdir()}) == 1


def test_encode_png_16_bit_to_8_bit() -> None:
    img = np.array([[0, 257, 65535]], dtype=np.uint16).repeat(3, axis=0)
    with Image.open(__import__("io").BytesIO(encode_png(img[:, :, None], 16, 3))) as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im)[0], [0, 1, 255])


def test_database_refuses_a_second_study(make_study, tmp_path: Path) -> None:
    made = make_study()
    engine = db.make_engine(made.database_url or db.default_url(made.path))
    with pytest.raises(SynthmedError, match="already holds study"):
        db.init_schema(engine, "other", "x" * 64, 0)
    engine.dispose()
