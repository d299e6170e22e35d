"""The whole path: queue the op-ed -> `campaign run` against both loopback fakes -> log.

The daemon is the real CLI in a subprocess, talking to the fakes through the real
tweepy and atproto SDKs. Afterwards, no credential may appear in the database file,
the daemon's output or any CLI output.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from conftest import EXAMPLE, Cli, run_campaign
from fakes.pds import FakePDS
from fakes.x_api import FakeX
from harness import BSKY_PASSWORD, X_SECRET, X_TOKEN_SECRET, fake_settings


def test_op_ed_to_both_platforms_exactly_once(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "e2e.db"
    with FakeX() as fx, FakePDS(password=BSKY_PASSWORD) as pds:
        env = fake_settings(fx, pds, f"sqlite:///{db}", tmp_path / "data")
        outputs: list[str] = []
        queued = cli(
            "queue", str(EXAMPLE), "-p", "x", "-p", "bluesky", "--start", "now",
            "--spread-until", "+3s", "--tag", "Artsakh", "--tag", "Armenia", "--json",
            env=env,
        )  # fmt: skip
        assert queued.code == 0, queued.stderr
        outputs += [queued.stdout, queued.stderr]
        posts = json.loads(queued.stdout)["posts"]
        x_posts = [p for p in posts if p["platform"] == "x"]
        bsky_posts = [p for p in posts if p["platform"] == "bluesky"]

        daemon = run_campaign(
            "run", "--until-done", "--poll", "0.2", env={**os.environ, **env}, cwd=tmp_path
        )
        outputs += [daemon.stdout, daemon.stderr]
        assert daemon.returncode == 0, daemon.stderr

        # X: each post received once, in order, each reply chained to the one before.
        assert [t.text for t in fx.tweets] == [p["text"] for p in x_posts]
        assert fx.tweets[0].in_reply_to is None
        for previous, tweet in itertools.pairwise(fx.tweets):
            assert tweet.in_reply_to == previous.id

        # Bluesky: each post once; root and parent strong refs right; tags are facets.
        records = list(pds.records.values())
        assert [r.value["text"] for r in records] == [p["text"] for p in bsky_posts]
        root = records[0]
        assert "reply" not in root.value
        for earlier, record in itertools.pairwise(records):
            reply = record.value["reply"]
            assert reply["root"]["uri"] == root.uri and reply["root"]["cid"] == root.cid
            assert reply["parent"]["uri"] == earlier.uri
            assert reply["parent"]["cid"] == earlier.cid
        for record in records:
            raw = record.value["text"].encode()
            tags = {
                raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode()
                for f in record.value.get("facets", [])
                if f["features"][0]["$type"] == "app.bsky.richtext.facet#tag"
            }
            assert {"#Artsakh", "#Armenia"} <= tags
        assert pds.logins == 1

        listed = cli("list", "--json", env=env)
        log = cli("log", "--json", env=env)
        status = cli("status", env=env)
        outputs += [listed.stdout, listed.stderr, log.stdout, log.stderr, status.stdout]
        rows = json.loads(listed.stdout)
        assert {r["status"] for r in rows} == {"published"}
        assert all(r["attempts"] == 1 for r in rows)
        urls = {r["remote_url"] for r in rows}
        assert all(
            u.startswith(("https://x.com/i/web/status/", "https://bsky.app/profile/")) for u in urls
        )
        published = [e for e in json.loads(log.stdout) if e["kind"] == "published"]
        assert len(published) == len(posts)

    # No secret anywhere we write or print (the session file holds tokens by nature).
    secrets = [X_SECRET, X_TOKEN_SECRET, BSKY_PASSWORD, *pds.tokens_issued]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("e2e.db*"))
    for secret in secrets:
        assert secret.encode() not in stored
        for text in outputs:
            assert secret not in text
    session_file = tmp_path / "data" / "bluesky-session"
    assert session_file.exists()
    assert session_file.stat().st_mode & 0o777 == 0o600


def test_a_platform_without_credentials_waits_and_the_other_publishes(
    cli: Cli, tmp_path: Path
) -> None:
    with FakePDS(password=BSKY_PASSWORD) as pds:
        env = {
            "CAMPAIGN_DATABASE_URL": f"sqlite:///{tmp_path / 'half.db'}",
            "BLUESKY_HANDLE": pds.handle,
            "BLUESKY_APP_PASSWORD": BSKY_PASSWORD,
            "BLUESKY_PDS_URL": pds.base_url,
        }
        queued = cli(
            "queue", str(EXAMPLE), "-p", "x", "-p", "bluesky", "--start", "now",
            "--spread-until", "+2s", "--json", env=env,
        )  # fmt: skip
        assert queued.code == 0, queued.stderr
        daemon = run_campaign(
            "run", "--until-done", "--poll", "0.2", env={**os.environ, **env}, cwd=tmp_path
        )
        assert daemon.returncode == 0, daemon.stderr
        assert "x credentials missing: X_API_KEY" in daemon.stderr
        rows = json.loads(cli("list", "--json", env=env).stdout)
        assert {r["status"] for r in rows if r["platform"] == "bluesky"} == {"published"}
        assert {r["status"] for r in rows if r["platform"] == "x"} == {"queued"}
        assert len(pds.records) == sum(1 for r in rows if r["platform"] == "bluesky")
        events = json.loads(cli("log", "--json", "--kind", "no credentials", env=env).stdout)
        assert len(events) == 1 and events[0]["detail"]["platform"] == "x"
