"""A person reviewing a campaign before it goes out: show, list, campaigns, edit,
reschedule, pause and resume, cancel --keep-thread, rename, delete, log --tz.

Every command runs through the CLI on SQLite and on PostgreSQL; a change that must be
refused leaves the database exactly as it was (compared row by row). Where time matters
(how far `resume` moves posts), the store's own methods take `now`.
"""

from __future__ import annotations

import json
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, snapshot
from plans import every, planned, queue

from scheduler.model import Job, Published, RemoteRef, TextChange
from scheduler.store import Store, open_store

LEASE = timedelta(minutes=5)
TAGS = ("-t", "Artsakh", "-t", "Armenia")


@pytest.fixture
def db(reused_db_url: str) -> dict[str, str]:
    open_store(reused_db_url).close()  # created, so a refusal can be compared with it
    return {"CAMPAIGN_DATABASE_URL": reused_db_url}


def queued(cli: Cli, db: dict[str, str], article: Path, *args: str) -> list[dict[str, Any]]:
    """Queue the article on X (and what `args` add), an hour out, every hour."""
    result = cli(
        "queue", str(article), "-p", "x", "--start", "+1h", "--every", "1h", *TAGS, *args,
        "--json", env=db,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    posts: list[dict[str, Any]] = json.loads(result.stdout)["posts"]
    assert len(posts) >= 3
    return posts


def shown(cli: Cli, db: dict[str, str], post_id: int) -> dict[str, Any]:
    result = cli("show", str(post_id), "--json", env=db)
    assert result.code == 0, result.stderr
    post: dict[str, Any] = json.loads(result.stdout)
    return post


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def publish(store: Store, post_id: int) -> None:
    """Take the post through the daemon's own path: claimed, then published."""
    jobs: dict[int, Job] = {}
    later = datetime.now(UTC) + timedelta(days=30)
    while post_id not in jobs:
        taken = store.claim("test-worker", later, LEASE, 100, ["x", "bluesky"])  # type: ignore[list-item]
        assert taken, f"post {post_id} was never claimable"
        jobs.update({j.post_id: j for j in taken})
        for job in taken:
            store.record(job, Published(RemoteRef(id=f"r{job.post_id}")), "test-worker", later)


def refused(cli: Cli, db: dict[str, str], *args: str, says: str) -> None:
    """The command is refused in one sentence, exit 2, and nothing in the database moved."""
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])
    result = cli(*args, env=db)
    assert result.code == 2, (result.stdout, result.stderr)
    assert says in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before


# -- seeing -----------------------------------------------------------------------------------


def test_show_prints_the_whole_text_its_state_and_its_log(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)
    second = posts[1]

    text = cli("show", str(second["id"]), "--tz", "Asia/Yerevan", env=db)
    post = shown(cli, db, second["id"])

    assert text.code == 0, text.stderr
    for line in second["text"].split("\n"):
        assert line in text.stdout  # the whole text, line by line
    assert f"post {posts[0]['id']}" in text.stdout  # what it replies to
    assert "+04" in text.stdout and "Asia/Yerevan" in text.stdout
    assert post["text"] == second["text"]
    assert post["replies_to"] == posts[0]["id"]
    assert post["status"] == "queued" and post["attempts"] == 0 and post["revision"] == 1
    assert post["length"] <= post["limit"] == 280
    assert [e["kind"] for e in post["log"]] == ["queued"]


def test_show_of_an_unknown_post_is_one_sentence(cli: Cli, db: dict[str, str]) -> None:
    refused(cli, db, "show", "999", says="no post with id 999")


def test_list_shows_each_posts_first_line_cut_to_fit_and_n_limits(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)

    table = cli("list", "-n", "2", "--tz", "Asia/Yerevan", env={**db, "COLUMNS": "80"})
    rows = json.loads(cli("list", "--json", env=db).stdout)

    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "2 posts, times in Asia/Yerevan" in table.stdout
    assert f"1/{len(posts)} Paragraph 1" in table.stdout
    assert f"3/{len(posts)}" not in table.stdout  # -n 2: the first two only
    assert [r["text"] for r in rows] == [p["text"] for p in posts]


