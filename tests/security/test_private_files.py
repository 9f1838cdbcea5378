"""Private files: directories 0700 and files 0600 from creation, whatever the umask."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from voicecall_rt.private_files import (
    API_TOKEN_FILE,
    ensure_api_token,
    ensure_private_dir,
    read_api_token,
    write_private,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- directories


def test_dir_created_0700(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "data"
    assert ensure_private_dir(target) == target
    assert target.is_dir()
    assert mode(target) == 0o700


def test_nested_dir_created_0700(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "a" / "b" / "c"
    ensure_private_dir(target)
    assert mode(target) == 0o700


@pytest.mark.parametrize("loose", [0o755, 0o777, 0o750, 0o701, 0o770])
def test_existing_loose_dir_tightened(tmp_path: Path, loose: int) -> None:
    target = tmp_path / "data"
    target.mkdir()
    target.chmod(loose)
    ensure_private_dir(target)
    assert mode(target) == 0o700


def test_existing_private_dir_kept(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.mkdir(mode=0o700)
    (target / "keep").write_text("x", encoding="utf-8")
    ensure_private_dir(target)
    assert mode(target) == 0o700
    assert (target / "keep").read_text(encoding="utf-8") == "x"


# --------------------------------------------------------------------------- files


def test_file_written_0600_with_umask_0(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "data" / "secret.bin"
    write_private(path, b"hello")
    assert path.read_bytes() == b"hello"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_existing_loose_file_tightened_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret.bin"
    path.write_bytes(b"old contents that are longer")
    path.chmod(0o666)
    write_private(path, b"new")
    assert path.read_bytes() == b"new"  # truncated, not overlaid
    assert mode(path) == 0o600


def test_file_never_group_or_world_accessible(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "x"
    write_private(path, b"")
    assert mode(path) & 0o077 == 0


# --------------------------------------------------------------------------- API token


def test_ensure_api_token_creates_private_token(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "data"
    token = ensure_api_token(data_dir)
    assert len(token) >= 32
    assert token.isascii()
    assert token == token.strip()
    path = data_dir / API_TOKEN_FILE
    assert mode(path) == 0o600
    assert mode(data_dir) == 0o700
    assert path.read_text(encoding="ascii").strip() == token


def test_ensure_api_token_stable_across_calls(tmp_path: Path) -> None:
    first = ensure_api_token(tmp_path)
    assert ensure_api_token(tmp_path) == first
    assert ensure_api_token(tmp_path) == first
    assert read_api_token(tmp_path) == first


def test_api_tokens_differ_between_data_dirs(tmp_path: Path) -> None:
    assert ensure_api_token(tmp_path / "a") != ensure_api_token(tmp_path / "b")


def test_ensure_api_token_tightens_loose_existing_file(tmp_path: Path) -> None:
    token = ensure_api_token(tmp_path)
    path = tmp_path / API_TOKEN_FILE
    path.chmod(0o644)
    assert ensure_api_token(tmp_path) == token
    assert mode(path) == 0o600


@pytest.mark.parametrize("weak", ["", "short", "x" * 31])
def test_ensure_api_token_replaces_weak_token(tmp_path: Path, weak: str) -> None:
    path = tmp_path / API_TOKEN_FILE
    path.write_text(weak + "\n", encoding="ascii")
    path.chmod(0o644)
    token = ensure_api_token(tmp_path)
    assert token != weak
    assert len(token) >= 32
    assert mode(path) == 0o600
    assert read_api_token(tmp_path) == token


def test_read_api_token_none_when_missing(tmp_path: Path) -> None:
    assert read_api_token(tmp_path) is None
    assert read_api_token(tmp_path / "does-not-exist") is None


def test_read_api_token_none_when_empty(tmp_path: Path) -> None:
    (tmp_path / API_TOKEN_FILE).write_text("\n", encoding="ascii")
    assert read_api_token(tmp_path) is None


def test_read_api_token_does_not_create_anything(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert read_api_token(data_dir) is None
    assert not data_dir.exists()
