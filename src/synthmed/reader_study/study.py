"""An open study: its folder, its database, token checks, per-reader order and answer writing."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from synthmed.errors import BadInputError, SynthmedError
from synthmed.reader_study import db
from synthmed.reader_study.create import IMAGES_DIR, STUDY_FILE
from synthmed.utils.jsonfile import read_json

IMAGE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16}$")


@dataclass(frozen=True)
class Reader:
    id: int
    name: str


class Study:
    """A study folder plus its database (SQLite in the folder unless a URL is given)."""

    def __init__(self, root: Path, meta: dict[str, Any], engine: Engine) -> None:
        self.root = root
        self.meta = meta
        self.engine = engine
        db_meta = db.read_meta(engine)
        if db_meta.get("study_uid") != meta["study_uid"]:
            raise SynthmedError(f"{root}: the database holds study {db_meta.get('study_uid')}, "
                                f"not this study ({meta['study_uid']})")
        self.seed = int(db_meta["seed"])
        self._admin_hash = db_meta["admin_token_hash"]
        with engine.connect() as conn:
            # Sorted by the random id: the base order carries no information about the truth.
            self.image_ids: list[str] = sorted(conn.execute(select(db.images_table.c.id)).scalars())
        self._image_set = set(self.image_ids)
        self._orders: dict[int, list[str]] = {}

    @classmethod
    def open(cls, root: str | Path, database_url: str | None = None) -> Study:
        root = Path(root)
        path = root / STUDY_FILE
        if not path.is_file():
            raise SynthmedError(f"{root}: no {STUDY_FILE} (not a study folder; make one with 'reader-study create')")
        meta = read_json(path)
        if not isinstance(meta, dict) or "study_uid" not in meta:
            raise BadInputError(path, "not a reader-study description (no study_uid)")
        if database_url is None and not (root / db.DB_FILE).is_file():
            raise SynthmedError(f"{root}: no {db.DB_FILE}; pass --database-url for a study kept in a database server")
        return cls(root, meta, db.make_engine(database_url or db.default_url(root)))

    def close(self) -> None:
        self.engine.dispose()

    @property
    def total(self) -> int:
        return len(self.image_ids)

    # -- authentication -------------------------------------------------------------------------
    def is_admin(self, token: str | None) -> bool:
        return bool(token) and db.token_matches(token, self._admin_hash)

    def reader_for(self, token: str | None) -> Reader | None:
        """The reader holding ``token``; every stored hash is compared (constant time, no early exit)."""
        if not token:
            return None
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.readers_table.c.id, db.readers_table.c.name,
                                       db.readers_table.c.token_hash)).all()
        found = None
        for row in rows:
            if db.token_matches(token, row.token_hash):
                found = Reader(row.id, row.name)
        return found

    # -- reading --------------------------------------------------------------------------------
    def order_for(self, reader_id: int) -> list[str]:
        """This reader's image order: a permutation seeded by (study seed, reader id), stable across restarts."""
        if reader_id not in self._orders:
            rng = np.random.default_rng([self.seed, reader_id])
            self._orders[reader_id] = [self.image_ids[i] for i in rng.permutation(self.total)]
        return self._orders[reader_id]

    def answered_ids(self, reader_id: int) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(db.answers_table.c.image_id)
                                    .where(db.answers_table.c.reader_id == reader_id)).scalars())

    def state(self, reader: Reader) -> dict[str, Any]:
        """Progress and the next image to show (the first of the reader's order not yet answered)."""
        done = self.answered_ids(reader.id)
        nxt = next((i for i in self.order_for(reader.id) if i not in done), None)
        return {"reader": reader.name, "total": self.total, "answered": len(done), "next": nxt}

    def has_image(self, image_id: str) -> bool:
        return bool(IMAGE_ID_RE.match(image_id)) and image_id in self._image_set

    def image_bytes(self, image_id: str) -> bytes:
        if not self.has_image(image_id):
            raise KeyError(image_id)
        return (self.root / IMAGES_DIR / f"{image_id}.png").read_bytes()

    # -- writing --------------------------------------------------------------------------------
    def record_answer(self, reader: Reader, image_id: str, answer: str, confidence: int | None
                      ) -> tuple[dict[str, Any], bool]:
        """Store an answer in one transaction; the first answer is final.

        Returns (stored answer, duplicate). A re-submit (double click, retry after a lost response)
        returns the stored answer and changes nothing, thanks to the unique (reader, image) constraint.
        """
        if answer not in db.ANSWERS:
            raise ValueError(answer)
        duplicate = False
        try:
            # The transaction starts with the INSERT itself: SQLite takes the write lock at once and
            # waits (busy timeout) instead of failing on a read-to-write upgrade.
            with self.engine.begin() as conn:
                conn.execute(insert(db.answers_table).values(
                    reader_id=reader.id, image_id=image_id, answer=answer, confidence=confidence,
                    answered_at=time.time()))
        except IntegrityError:
            duplicate = True
        with self.engine.connect() as conn:
            row = conn.execute(select(db.answers_table.c.answer, db.answers_table.c.confidence)
                               .where(db.answers_table.c.reader_id == reader.id,
                                      db.answers_table.c.image_id == image_id)).one()
        return {"image_id": image_id, "answer": row.answer, "confidence": row.confidence}, duplicate

    # -- admin ----------------------------------------------------------------------------------
    def readers(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            counts = dict(conn.execute(select(db.answers_table.c.reader_id, func.count())
                                       .group_by(db.answers_table.c.reader_id)).all())
            rows = conn.execute(select(db.readers_table.c.id, db.readers_table.c.name)
                                .order_by(db.readers_table.c.id)).all()
        return [{"id": r.id, "name": r.name, "answered": int(counts.get(r.id, 0)), "total": self.total} for r in rows]

    def answer_rows(self) -> list[dict[str, Any]]:
        """Every answer joined with the truth (admin only)."""
        a, i, r = db.answers_table, db.images_table, db.readers_table
        query = (select(r.c.name.label("reader"), a.c.image_id, i.c.truth, i.c.class_name, a.c.answer,
                        a.c.confidence, a.c.answered_at)
                 .join(i, i.c.id == a.c.image_id).join(r, r.c.id == a.c.reader_id)
                 .order_by(r.c.id, a.c.answered_at, a.c.id))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
