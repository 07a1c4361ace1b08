"""The pseudonymisation key: kept outside the database, recognised by its fingerprint.

The key (for hospital-number hashes and research pseudonyms) comes from
``VERTEBRO_REGISTRY_KEY``, else from a key file (``VERTEBRO_REGISTRY_KEY_FILE``, else the
SQLite store's path plus ``.key``), mode 0600, written by ``vertebro db init``. The database
keeps only the key's fingerprint (an HMAC of a fixed label, which does not reveal the key), so
a missing or different key is refused instead of silently minting other pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select

from vertebro.errors import DatabaseError, RegistryError
from vertebro.settings import get_settings

from .db import sqlite_path
from .models import Meta

__all__ = ["Key", "bind_new_store", "fingerprint", "key_file", "load_key", "registry_key"]

FINGERPRINT = "key_fingerprint"
LEGACY = "key"  # vertebro before 0002 kept a generated key here, in the clear
_HOW = ("set VERTEBRO_REGISTRY_KEY, or VERTEBRO_REGISTRY_KEY_FILE to the key file that "
        "`vertebro db init` wrote")


@dataclass(frozen=True)
class Key:
    secret: bytes
    source: str  # for messages: "VERTEBRO_REGISTRY_KEY" or "key file PATH"


def fingerprint(secret: bytes) -> str:
    return hmac.new(secret, b"vertebro registry key fingerprint v1", hashlib.sha256
                    ).hexdigest()[:16]


def key_file(url: str | None) -> Path | None:
    """Where the key file is (configured, else beside a SQLite store), if anywhere."""
    configured = get_settings().registry_key_file
    if configured is not None:
        return configured
    path = sqlite_path(url)
    return path.with_name(path.name + ".key") if path is not None else None


def _read(path: Path) -> Key:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RegistryError(f"key file {path} is readable by others (mode "
                            f"{stat.S_IMODE(mode):o}): chmod 600 {path}")
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise RegistryError(f"key file {path} is empty")
    return Key(secret.encode(), f"key file {path}")


def load_key(url: str | None) -> Key | None:
    """The configured key, or ``None`` when there is none."""
    env = get_settings().registry_key
    if env:
        return Key(env.encode(), "VERTEBRO_REGISTRY_KEY")
    path = key_file(url)
    if path is not None and path.is_file():
        return _read(path)
    return None


def _write_key_file(path: Path, secret: str) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise DatabaseError(f"cannot write the key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")


def _check(conn: Connection, key: Key) -> None:
    stored = conn.execute(select(Meta.value).where(Meta.key == FINGERPRINT)).scalar()
    mine = fingerprint(key.secret)
    if stored is None:
        conn.execute(insert(Meta), [{"key": FINGERPRINT, "value": mine}])
    elif stored != mine:
        raise RegistryError(f"the registry key from {key.source} (fingerprint {mine}) is not "
                            f"this registry's key (fingerprint {stored}): pseudonyms and "
                            f"hospital-number hashes would not match; {_HOW}")


def registry_key(engine: Engine) -> bytes:
    """The key for the store behind ``engine``, checked against its fingerprint."""
    url = engine.url.render_as_string(hide_password=False)
    key = load_key(url)
    if key is None:
        where = key_file(url)
        raise RegistryError("no registry key (needed for pseudonyms and hospital-number "
                            f"hashes): {_HOW}" + (f" (looked for {where})" if where else ""))
    with engine.begin() as conn:
        _check(conn, key)
    return key.secret


def bind_new_store(engine: Engine) -> str | None:
    """After a migration: move a key an older vertebro kept in the database out to the key
    file, create a key file for a new store when no key is configured, and store the
    fingerprint. Returns the path of a key file written, if any."""
    url = engine.url.render_as_string(hide_password=False)
    written: str | None = None
    with engine.begin() as conn:
        legacy = conn.execute(select(Meta.value).where(Meta.key == LEGACY)).scalar()
        key = load_key(url)
        path = key_file(url)
        if legacy is not None and key is not None and key.secret != legacy.encode():
            raise DatabaseError(
                f"this registry keeps a key of its own (written by an older vertebro) and "
                f"{key.source} holds another: unset it, so that `vertebro db upgrade` moves "
                "the registry's own key into the key file")
        if key is None and path is not None:
            _write_key_file(path, legacy or secrets.token_hex(32))
            written = str(path)
            key = _read(path)
        elif key is None and legacy is not None:
            raise DatabaseError("this registry keeps its key in the database (an older "
                                "vertebro did): set VERTEBRO_REGISTRY_KEY_FILE to where "
                                "`vertebro db upgrade` should write it")
        if legacy is not None:
            conn.execute(delete(Meta).where(Meta.key == LEGACY))
        if key is not None:
            _check(conn, key)
    return written
