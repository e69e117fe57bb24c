"""The data folder is private: the folder 0700, everything in it 0600.

It holds sign-in links in the outbox, every reader's email and reading history in the
database, and the key that signs sessions; other local users must read none of it. Files
are created with their final mode (never world-readable for a moment, whatever the umask),
and folders made by older versions are tightened at start-up.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# Files older versions left world-readable (SQLite makes -wal and -shm with the database's own mode).
_TOP_LEVEL_FILES = ("glean.sqlite3", "glean.sqlite3-wal", "glean.sqlite3-shm", "secret.key", "scheduler.lock")


def private_folder(path: Path) -> Path:
    """Make ``path`` (and missing parents, each 0700) and set it to 0700; returns it."""
    path = Path(path)
    if not path.parent.exists():
        private_folder(path.parent)
    path.mkdir(exist_ok=True, mode=FOLDER_MODE)
    if path.stat().st_mode & 0o777 != FOLDER_MODE:
        os.chmod(path, FOLDER_MODE)
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (so later openers inherit nothing wider)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass


def private_temp(folder: Path, stem: str) -> Path:
    """A fresh, empty 0600 file in ``folder`` to write and then rename into place."""
    while True:
        path = Path(folder) / f".{stem}.tmp{os.getpid()}.{secrets.token_hex(4)}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            return path
        except FileExistsError:
            continue


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename) with mode 0600."""
    path = Path(path)
    tmp = private_temp(path.parent, path.name)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def lock_down(home: Path) -> None:
    """Tighten a data folder made before files were private: the folder itself and its key files."""
    private_folder(home)
    for name in _TOP_LEVEL_FILES:
        path = Path(home) / name
        try:
            if path.stat().st_mode & 0o777 != FILE_MODE:
                os.chmod(path, FILE_MODE)
        except FileNotFoundError:
            continue