def test_campaigns_lists_each_with_counts_times_and_paused(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    first = queued(cli, db, article, "--campaign", "one")
    queued(cli, db, article, "--campaign", "two", "-p", "bluesky")
    assert cli("cancel", str(first[-1]["id"]), env=db).code == 0
    assert cli("pause", "two", env=db).code == 0

    rows = {c["name"]: c for c in json.loads(cli("campaigns", "--json", env=db).stdout)}
    table = cli("campaigns", env=db)

    assert rows["one"]["platforms"] == ["x"]
    assert rows["two"]["platforms"] == ["bluesky", "x"]
    assert rows["one"]["counts"] == {"cancelled": 1, "queued": len(first) - 1}
    assert rows["one"]["first"] == first[0]["scheduled_at"]
    assert rows["one"]["next"] == first[0]["scheduled_at"]
    assert rows["one"]["last"] == first[-1]["scheduled_at"]
    assert (rows["one"]["paused"], rows["two"]["paused"]) == (False, True)
    assert "paused" in table.stdout and "active" in table.stdout


def test_log_shows_times_in_the_zone_asked_for(cli: Cli, db: dict[str, str], article: Path) -> None:
    queued(cli, db, article)

    yerevan = cli("log", "--tz", "Asia/Yerevan", env=db)
    new_york = cli("log", "--tz", "America/New_York", env=db)

    assert "times in Asia/Yerevan" in yerevan.stdout and "(+04)" in yerevan.stdout
    assert "times in America/New_York" in new_york.stdout and "(EST)" in new_york.stdout


# -- editing ----------------------------------------------------------------------------------


def test_edit_frames_the_new_body_like_a_split_post(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)
    second = posts[1]
    total = len(posts)

    result = cli("edit", str(second["id"]), "--text", "  A sharper second post.\n", env=db)
    post = shown(cli, db, second["id"])

    assert result.code == 0, result.stderr
    assert post["text"] == f"2/{total} A sharper second post.\n\n#Artsakh #Armenia"
    assert post["revision"] == 2
    [edited] = [e for e in post["log"] if e["kind"] == "edited"]
    assert edited["detail"]["old"] == second["text"]
    assert edited["detail"]["new"] == post["text"]
    assert edited["detail"]["revision"] == 2


def test_edit_exact_publishes_the_text_as_given(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)

    result = cli("edit", str(posts[0]["id"]), "--exact", "--text", "Only this.", env=db)

    assert result.code == 0, result.stderr
    assert shown(cli, db, posts[0]["id"])["text"] == "Only this."


def test_edit_reads_the_text_from_a_file_or_standard_input(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    posts = queued(cli, db, article)
    new = tmp_path / "new.txt"
    new.write_text("From a file, with ünïcödé.\n", encoding="utf-8")

    result = cli("edit", str(posts[2]["id"]), "--text-file", str(new), env=db)

    assert result.code == 0, result.stderr
    assert "From a file, with ünïcödé." in shown(cli, db, posts[2]["id"])["text"]


def editor(tmp_path: Path, script: str) -> str:
    """An $EDITOR command: a Python script run on the file to edit."""
    path = tmp_path / "editor.py"
    path.write_text(
        f"import pathlib, sys\np = pathlib.Path(sys.argv[1])\n{script}\n", encoding="utf-8"
    )
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(path))}"


def test_edit_opens_the_editor_on_the_body(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    posts = queued(cli, db, article)
    seen = tmp_path / "seen.txt"
    command = editor(
        tmp_path,
        f"pathlib.Path({str(seen)!r}).write_text(p.read_text())\n"
        "p.write_text(p.read_text().replace('Paragraph', 'Section'))",
    )

    result = cli("edit", str(posts[0]["id"]), env={**db, "VISUAL": command})
    post = shown(cli, db, posts[0]["id"])

    assert result.code == 0, result.stderr
    body = seen.read_text()
    assert not body.startswith("1/") and "#Artsakh" not in body  # the body, not the frame
    assert post["text"].startswith(f"1/{len(posts)} Section 1 makes its case")
    assert post["text"].endswith("#Artsakh #Armenia")


@pytest.mark.parametrize(
    ("script", "code", "says"),
    [
        ("pass", 0, "is unchanged"),
        ("p.write_text('  \\n')", 1, "the text is empty"),
    ],
    ids=["unchanged", "emptied"],
)
def test_edit_in_the_editor_unchanged_or_empty_changes_nothing(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path, script: str, code: int, says: str
) -> None:
    posts = queued(cli, db, article)
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])

    result = cli("edit", str(posts[0]["id"]), env={**db, "EDITOR": editor(tmp_path, script)})

    assert result.code == code
    assert says in result.stderr
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before


