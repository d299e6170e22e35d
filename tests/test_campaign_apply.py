"""A campaign as a file: `plan` writes what `queue` would queue, `export` writes a queued
campaign, `apply` shows the diff and makes the database match, all of it or nothing.

Through the CLI, on SQLite and PostgreSQL. A refused apply leaves every row as it was.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, snapshot, stored_posts
from plans import queue

from scheduler.model import Job, PlannedPost, Platform, Published, RemoteRef
from scheduler.store import Store, open_store

START = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
WHEN = ("--start", START.isoformat(), "--every", "2h")
TAGS = ("-t", "Artsakh", "-t", "Armenia")


@pytest.fixture
def db(reused_db_url: str) -> dict[str, str]:
    open_store(reused_db_url).close()
    return {"CAMPAIGN_DATABASE_URL": reused_db_url, "CAMPAIGN_TZ": "Asia/Yerevan"}


def planned_file(cli: Cli, db: dict[str, str], article: Path, tmp_path: Path, *args: str) -> Path:
    path = tmp_path / "campaign.toml"
    result = cli("plan", str(article), "-p", "x", "-p", "bluesky", *WHEN, *TAGS, *args,
                 "-o", str(path), env=db)  # fmt: skip
    assert result.code == 0, result.stderr
    return path


def exported(cli: Cli, db: dict[str, str], name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.toml"
    result = cli("export", name, "-o", str(path), env=db)
    assert result.code == 0, result.stderr
    return path


def applied(cli: Cli, db: dict[str, str], path: Path, *args: str) -> str:
    result = cli("apply", str(path), "--yes", *args, env=db)
    assert result.code == 0, result.stderr
    return result.stdout


def posts_of(cli: Cli, db: dict[str, str], campaign: str) -> list[dict[str, Any]]:
    result = cli("list", "--campaign", campaign, "--json", env=db)
    assert result.code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def shape(url: str, campaign_ids: set[int]) -> list[tuple[Any, ...]]:
    """Every stored post of these campaigns as what it is, not where it is: platform, seq,
    text, body, time, status, and the seq it replies to."""
    rows = [r for r in stored_posts(url) if r["campaign_id"] in campaign_ids]
    seq_of = {r["id"]: r["seq"] for r in rows}
    return sorted(
        (r["platform"], r["seq"], r["text"], r["body"], r["scheduled_at"], r["status"],
         seq_of.get(r["parent_id"]))
        for r in rows
    )  # fmt: skip


def campaign_ids(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT name, id FROM campaigns")).all())
    finally:
        engine.dispose()


def refused(cli: Cli, db: dict[str, str], path: Path, says: str, code: int = 2) -> str:
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])
    result = cli("apply", str(path), "--yes", env=db)
    assert result.code == code, (result.stdout, result.stderr)
    assert says in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before
    return result.stderr


def edit_file(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in the file"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def publish(store: Store, post_id: int) -> None:
    later = datetime.now(UTC) + timedelta(days=60)
    jobs: dict[int, Job] = {}
    while post_id not in jobs:
        taken = store.claim("w", later, timedelta(minutes=5), 100, [Platform.X, Platform.BLUESKY])
        assert taken
        jobs.update({j.post_id: j for j in taken})
        for job in taken:
            store.record(job, Published(RemoteRef(id=f"r{job.post_id}")), "w", later)


# -- plan -------------------------------------------------------------------------------------


def test_plan_then_apply_queues_what_queue_queues(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    path = planned_file(cli, db, article, tmp_path, "--campaign", "from-file")
    queued = cli("queue", str(article), "-p", "x", "-p", "bluesky", *WHEN, *TAGS,
                 "--campaign", "from-queue", env=db)  # fmt: skip
    assert queued.code == 0, queued.stderr

    out = applied(cli, db, path)

    assert "campaign 'from-file' queued with" in out
    url = db["CAMPAIGN_DATABASE_URL"]
    ids = campaign_ids(url)
    assert shape(url, {ids["from-file"]}) == shape(url, {ids["from-queue"]})
    files = {c["name"]: c for c in json.loads(cli("campaigns", "--json", env=db).stdout)}
    assert files["from-file"]["counts"] == files["from-queue"]["counts"]


def test_plan_touches_no_database(article: Path, tmp_path: Path, cli: Cli) -> None:
    data = tmp_path / "fresh-data"
    path = tmp_path / "c.toml"

    result = cli("plan", str(article), "-p", "x", *WHEN, "-o", str(path),
                 env={"CAMPAIGN_DATA_DIR": str(data)})  # fmt: skip

    assert result.code == 0, result.stderr
    assert not data.exists()
    text = path.read_text(encoding="utf-8")
    assert "[campaign]" in text and 'name = "op-ed"' in text and "[[posts]]" in text
    assert "+04:00" not in text  # the default zone here is UTC
    assert re.search(r"^at = \d{4}-\d\d-\d\dT09:00:00(Z|\+00:00)$", text, re.MULTILINE)


def test_plan_writes_to_stdout_and_reads_the_article_from_stdin(
    article: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(article.read_bytes())))

    result = cli("plan", "-", "-p", "x", *WHEN, "--campaign", "piped")

    assert result.code == 0, result.stderr
    assert 'name = "piped"' in result.stdout and "Paragraph 1 makes its case" in result.stdout


# -- export and apply -------------------------------------------------------------------------


def test_export_then_apply_with_no_edits_changes_nothing(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path, store: Store
) -> None:
    applied(cli, db, planned_file(cli, db, article, tmp_path))
    rows = posts_of(cli, db, "op-ed")
    publish(store, rows[0]["id"])
    assert cli("cancel", str(rows[-1]["id"]), env=db).code == 0
    path = exported(cli, db, "op-ed", tmp_path)
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])

    result = cli("apply", str(path), env=db)

    assert result.code == 0, result.stderr
    assert result.stdout.strip() == f"no changes: campaign 'op-ed' matches {path}"
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before
    text = path.read_text(encoding="utf-8")
    assert 'status = "published"' in text and 'status = "cancelled"' in text
    assert f"id = {rows[0]['id']}" in text


def test_applying_the_same_file_twice_changes_nothing_the_second_time(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    path = planned_file(cli, db, article, tmp_path)
    applied(cli, db, path)
    edit_file(path, "Paragraph 2 makes", "Paragraph two makes")
    applied(cli, db, path)
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])

    again = cli("apply", str(path), "--yes", env=db)

    assert again.code == 0 and again.stdout.startswith("no changes")
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before


def test_apply_changes_texts_times_and_cancels_posts_left_out(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    applied(cli, db, planned_file(cli, db, article, tmp_path))
    path = exported(cli, db, "op-ed", tmp_path)
    rows = {(r["platform"], r["seq"]): r for r in posts_of(cli, db, "op-ed")}
    first, second, third = rows[("x", 1)], rows[("x", 2)], rows[("x", 3)]
    edit_file(path, "Paragraph 1 makes its case plainly", "Paragraph 1 makes its case well")
    later = (START + timedelta(minutes=30)).astimezone().isoformat()
    text = path.read_text(encoding="utf-8")
    # x post 2 is dropped from the file; post 1 moves half an hour later.
    entries = text.split("\n[[posts]]\n")
    kept = [e for e in entries if f"id = {second['id']}\n" not in e]
    kept = [
        re.sub(r"^at = .*$", f"at = {later}", e, flags=re.MULTILINE)
        if f"id = {first['id']}\n" in e
        else e
        for e in kept
    ]
    path.write_text("\n[[posts]]\n".join(kept), encoding="utf-8")

    shown = cli("apply", str(path), env=db)  # no terminal: the diff only
    out = applied(cli, db, path)

    assert shown.code == 1 and "pass --yes to apply" in shown.stderr
    assert f"~ post {first['id']} (x 1) text:" in shown.stdout
    assert f"~ post {first['id']} (x 1) time:" in shown.stdout
    assert f"- post {second['id']} (x 2) cancelled:" in shown.stdout
    assert "1 text changed, 1 time changed, 1 post cancelled" in out
    post = json.loads(cli("show", str(first["id"]), "--json", env=db).stdout)
    assert "Paragraph 1 makes its case well" in post["text"]
    assert post["scheduled_at"] == (START + timedelta(minutes=30)).isoformat().replace(
        "+00:00", "Z"
    )
    dropped = json.loads(cli("show", str(second["id"]), "--json", env=db).stdout)
    assert dropped["status"] == "cancelled"
    reply = json.loads(cli("show", str(third["id"]), "--json", env=db).stdout)
    assert reply["replies_to"] == first["id"] and reply["status"] == "queued"  # keeps the thread


def test_a_new_post_in_the_file_joins_its_thread_at_its_seq(
    cli: Cli, db: dict[str, str], store: Store, tmp_path: Path
) -> None:
    at = START
    queue(store, [
        PlannedPost(Platform.X, 1, "first post", at, True, body="first post"),
        PlannedPost(Platform.X, 3, "third post", at + timedelta(hours=2), True),
    ], "gaps", now=datetime.now(UTC))  # fmt: skip
    path = exported(cli, db, "gaps", tmp_path)
    with path.open("a", encoding="utf-8") as end:
        for seq, hours, text in ((2, 1, "second post"), (4, 3, "fourth post")):
            when = (at + timedelta(hours=hours)).isoformat()
            end.write(f'\n[[posts]]\nplatform = "x"\nseq = {seq}\nat = {when}\ntext = "{text}"\n')

    out = applied(cli, db, path)

    assert "2 posts added" in out
    rows = {r["seq"]: r for r in posts_of(cli, db, "gaps")}
    replies = {s: json.loads(cli("show", str(r["id"]), "--json", env=db).stdout)["replies_to"]
               for s, r in rows.items()}  # fmt: skip
    assert replies == {1: None, 2: rows[1]["id"], 3: rows[2]["id"], 4: rows[3]["id"]}


def test_apply_is_all_or_nothing(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    path = planned_file(cli, db, article, tmp_path)
    applied(cli, db, path)
    edit_file(path, "Paragraph 2 makes", "Paragraph two makes")  # fine on its own
    edit_file(path, "Paragraph 3 makes", "Paragraph 3 " + "goes on and on " * 30)  # too long

    message = refused(cli, db, path, says="nothing was applied")

    assert re.search(r"line \d+: the text of post \d+ is \d+ characters by X's count", message)


def test_apply_refuses_what_it_cannot_do_and_names_each_reason(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path, store: Store
) -> None:
    applied(cli, db, planned_file(cli, db, article, tmp_path))
    rows = posts_of(cli, db, "op-ed")
    publish(store, rows[0]["id"])
    path = exported(cli, db, "op-ed", tmp_path)
    good = path.read_text(encoding="utf-8")
    published = rows[0]["id"]

    cases: list[tuple[str, str]] = [
        (good.replace('status = "published"', 'status = "queued"', 1),
         f"post {published}: status is read-only: the file says 'queued', the database "
         "'published'"),
        (good.replace("Paragraph 1 makes", "Paragraph one makes", 1),
         f"post {published} is published: its text can no longer change"),
        (good.replace(f"id = {published}\n", "id = 99999\n", 1), "there is no post 99999"),
        (good.replace('platform = "x"', 'platfrom = "x"', 1), "unknown key 'platfrom'"),
        (good.replace("[[posts]]", "[[posts]\n", 1), "line"),
        (good + '\n[[posts]]\nplatform = "x"\nseq = 99\nat = 2001-01-01T00:00:00Z\ntext = "old"\n',
         "in the past (pass --allow-past"),
    ]  # fmt: skip
    for text, says in cases:
        path.write_text(text, encoding="utf-8")
        refused(cli, db, path, says=says)
    entries = good.split("\n[[posts]]\n")
    path.write_text("\n[[posts]]\n".join(e for e in entries if f"id = {published}\n" not in e))
    refused(cli, db, path, says=f"post {published} (x 1) is published: a file cannot remove it")


def test_a_file_naming_posts_of_another_campaign_is_refused(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    applied(cli, db, planned_file(cli, db, article, tmp_path))
    path = exported(cli, db, "op-ed", tmp_path)
    edit_file(path, 'name = "op-ed"', 'name = "renamed-in-the-file"')

    refused(cli, db, path, says="belongs to campaign 'op-ed', not 'renamed-in-the-file'")


def test_apply_json_prints_the_diff_and_applies_with_yes(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    path = planned_file(cli, db, article, tmp_path)

    dry = cli("apply", str(path), "--json", env=db)
    done = cli("apply", str(path), "--json", "--yes", env=db)

    assert dry.code == 1
    diff = json.loads(dry.stdout)
    assert diff["new_campaign"] is True and diff["applied"] is False
    assert len(diff["added"]) == len(json.loads(done.stdout)["added"])
    assert json.loads(done.stdout)["applied"] is True
    assert len(posts_of(cli, db, "op-ed")) == len(diff["added"])


def test_settings_changed_in_the_file_frame_later_edits(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    path = planned_file(cli, db, article, tmp_path)
    applied(cli, db, path)
    edit_file(path, 'tags = ["#Artsakh", "#Armenia"]', 'tags = ["#Artsakh"]')

    out = applied(cli, db, path)
    first = posts_of(cli, db, "op-ed")[0]
    assert cli("edit", str(first["id"]), "--text", "New words.", env=db).code == 0

    assert "settings changed" in out
    text = json.loads(cli("show", str(first["id"]), "--json", env=db).stdout)["text"]
    assert text.endswith("New words.\n\n#Artsakh")


# -- csv and ics ------------------------------------------------------------------------------


def test_export_csv_and_ics_carry_the_schedule_and_texts(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    import csv
    import io

    applied(cli, db, planned_file(cli, db, article, tmp_path))
    rows = posts_of(cli, db, "op-ed")

    table = cli("export", "op-ed", "--format", "csv", env=db)
    calendar = cli("export", "op-ed", "--format", "ics", env=db)

    assert table.code == 0 and calendar.code == 0
    read = list(csv.DictReader(io.StringIO(table.stdout)))
    assert sorted(r["text"] for r in read) == sorted(r["text"] for r in rows)
    assert read[0]["at"].endswith("+04:00")  # the campaign's zone
    assert calendar.stdout.startswith("BEGIN:VCALENDAR\r\n")
    assert calendar.stdout.count("BEGIN:VEVENT") == len(rows)
    assert f"UID:post-{rows[0]['id']}@campaign" in calendar.stdout
    assert START.strftime("DTSTART:%Y%m%dT%H%M%SZ") in calendar.stdout
    refused_format = cli("export", "op-ed", "--format", "xml", env=db)
    assert refused_format.code == 2 and "choose toml, csv or ics" in refused_format.stderr
