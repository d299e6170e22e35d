"""`campaign split` through the real CLI: JSON shape, table, and every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE, Cli, run_campaign


def test_split_json_on_the_op_ed(cli: Cli) -> None:
    result = cli(
        "split", str(EXAMPLE), "--platform", "x", "--tag", "Artsakh", "-t", "#Armenia", "--json"
    )
    assert result.code == 0, result.stderr
    posts = json.loads(result.stdout)
    assert [p["seq"] for p in posts] == list(range(1, len(posts) + 1))
    for post in posts:
        assert set(post) == {"seq", "platform", "text", "length", "limit", "attachments"}
        assert post["attachments"] == {}  # no image, link card or language asked for
        assert post["platform"] == "x" and post["limit"] == 280
        assert post["length"] <= 280
        assert "#Artsakh" in post["text"] and "#Armenia" in post["text"]
    assert 'dropped page boilerplate "Comments are closed."' in result.stderr
    assert "truncated" in result.stderr


def test_tags_default_to_the_setting(cli: Cli) -> None:
    result = cli(
        "split",
        str(EXAMPLE),
        "-p",
        "bluesky",
        "--json",
        env={"CAMPAIGN_HASHTAGS": "#Artsakh #Armenia"},
    )
    assert result.code == 0, result.stderr
    assert all("#Artsakh" in p["text"] for p in json.loads(result.stdout))


def test_split_table(cli: Cli) -> None:
    result = cli("split", str(EXAMPLE), "--platform", "bluesky", "--tag", "Artsakh")
    assert result.code == 0
    assert "posts for bluesky" in result.stdout
    assert "/300" in result.stdout


def test_split_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert cli("split", str(EXAMPLE), "--platform", "x", "--json").code == 0
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def _bad(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_file(cli: Cli) -> None:
    assert "not found" in _bad(cli, "split", "nope.txt", "--platform", "x")


def test_directory(cli: Cli, tmp_path: Path) -> None:
    assert "directory" in _bad(cli, "split", str(tmp_path), "--platform", "x")


def test_empty_and_blank(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("  \n\n\t \n")
    assert "empty" in _bad(cli, "split", str(tmp_path / "empty.txt"), "--platform", "x")
    _bad(cli, "split", str(tmp_path / "blank.txt"), "--platform", "x")


def test_binary(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "image.txt").write_bytes(bytes(range(256)) * 20)
    assert "binary" in _bad(cli, "split", str(tmp_path / "image.txt"), "--platform", "x")


def test_too_big(cli: Cli, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("Word. " * 2000)
    result = cli("split", str(big), "--platform", "x", env={"CAMPAIGN_MAX_ARTICLE_BYTES": "1000"})
    assert result.code == 2 and "too big" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_undecodable_bytes_are_detected_with_a_warning(cli: Cli, tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes(
        "Café au lait est très bon. Le garçon arrive à l'heure.\n".encode("cp1252") * 5
    )
    result = cli("split", str(latin), "--platform", "x", "--json")
    assert result.code == 0, result.stderr
    assert "Café" in result.stdout
    assert "warning" in result.stderr


def test_unknown_platform(cli: Cli) -> None:
    assert "platform" in _bad(cli, "split", str(EXAMPLE), "--platform", "myspace")


def test_invalid_tag(cli: Cli) -> None:
    assert "invalid tag" in _bad(
        cli, "split", str(EXAMPLE), "--platform", "x", "--tag", "two words"
    )


def test_invalid_tags_on(cli: Cli) -> None:
    _bad(cli, "split", str(EXAMPLE), "--platform", "x", "--tags-on", "middle")


def test_invalid_link(cli: Cli) -> None:
    _bad(cli, "split", str(EXAMPLE), "--platform", "x", "--link", "not a link")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    env = {"CAMPAIGN_DEBUG": "1", "PATH": "", "HOME": str(tmp_path)}
    result = run_campaign("split", "nope.txt", "--platform", "x", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version(flag: str, tmp_path: Path) -> None:
    result = run_campaign(flag, cwd=tmp_path)
    assert result.returncode == 0
    assert "campaign" in result.stdout


def test_help_does_not_import_the_sdks_sqlalchemy_or_pillow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['campaign', '--help']\n"
        "from scheduler.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tweepy', 'atproto', 'mastodon', 'sqlalchemy', 'pydantic', 'PIL',"
        " 'httpx') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_usage_errors_are_one_line(cli: Cli) -> None:
    assert "article" in _bad(cli, "split", "--platform", "x").lower()
    assert "--bogus" in _bad(cli, "split", str(EXAMPLE), "--platform", "x", "--bogus")


def campaign_with_input(
    data: bytes, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`campaign ARGS` in a child process, `data` on its standard input."""
    return subprocess.run(
        [sys.executable, "-m", "scheduler.cli.app", *args],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_split_reads_the_article_from_standard_input() -> None:
    from_file = run_campaign("split", str(EXAMPLE), "-p", "x", "--json")
    from_stdin = campaign_with_input(EXAMPLE.read_bytes(), "split", "-", "-p", "x", "--json")

    assert from_stdin.returncode == 0, from_stdin.stderr
    assert json.loads(from_stdin.stdout) == json.loads(from_file.stdout)


def test_a_saved_web_page_on_standard_input_is_read_as_html() -> None:
    page = (
        b"<html><body><article><h1>Title</h1>"
        b"<p>Plain words. Enough of them.</p></article></body></html>"
    )

    result = campaign_with_input(page, "split", "-", "-p", "bluesky", "--json")

    assert result.returncode == 0, result.stderr
    texts = [p["text"] for p in json.loads(result.stdout)]
    assert "<p>" not in "".join(texts) and "Plain words." in "".join(texts)


def test_queue_from_standard_input_needs_a_campaign_name(tmp_path: Path) -> None:
    env = {"CAMPAIGN_DATA_DIR": str(tmp_path / "data")}
    data = b"A short article. It says one thing.\n"

    nameless = campaign_with_input(data, "queue", "-", "-p", "x", "--start", "+1h", env=env)
    named = campaign_with_input(
        data, "queue", "-", "-p", "x", "--start", "+1h", "--campaign", "piped", "--json", env=env
    )

    assert nameless.returncode == 2
    assert b"an article read from standard input needs --campaign NAME" in nameless.stderr
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["campaign"] == "piped"
