"""`campaign accounts check` against the loopback fakes: who we are, or what is wrong."""

from __future__ import annotations

from pathlib import Path

from conftest import Cli
from fakes.pds import CREATE_SESSION, FakePDS
from fakes.x_api import FakeX

X_SECRET = "x-secret-for-accounts-test"
PASSWORD = "bsky-pw-for-accounts-test"


def _env(fx: FakeX, pds: FakePDS, password: str) -> dict[str, str]:
    return {
        "X_API_KEY": fx.api_key,
        "X_API_SECRET": X_SECRET,
        "X_ACCESS_TOKEN": fx.access_token,
        "X_ACCESS_TOKEN_SECRET": X_SECRET,
        "X_API_BASE_URL": fx.base_url,
        "BLUESKY_HANDLE": pds.handle,
        "BLUESKY_APP_PASSWORD": password,
        "BLUESKY_PDS_URL": pds.base_url,
    }


def test_check_names_both_accounts_without_posting(cli: Cli) -> None:
    with FakeX() as fx, FakePDS(password=PASSWORD) as pds:
        result = cli("accounts", "check", env=_env(fx, pds, PASSWORD))
        assert result.code == 0, result.stderr
        assert f"x: ok, @{fx.username}" in result.stdout
        assert f"bluesky: ok, @{pds.handle}" in result.stdout
        assert fx.tweets == [] and pds.records == {}
    assert X_SECRET not in result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_check_says_what_is_wrong(cli: Cli) -> None:
    with FakeX() as fx, FakePDS(password=PASSWORD) as pds:
        fx.unauthorized(True)
        result = cli("accounts", "check", env=_env(fx, pds, "wrong-password-xyz"))
    assert result.code == 1
    assert "X_API_KEY" in result.stderr and "401" in result.stderr
    assert "BLUESKY_APP_PASSWORD" in result.stderr
    assert "wrong-password-xyz" not in result.stdout + result.stderr
    assert X_SECRET not in result.stdout + result.stderr


def test_check_names_missing_variables(cli: Cli) -> None:
    result = cli("accounts", "check", "--platform", "bluesky")
    assert result.code == 1
    assert "BLUESKY_HANDLE" in result.stderr and "BLUESKY_APP_PASSWORD" in result.stderr


def test_check_proves_the_password_configured_now_not_a_saved_session(
    cli: Cli, tmp_path: Path
) -> None:
    with FakeX() as fx, FakePDS(password=PASSWORD) as pds:
        good = cli("accounts", "check", "-p", "bluesky", env=_env(fx, pds, PASSWORD))
        assert good.code == 0, good.stderr
        session_file = tmp_path / "data" / "bluesky-session"
        saved = session_file.read_text(encoding="utf-8")
        assert PASSWORD not in saved  # a keyed hash of it, never the password

        wrong = cli("accounts", "check", "-p", "bluesky", env=_env(fx, pds, "not-the-password"))
        again = cli("accounts", "check", "-p", "bluesky", env=_env(fx, pds, PASSWORD))
        logins = pds.requests[CREATE_SESSION]

    assert wrong.code == 1
    assert "Bluesky rejected the login" in wrong.stderr
    assert again.code == 0, again.stderr
    assert logins == 2  # the good password again resumes the session made from it