def test_edit_refuses_bad_input_in_one_sentence_and_changes_nothing(
    cli: Cli, db: dict[str, str], article: Path, store: Store
) -> None:
    posts = queued(cli, db, article)
    publish(store, posts[0]["id"])
    long = "word " * 70

    refused(cli, db, "edit", "999", "--text", "x", says="no post with id 999")
    refused(cli, db, "edit", str(posts[1]["id"]), "--text", long,
            says="characters by X's count (every link counts 23); X allows 280")  # fmt: skip
    refused(cli, db, "edit", str(posts[0]["id"]), "--text", "too late",
            says=f"post {posts[0]['id']} is published: its text can no longer change")  # fmt: skip
    refused(cli, db, "edit", str(posts[1]["id"]), "--text", " ", says="is empty")
    refused(cli, db, "edit", str(posts[1]["id"]), says="set $VISUAL or $EDITOR")


def test_edit_refuses_a_text_changed_by_someone_else_meanwhile(
    cli: Cli, db: dict[str, str], article: Path, store: Store
) -> None:
    posts = queued(cli, db, article)
    post = store.post(posts[1]["id"])
    mine = TextChange(post.id, post.text, "mine", None, post.revision)
    theirs = TextChange(post.id, post.text, "theirs", None, post.revision)
    store.edit(theirs, now=datetime.now(UTC))

    with pytest.raises(Exception, match="edited by someone else meanwhile"):
        store.edit(mine, now=datetime.now(UTC))

    assert store.post(post.id).text == "theirs"


def test_bluesky_edit_is_measured_in_graphemes(cli: Cli, db: dict[str, str], article: Path) -> None:
    posts = queued(cli, db, article, "-p", "bluesky")
    sky = next(p for p in posts if p["platform"] == "bluesky")

    refused(cli, db, "edit", str(sky["id"]), "--exact", "--text", "é" * 301,
            says="is 301 graphemes; Bluesky allows 300")  # fmt: skip
    assert cli("edit", str(sky["id"]), "--exact", "--text", "é" * 300, env=db).code == 0


# -- rescheduling -----------------------------------------------------------------------------


def times(cli: Cli, db: dict[str, str]) -> dict[int, datetime]:
    rows = json.loads(cli("list", "--json", env=db).stdout)
    return {r["id"]: when(r["scheduled_at"]) for r in rows}


def test_reschedule_shift_moves_later_or_earlier(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article, "--every", "2h")
    ids = [str(p["id"]) for p in posts]
    before = times(cli, db)

    later = cli("reschedule", *ids, "--shift", "90m", env=db)
    earlier = cli("reschedule", *ids, "--shift", "-30m", env=db)

    assert later.code == 0 and earlier.code == 0, (later.stderr, earlier.stderr)
    after = times(cli, db)
    assert all(after[i] - before[i] == timedelta(hours=1) for i in before)
    log = json.loads(cli("log", "--kind", "rescheduled", "--json", env=db).stdout)
    assert len(log) == 2 * len(posts)
    assert {"old", "new"} <= set(log[0]["detail"])


def test_reschedule_a_campaign_from_a_new_start_every_so_often(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)

    result = cli(
        "reschedule", "--campaign", "op-ed", "--start", start.isoformat(), "--every", "15m",
        env=db,
    )  # fmt: skip

    assert result.code == 0, result.stderr
    after = times(cli, db)
    assert [after[p["id"]] for p in posts] == every(start, len(posts), timedelta(minutes=15))


def test_reschedule_at_moves_a_post_to_that_time(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)
    last = posts[-1]

    result = cli("reschedule", str(last["id"]), "--at", "+30d", env=db)

    assert result.code == 0, result.stderr
    moved = times(cli, db)[last["id"]]
    assert abs(moved - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)


