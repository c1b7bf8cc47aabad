"""The study database: SQLAlchemy Core only, so SQLite (default) and PostgreSQL both work.

The truth (real or synthetic, and the class) lives here and nowhere else. Tokens are stored as
sha256 hashes; the plain tokens are printed once and never written to disk.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from synthmed.errors import SynthmedError

SCHEMA_VERSION = 1
DB_FILE = "study.db"
ANSWERS = ("real", "synthetic")

metadata = MetaData()

meta_table = Table(
    "rs_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(512), nullable=False),
)

images_table = Table(
    "rs_images", metadata,
    Column("id", String(32), primary_key=True),
    Column("truth", String(16), nullable=False),  # "real" | "synthetic"
    Column("label", Integer, nullable=False),
    Column("class_name", String(128), nullable=False),
    Column("source", String(1024), nullable=False),  # dataset folder + entry path, for the admin's audit
)

readers_table = Table(
    "rs_readers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

answers_table = Table(
    "rs_answers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reader_id", Integer, ForeignKey("rs_readers.id"), nullable=False),
    Column("image_id", String(32), ForeignKey("rs_images.id"), nullable=False),
    Column("answer", String(16), nullable=False),
    Column("confidence", Integer, nullable=True),
    Column("answered_at", Float, nullable=False),
    # One answer per reader and image: the database itself makes a double submit count once.
    UniqueConstraint("reader_id", "image_id", name="uq_answer_reader_image"),
)


# -- tokens -----------------------------------------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(hash_token(token).encode("ascii"), stored_hash.encode("ascii"))


# -- engine -----------------------------------------------------------------------------------------
def default_url(study_dir: str | Path) -> str:
    return f"sqlite:///{Path(study_dir).absolute() / DB_FILE}"


def make_engine(url: str) -> Engine:
    """An engine; for SQLite: WAL journal (readers never block the writer) and a 30 s busy wait."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                   pool_size=20, max_overflow=40)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_size=10, max_overflow=40, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise SynthmedError(f"cannot open database {_redact(url)}: {exc}") from None
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _redact(url: str) -> str:
    """Hide a password in a database URL before it reaches an error message."""
    head, sep, tail = url.partition("://")
    if sep and "@" in tail:
        creds, _, host = tail.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{head}://{user}:***@{host}"
    return url


def init_schema(engine: Engine, study_uid: str, admin_token_hash: str, seed: int,
                images: list[dict[str, Any]] | None = None) -> None:
    """Create the tables, then write the meta rows and images in one transaction (all or nothing).

    A database that already holds a study is refused: one study per database.
    """
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            existing = conn.execute(select(meta_table.c.value).where(meta_table.c.key == "study_uid")).scalar()
            if existing is not None:
                raise SynthmedError(f"database already holds study {existing}; use an empty database per study")
            conn.execute(insert(meta_table), [
                {"key": "study_uid", "value": study_uid},
                {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                {"key": "admin_token_hash", "value": admin_token_hash},
                {"key": "seed", "value": str(seed)},
            ])
            if images:
                conn.execute(insert(images_table), images)
    except OperationalError as exc:
        raise SynthmedError(f"cannot write database {_redact(str(engine.url))}: {exc.orig}") from None


def read_meta(engine: Engine) -> dict[str, str]:
    try:
        with engine.connect() as conn:
            return {k: v for k, v in conn.execute(select(meta_table.c.key, meta_table.c.value))}
    except OperationalError as exc:
        raise SynthmedError(f"cannot read study database {_redact(str(engine.url))}: {exc.orig}") from None


def add_reader(engine: Engine, name: str, replace_token: bool = False) -> str:
    """Add a reader (or give an existing one a new token); return the plain token."""
    token = new_token()
    with engine.begin() as conn:
        row = conn.execute(select(readers_table.c.id).where(readers_table.c.name == name)).first()
        if row is not None and not replace_token:
            raise SynthmedError(f"reader '{name}' already exists (use --new-token to replace their link)")
        if row is not None:
            conn.execute(readers_table.update().where(readers_table.c.id == row.id)
                         .values(token_hash=hash_token(token)))
        else:
            try:
                conn.execute(insert(readers_table).values(name=name, token_hash=hash_token(token),
                                                          created_at=time.time()))
            except IntegrityError:
                raise SynthmedError(f"reader '{name}' already exists") from None
    return token
