"""The CLI alone: create from BreastMNIST, invite, serve (a real subprocess), answer, print results."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from synthmed.cli import main


def _run(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    assert exit_info.value.code in (0, None), captured.err
    return captured.out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_breastmnist_study_from_the_cli(breast28, tmp_path: Path, capsys) -> None:
    study = tmp_path / "study"
    out = _run(capsys, "reader-study", "create", "--real", f"{breast28.root}:test", "--synthetic",
               f"{breast28.root}:train", "--n-real", "3", "--n-synthetic", "3", "--per-class", "--seed", "7",
               "--out", str(study), "--base-url", "http://127.0.0.1:1")
    assert "12 images (6 real, 6 synthetic)" in out
    admin_token = re.search(r"/admin#token=(\S+)", out).group(1)
    links = [_run(capsys, "reader-study", "invite", str(study), "--reader", name).strip() for name in ("ann", "ben")]
    tokens = [re.fullmatch(r"http://127\.0\.0\.1:8000/read#token=(\S+)", link).group(1) for link in links]

    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "synthmed", "reader-study", "serve", str(study), "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    output = proc.stdout.read().decode() if proc.poll() is not None else ""
                    pytest.fail(f"server did not start: {output}")
                time.sleep(0.2)
        for token, answer in zip(tokens, ("real", "synthetic"), strict=True):
            headers = {"Authorization": f"Bearer {token}"}
            state = httpx.get(f"{base}/api/reader/state", headers=headers, timeout=60).json()
            for _ in range(12):
                if not state["next"]:
                    break
                state = httpx.post(f"{base}/api/reader/answers", headers=headers,
                                   json={"image_id": state["next"], "answer": answer, "confidence": 3},
                                   timeout=60).json()
            assert state["answered"] == 12
        assert httpx.get(f"{base}/api/admin/results", headers={"Authorization": f"Bearer {admin_token}"},
                         timeout=60).status_code == 200
        assert "server" not in httpx.get(f"{base}/").headers  # no server banner
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    csv_path = tmp_path / "results.csv"
    text = _run(capsys, "reader-study", "results", str(study), "--csv", str(csv_path))
    assert re.search(r"ann\s+real\s+6/6 100\.0% \(TP\)\s+6/6 100\.0% \(FN\)", text)
    assert re.search(r"ben\s+real\s+0/6\s+0\.0% \(TP\)", text)
    # ann always "real", ben always "synthetic": p_o = 0 and p_e = 1*0 + 0*1 = 0, so kappa = 0.
    assert "Cohen's kappa = 0.000 (2 readers, 12 images answered by all)" in text
    assert "malignant" in text and csv_path.read_text().startswith("reader,class,")


def test_external_database_url_and_one_line_errors(toy_dataset, tmp_path: Path, capsys, study_db) -> None:
    """--database-url: a SQLite file elsewhere, or a PostgreSQL server (the study_db fixture's)."""
    real = toy_dataset(counts={"test": [4, 4]}, resolution=16, name="real")
    url = study_db() or f"sqlite:///{tmp_path / 'server.db'}"
    study = tmp_path / "study"
    _run(capsys, "reader-study", "create", "--real", str(real.root), "--synthetic", f"{real.root}:test",
         "--n-real", "2", "--n-synthetic", "2", "--out", str(study), "--database-url", url)
    assert not (study / "study.db").exists()
    assert (tmp_path / "server.db").exists() == url.startswith("sqlite")
    with pytest.raises(SystemExit):
        main(["reader-study", "results", str(study)])
    assert "pass --database-url" in capsys.readouterr().err
    link = _run(capsys, "reader-study", "invite", str(study), "--reader", "ann", "--database-url", url)
    assert "/read#token=" in link
    out = _run(capsys, "reader-study", "results", str(study), "--database-url", url)
    assert "ann" in out and "0/0" not in out
    with pytest.raises(SystemExit):
        main(["reader-study", "invite", str(study), "--reader", "ann", "--database-url", url])
    err = capsys.readouterr().err.strip()
    assert err == "error: reader 'ann' already exists (use --new-token to replace their link)"
    new_link = _run(capsys, "reader-study", "invite", str(study), "--reader", "ann", "--new-token",
                    "--database-url", url)
    assert "/read#token=" in new_link