def test_reschedule_never_puts_a_reply_before_its_parent(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)
    second, third = posts[1]["id"], posts[2]["id"]

    refused(cli, db, "reschedule", str(third), "--shift", "-90m",
            says=f"post {third} replies to post {second} but would go out before it")  # fmt: skip
    refused(cli, db, "reschedule", str(second), "--shift", "2h",
            says=f"post {third} replies to post {second} but would go out before it")  # fmt: skip
    # Moving the thread together keeps its order.
    assert cli("reschedule", "--campaign", "op-ed", "--shift", "2h", env=db).code == 0


def test_reschedule_refuses_the_past_unless_allowed(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)
    first = str(posts[0]["id"])

    refused(cli, db, "reschedule", first, "--shift", "-2h", says="in the past; pass --allow-past")
    refused(cli, db, "reschedule", "999", "--at", "+1h", says="no post with id 999")
    refused(cli, db, "reschedule", first, "--at", "+1h", "--shift", "1h", says="give one of")
    refused(cli, db, "reschedule", first, "--every", "1h", says="give one of")
    refused(cli, db, "reschedule", first, "--at", "soon", says="invalid time 'soon'")
    assert cli("reschedule", first, "--shift", "-2h", "--allow-past", env=db).code == 0


def test_reschedule_of_a_published_post_is_refused(
    cli: Cli, db: dict[str, str], article: Path, store: Store
) -> None:
    posts = queued(cli, db, article)
    publish(store, posts[0]["id"])

    refused(cli, db, "reschedule", str(posts[0]["id"]), "--shift", "1h",
            says="is published: its time can no longer change")  # fmt: skip


def test_reschedule_warns_when_the_new_times_outrun_the_budget(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    queued(cli, db, article)

    result = cli(
        "reschedule", "--campaign", "op-ed", "--start", "+1d", "--every", "1s",
        env={**db, "CAMPAIGN_X_BUDGET_POSTS": "2"},
    )  # fmt: skip

    assert result.code == 0, result.stderr
    assert "exceed the posting budget of 2 per" in result.stderr


# -- pausing ----------------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_a_paused_campaigns_posts_are_not_claimed_and_resume_keeps_the_spacing(
    store: Store,
) -> None:
    posts = queue(store, planned("x", every(NOW, 4, timedelta(minutes=10))), "calm", now=NOW)
    other = queue(store, planned("bluesky", [NOW]), "other", now=NOW)

    store.pause("calm", now=NOW - timedelta(minutes=1))
    claimed = store.claim("w", NOW + timedelta(hours=2), LEASE, 10, ["x", "bluesky"])  # type: ignore[list-item]
    paused_at, moved = store.resume("calm", now=NOW + timedelta(minutes=59))

    assert [j.post_id for j in claimed] == [other[0].id]  # only the other campaign's
    assert (paused_at, moved) == (NOW - timedelta(minutes=1), 4)
    after = [store.post(p.id).scheduled_at for p in posts]
    assert after == every(NOW + timedelta(hours=1), 4, timedelta(minutes=10))
    kinds = [e.kind for e in store.log(campaign="calm")]
    assert "paused" in kinds and "resumed" in kinds and kinds.count("rescheduled") == 4


def test_resume_keep_times_leaves_the_times(store: Store) -> None:
    posts = queue(store, planned("x", every(NOW, 3)), "calm", now=NOW)
    store.pause("calm", now=NOW)

    _, moved = store.resume("calm", keep_times=True, now=NOW + timedelta(hours=3))

    assert moved == 0
    assert [store.post(p.id).scheduled_at for p in posts] == every(NOW, 3)
    due = store.claim("w", NOW + timedelta(hours=3), LEASE, 10, ["x"])  # type: ignore[list-item]
    assert [j.post_id for j in due] == [posts[0].id]  # passed: due now, in thread order


def test_pause_and_resume_through_the_cli(cli: Cli, db: dict[str, str], article: Path) -> None:
    queued(cli, db, article)

    paused = cli("pause", "op-ed", env=db)
    again = cli("pause", "op-ed", env=db)
    status = cli("status", env=db)
    listing = cli("list", env=db)
    resumed = cli("resume", "op-ed", env=db)

    assert paused.code == 0 and "paused" in paused.stdout
    assert "was paused already" in again.stdout
    assert "paused: 'op-ed'" in status.stdout
    assert "queued (paused)" in listing.stdout
    assert resumed.code == 0 and "resumed after" in resumed.stdout
    refused(cli, db, "resume", "op-ed", says="campaign 'op-ed' is not paused")
    refused(cli, db, "pause", "nope", says="no campaign named 'nope'")


