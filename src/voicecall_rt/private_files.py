"""Files only this user may read: directories 0700, files 0600, from the moment they exist."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and its missing ancestors 0700 (`mkdir(parents=True)` would give the
    intermediate ones default permissions) and tighten `path` itself if it is looser."""
    missing: list[Path] = []
    directory = path
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for each in reversed(missing):
        each.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def _open_private(path: Path, flags: int) -> int:
    """Open `path` as a file only its owner may use (0600).

    The mode is set at creation (no window where the file is world-readable) and re-applied
    to a pre-existing file. A symlink at `path` is refused rather than followed, so a planted
    link cannot redirect a token, a recording or the call database elsewhere.
    """
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_private_file(path: Path, *, create: bool = True) -> bool:
    """Make `path` a file only its owner may use (0600), without touching its content:
    created empty if missing (unless `create` is off), tightened if looser. False when it
    does not exist and `create` is off."""
    try:
        fd = _open_private(path, os.O_RDWR | (os.O_CREAT if create else 0))
    except FileNotFoundError:
        if create:
            raise
        return False
    os.close(fd)
    return True


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path`, readable by the owner only (see `_open_private`)."""
    ensure_private_dir(path.parent)
    fd = _open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


API_TOKEN_FILE = "api-token"  # noqa: S105 - a file name, not a secret


def ensure_api_token(data_dir: Path) -> str:
    """The local API's bearer token, created on first start."""
    path = data_dir / API_TOKEN_FILE
    if path.is_file():
        token = path.read_text(encoding="ascii").strip()
        if len(token) >= 32:
            path.chmod(0o600)
            return token
    token = secrets.token_urlsafe(32)
    write_private(path, token.encode("ascii") + b"\n")
    return token


def adopt_api_token(data_dir: Path, token: str) -> None:
    """Keep `token` (the one all instances share) as this machine's, for its local clients."""
    write_private(data_dir / API_TOKEN_FILE, token.encode("ascii") + b"\n")


def read_api_token(data_dir: Path) -> str | None:
    try:
        return (data_dir / API_TOKEN_FILE).read_text(encoding="ascii").strip() or None
    except OSError:
        return None