# -- threads, names, deletion -----------------------------------------------------------------


def test_cancel_keep_thread_attaches_the_reply_to_the_dropped_posts_parent(
    cli: Cli, db: dict[str, str], article: Path, store: Store
) -> None:
    posts = queued(cli, db, article)
    first, second, third = (p["id"] for p in posts[:3])

    result = cli("cancel", str(second), "--keep-thread", env=db)

    assert result.code == 0, result.stderr
    assert f"post {third} replies to post {first} now" in result.stdout
    assert shown(cli, db, third)["replies_to"] == first
    assert shown(cli, db, third)["status"] == "queued"  # not held
    publish(store, first)
    later = datetime.now(UTC) + timedelta(days=30)
    [job] = store.claim("w", later, LEASE, 1, ["x"])  # type: ignore[list-item]
    assert job.post_id == third
    assert job.reply_to is not None and job.reply_to.parent.id == f"r{first}"


def test_cancel_keep_thread_of_the_first_post_starts_the_thread_at_the_next(
    cli: Cli, db: dict[str, str], article: Path, store: Store
) -> None:
    posts = queued(cli, db, article)
    first, second, third = (p["id"] for p in posts[:3])

    assert cli("cancel", str(first), "--keep-thread", env=db).code == 0

    assert shown(cli, db, second)["replies_to"] is None
    publish(store, second)
    later = datetime.now(UTC) + timedelta(days=30)
    [job] = store.claim("w", later, LEASE, 1, ["x"])  # type: ignore[list-item]
    assert job.post_id == third
    assert job.reply_to is not None and job.reply_to.root.id == f"r{second}"


def test_cancel_keep_thread_releases_replies_an_earlier_cancel_held(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)
    second, third = posts[1]["id"], posts[2]["id"]
    assert cli("cancel", str(second), env=db).code == 0
    assert shown(cli, db, third)["status"] == "held"

    assert cli("cancel", str(second), "--keep-thread", env=db).code == 0

    assert shown(cli, db, third)["status"] == "queued"
    assert all(shown(cli, db, p["id"])["status"] == "queued" for p in posts[2:])


def test_rename_keeps_posts_and_log(cli: Cli, db: dict[str, str], article: Path) -> None:
    posts = queued(cli, db, article)

    result = cli("rename", "op-ed", "op-ed-final", env=db)

    assert result.code == 0, result.stderr
    assert shown(cli, db, posts[0]["id"])["campaign"] == "op-ed-final"
    log = json.loads(cli("log", "--campaign", "op-ed-final", "--json", env=db).stdout)
    assert [e["kind"] for e in log].count("queued") == len(posts)
    assert log[-1]["kind"] == "renamed" and log[-1]["detail"] == {
        "old": "op-ed",
        "new": "op-ed-final",
    }
    queued(cli, db, article, "--campaign", "taken")
    refused(cli, db, "rename", "op-ed-final", "taken", says="'taken' exists already")
    refused(cli, db, "rename", "nope", "other", says="no campaign named 'nope'")


def test_delete_removes_an_unpublished_campaign_and_says_so_in_the_log(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    posts = queued(cli, db, article)

    result = cli("delete", "op-ed", env=db)

    assert result.code == 0, result.stderr
    assert f"{len(posts)} queued" in result.stdout
    assert json.loads(cli("list", "--json", env=db).stdout) == []
    [deleted] = json.loads(cli("log", "--kind", "deleted", "--json", env=db).stdout)
    assert deleted["campaign"] == "op-ed"
    assert deleted["detail"]["posts"] == len(posts)


def test_delete_of_a_campaign_with_a_published_post_is_refused(
    cli: Cli, db: dict[str, str], article: Path, store: Store
) -> None:
    posts = queued(cli, db, article)
    publish(store, posts[0]["id"])

    refused(cli, db, "delete", "op-ed", says="cannot be deleted: post")
    refused(cli, db, "delete", "nope", says="no campaign named 'nope'")
