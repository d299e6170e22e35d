"""Rich posts at queue time (issue 13): images with alt text, link cards, languages, labels
and what X will charge, through the CLI as people use it; publishing is test_rich_publish.

Every refusal is one sentence, exit 2, and the database unchanged; a card that cannot be
made is a warning and the campaign is queued without it.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, snapshot, stored_posts
from fakes.web import Reply, Site, serving
from PIL import Image

WHEN = ("--start", "+1h", "--every", "1h")
TAGS = ("-t", "Artsakh", "-t", "Armenia")


def jpeg(width: int, height: int, seed: int = 1, quality: int = 92) -> bytes:
    """Noise: it does not compress, so its size follows its dimensions."""
    pixels = random.Random(seed).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 30, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def db(sqlite_url: str) -> dict[str, str]:
    return {"CAMPAIGN_DATABASE_URL": sqlite_url}


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "march.png"
    path.write_bytes(png(640, 427))
    return path


@pytest.fixture
def site() -> Iterator[Site]:
    with serving("127.0.0.1") as web:
        yield web


OG_PAGE = (
    b"<!doctype html><html><head>"
    b'<meta property="og:title" content="Lift the blockade">'
    b'<meta property="og:description" content="Why the corridor must open now.">'
    b'<meta property="og:image" content="/card.jpg">'
    b"</head><body><p>The article.</p></body></html>"
)


def queued(cli: Cli, env: dict[str, str], article: Path, *args: str) -> dict[str, Any]:
    result = cli("queue", str(article), "-p", "x", "-p", "bluesky", *WHEN, *TAGS, *args,
                 "--json", env=env)  # fmt: skip
    assert result.code == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    out["stderr"] = result.stderr
    return out


def shown(cli: Cli, env: dict[str, str], post_id: int) -> dict[str, Any]:
    result = cli("show", str(post_id), "--json", env=env)
    assert result.code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def firsts(out: dict[str, Any]) -> dict[str, int]:
    return {p["platform"]: p["id"] for p in out["posts"] if p["seq"] == 1}


# -- images ----------------------------------------------------------------------------------


def test_an_image_with_alt_text_rides_on_the_first_post_of_each_platform(
    cli: Cli, db: dict[str, str], article: Path, photo: Path, tmp_path: Path
) -> None:
    out = queued(cli, db, article, "--image", str(photo), "--alt", "Marchers on the bridge")
    first = firsts(out)
    for platform in ("x", "bluesky"):
        images = shown(cli, db, first[platform])["attachments"]["images"]
        assert [(i["mime"], i["width"], i["height"], i["alt"]) for i in images] == [
            ("image/png", 640, 427, "Marchers on the bridge")
        ]
        stored = tmp_path / "data" / "media" / images[0]["sha256"]
        assert stored.read_bytes() == photo.read_bytes()  # a copy, under its hash
    others = [p["id"] for p in out["posts"] if p["seq"] > 1]
    assert all(shown(cli, db, i)["attachments"] == {} for i in others[:3])
    photo.unlink()  # the original may go: the queued post keeps its copy
    assert shown(cli, db, first["x"])["attachments"]["images"]


def test_queue_prints_the_images_and_what_x_will_charge(
    cli: Cli, db: dict[str, str], article: Path, photo: Path
) -> None:
    result = cli("queue", str(article), "-p", "x", "-p", "bluesky", *WHEN, *TAGS,
                 "--image", str(photo), "--alt", "Marchers", "--link", "https://example.org/op-ed",
                 "--no-card", env=db)  # fmt: skip
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "x post 1: image 640x427 image/png (0.0 MB), alt: Marchers" in lines
    assert "bluesky post 1: image 640x427 image/png (0.0 MB), alt: Marchers" in lines
    x_posts = [p for p in stored_posts(db["CAMPAIGN_DATABASE_URL"]) if p["platform"] == "x"]
    # The first post carries the link: $0.20; the others $0.015 each; one alt text $0.005.
    total = 0.20 + (len(x_posts) - 1) * 0.015 + 0.005
    assert (
        f"X will charge about ${total:.2f} for {len(x_posts)} posts "
        "($0.20 of it for 1 post with a URL) and 1 alt text"
    ) in lines


def test_the_prices_are_settings(cli: Cli, db: dict[str, str], article: Path) -> None:
    env = {**db, "CAMPAIGN_X_PRICE_POST": "0.5"}
    out = queued(cli, env, article)
    x_posts = [p for p in out["posts"] if p["platform"] == "x"]
    assert out["x_cost_usd"] == pytest.approx(0.5 * len(x_posts))


def test_a_big_photo_is_resized_for_bluesky_and_kept_for_x(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    big = tmp_path / "crowd.jpg"
    big.write_bytes(jpeg(1800, 1300, quality=95))
    assert 2_000_000 < big.stat().st_size < 5_000_000
    out = queued(cli, db, article, "--image", str(big), "--alt", "The crowd")
    assert "crowd.jpg: 2.8 MB is over Bluesky's 2 MB, re-encoded at" in out["stderr"]
    first = firsts(out)
    [on_x] = shown(cli, db, first["x"])["attachments"]["images"]
    [on_bluesky] = shown(cli, db, first["bluesky"])["attachments"]["images"]
    assert on_x["size"] == big.stat().st_size and "original" not in on_x
    assert on_bluesky["size"] <= 2_000_000 and on_bluesky["mime"] == "image/jpeg"
    assert on_bluesky["original"] == on_x["sha256"]  # a campaign file names the original
    assert on_bluesky["alt"] == "The crowd"


@pytest.mark.parametrize(
    ("make", "args", "says"),
    [
        (None, ("--image", "missing.png", "--alt", "x"), "missing.png does not exist"),
        (b"just some words\n", ("--image", "{f}", "--alt", "x"),
         "is not an image (PNG, JPEG, WebP or GIF)"),
        ("png", ("--image", "{f}"), "has no --alt: describe each image"),
        ("png", ("--image", "{f}", "--alt", "a", "--alt", "b"), "2 --alt given for 1 --image"),
        ("png", ("--image", "{f}", "--alt", "a" * 1001), "1,001 characters"),
        ("png", ("--image", "{f}", "--alt", "   "), "give --alt"),
        ("png", tuple(a for _ in range(5) for a in ("--image", "{f}", "--alt", "x")),
         "5 images given; a post carries at most 4"),
        ("huge", ("--image", "{f}", "--alt", "x"), "is 44 MB, over the 20 MB an image may be"),
        (None, ("--lang", "not a language"), "invalid --lang 'not a language'"),
        (None, ("--lang", "hy", "--lang", "en", "--lang", "ru", "--lang", "fr"),
         "4 languages given; Bluesky takes at most 3"),
        (None, ("--label", "gore"), "invalid --label 'gore': choose graphic-media"),
        (None, ("--alt", "alone"), "1 --alt given for 0 --image"),
    ],
)  # fmt: skip
def test_bad_rich_input_is_one_sentence_and_nothing_is_written(
    cli: Cli,
    db: dict[str, str],
    article: Path,
    tmp_path: Path,
    make: bytes | str | None,
    args: tuple[str, ...],
    says: str,
) -> None:
    image = tmp_path / "picture.png"
    if make == "png":
        image.write_bytes(png())
    elif make == "huge":
        image.write_bytes(png() + b"\0" * 44_000_000)
    elif isinstance(make, bytes):
        image.write_bytes(make)
    assert cli("status", env=db).code == 0
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])
    given = [a.replace("{f}", str(image)) for a in args]
    result = cli("queue", str(article), "-p", "x", "-p", "bluesky", *WHEN, *given, env=db)
    assert result.code == 2, (result.stdout, result.stderr)
    assert says in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before


def test_no_alt_publishes_an_image_without_a_description_on_purpose(
    cli: Cli, db: dict[str, str], article: Path, photo: Path
) -> None:
    out = queued(cli, db, article, "--image", str(photo), "--no-alt")
    [image] = shown(cli, db, firsts(out)["bluesky"])["attachments"]["images"]
    assert image["alt"] == ""


# -- link cards ------------------------------------------------------------------------------


def test_a_link_gets_a_card_on_bluesky_from_its_page(
    cli: Cli, db: dict[str, str], article: Path, site: Site
) -> None:
    site.routes["/op-ed"] = Reply(body=OG_PAGE)
    site.routes["/card.jpg"] = Reply(body=jpeg(600, 315), type="image/jpeg")
    env = {**db, "CAMPAIGN_ALLOW_PRIVATE_LINKS": "1"}
    out = queued(cli, env, article, "--link", site.url("/op-ed"))
    first = firsts(out)
    card = shown(cli, env, first["bluesky"])["attachments"]["card"]
    assert (card["uri"], card["title"], card["description"]) == (
        site.url("/op-ed"),
        "Lift the blockade",
        "Why the corridor must open now.",
    )
    assert card["thumb"]["mime"] == "image/jpeg" and card["thumb"]["size"] <= 1_000_000
    assert shown(cli, env, first["x"])["attachments"] == {}  # X draws its own card
    assert [path for path, _ in site.seen] == ["/op-ed", "/card.jpg"]  # fetched once


def test_a_loopback_link_is_refused_and_never_fetched_unless_allowed(
    cli: Cli, db: dict[str, str], article: Path, site: Site
) -> None:
    # A name that resolves to a private address passes and gets no card, with a warning
    # (test_linkcard, through its resolver seam); an address itself is no link at all.
    site.routes["/op-ed"] = Reply(body=OG_PAGE)
    assert cli("status", env=db).code == 0
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])
    for platform in ("x", "bluesky"):
        refused = cli("queue", str(article), "-p", platform, *WHEN, "--link",
                      site.url("/op-ed"), env=db)  # fmt: skip
        assert refused.code == 2
        assert "X would not recognise it as a link" in refused.stderr
    assert site.seen == []
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (Reply(body=OG_PAGE, delay=3.0), "longer than 1 s"),
        (Reply(stream=30_000_000), "larger than 2 MB"),
        (Reply(body=b"%PDF-1.7", type="application/pdf"), "application/pdf, not a web page"),
        (Reply(404, b"gone"), "HTTP 404"),
    ],
)
def test_a_page_that_cannot_make_a_card_is_a_warning_and_the_campaign_is_queued(
    cli: Cli, db: dict[str, str], article: Path, site: Site, reply: Reply, says: str
) -> None:
    site.routes["/op-ed"] = reply
    env = {**db, "CAMPAIGN_ALLOW_PRIVATE_LINKS": "1", "CAMPAIGN_LINK_TIMEOUT_SECONDS": "1"}
    out = queued(cli, env, article, "--link", site.url("/op-ed"))
    assert f"bluesky: no card for {site.url('/op-ed')}: " in out["stderr"]
    assert says in out["stderr"]
    assert len(out["posts"]) > 4
    assert shown(cli, env, firsts(out)["bluesky"])["attachments"] == {}


def test_no_card_fetches_nothing_and_images_win_over_the_card(
    cli: Cli, db: dict[str, str], article: Path, site: Site, photo: Path
) -> None:
    site.routes["/op-ed"] = Reply(body=OG_PAGE)
    env = {**db, "CAMPAIGN_ALLOW_PRIVATE_LINKS": "1"}
    queued(cli, env, article, "--link", site.url("/op-ed"), "--no-card", "--campaign", "a")
    out = queued(cli, env, article, "--link", site.url("/op-ed"), "--image", str(photo),
                 "--alt", "Marchers", "--campaign", "b")  # fmt: skip
    assert site.seen == []
    assert "the images take the first post's one embed, so the link gets no card" in out["stderr"]
    attached = shown(cli, env, firsts(out)["bluesky"])["attachments"]
    assert "card" not in attached and len(attached["images"]) == 1


def test_split_shows_the_card_it_would_attach(
    cli: Cli, db: dict[str, str], article: Path, site: Site
) -> None:
    site.routes["/op-ed"] = Reply(body=OG_PAGE)
    env = {**db, "CAMPAIGN_ALLOW_PRIVATE_LINKS": "1"}
    result = cli("split", str(article), "-p", "bluesky", "--link", site.url("/op-ed"), env=env)
    assert result.code == 0, result.stderr
    assert f"bluesky post 1: card: Lift the blockade - {site.url('/op-ed')}" in result.stdout
    as_json = cli("split", str(article), "-p", "bluesky", "--link", site.url("/op-ed"),
                  "--json", env=env)  # fmt: skip
    first = json.loads(as_json.stdout)[0]
    assert first["attachments"]["card"]["title"] == "Lift the blockade"


# -- languages and labels --------------------------------------------------------------------


def test_languages_and_labels_go_on_every_bluesky_post(
    cli: Cli, db: dict[str, str], article: Path
) -> None:
    out = queued(cli, db, article, "--lang", "hy", "--lang", "en-GB", "--label", "graphic-media")
    for post in out["posts"][:4] + out["posts"][-2:]:
        attached = shown(cli, db, post["id"])["attachments"]
        if post["platform"] == "bluesky":
            assert attached == {"langs": ["hy", "en-GB"], "labels": ["graphic-media"]}
        else:
            assert attached == {}  # X takes neither


def test_the_languages_default_to_the_setting(cli: Cli, db: dict[str, str], article: Path) -> None:
    out = queued(cli, {**db, "CAMPAIGN_LANGS": "hy,en"}, article)
    bluesky = next(p for p in out["posts"] if p["platform"] == "bluesky")
    assert shown(cli, db, bluesky["id"])["attachments"] == {"langs": ["hy", "en"]}


# -- edit --------------------------------------------------------------------------------------


def test_edit_replaces_or_removes_a_posts_images(
    cli: Cli, db: dict[str, str], article: Path, photo: Path, tmp_path: Path
) -> None:
    out = queued(cli, db, article)
    post_id = firsts(out)["bluesky"]
    other = tmp_path / "other.jpg"
    other.write_bytes(jpeg(300, 200))
    done = cli("edit", str(post_id), "--image", str(other), "--alt", "A field", env=db)
    assert done.code == 0, done.stderr
    after = shown(cli, db, post_id)
    assert [i["alt"] for i in after["attachments"]["images"]] == ["A field"]
    assert after["text"] == next(p["text"] for p in out["posts"] if p["id"] == post_id)
    assert after["log"][-1]["kind"] == "edited"
    assert after["log"][-1]["detail"]["new_attachments"]["images"][0]["alt"] == "A field"
    gone = cli("edit", str(post_id), "--no-images", env=db)
    assert gone.code == 0, gone.stderr
    assert shown(cli, db, post_id)["attachments"] == {}
    again = cli("edit", str(post_id), "--no-images", env=db)
    assert again.code == 2 and f"post {post_id} has no images" in again.stderr


# -- campaign files --------------------------------------------------------------------------


def test_plan_names_the_images_and_apply_queues_them(
    cli: Cli, db: dict[str, str], article: Path, photo: Path, tmp_path: Path
) -> None:
    path = tmp_path / "campaign.toml"
    planned = cli("plan", str(article), "-p", "x", "-p", "bluesky", *WHEN, "--image", str(photo),
                  "--alt", "Marchers", "--lang", "hy", "-o", str(path), env=db)  # fmt: skip
    assert planned.code == 0, planned.stderr
    text = path.read_text(encoding="utf-8")
    assert text.count(f'images = [{{path = "{photo.resolve()}", alt = "Marchers"}}]') == 2
    assert 'langs = ["hy"]' in text
    applied = cli("apply", str(path), "--yes", env=db)
    assert applied.code == 0, applied.stderr
    rows = {(r["platform"], r["seq"]): r for r in stored_posts(db["CAMPAIGN_DATABASE_URL"])}
    for platform in ("x", "bluesky"):
        [image] = shown(cli, db, rows[(platform, 1)]["id"])["attachments"]["images"]
        assert image["alt"] == "Marchers"
    assert shown(cli, db, rows[("bluesky", 2)]["id"])["attachments"] == {"langs": ["hy"]}


def test_an_exported_campaign_names_its_images_by_hash_and_applies_unchanged(
    cli: Cli, db: dict[str, str], article: Path, photo: Path, tmp_path: Path
) -> None:
    out = queued(cli, db, article, "--image", str(photo), "--alt", "Marchers", "--campaign", "c")
    exported = tmp_path / "c.toml"
    assert cli("export", "c", "-o", str(exported), env=db).code == 0
    text = exported.read_text(encoding="utf-8")
    image = shown(cli, db, firsts(out)["x"])["attachments"]["images"][0]
    assert f'images = [{{sha256 = "{image["sha256"]}", alt = "Marchers"}}]' in text
    photo.unlink()  # the file names the stored copy, not the original
    same = cli("apply", str(exported), env=db)
    assert same.code == 0 and same.stdout.startswith("no changes"), same.stderr
    exported.write_text(text.replace('alt = "Marchers"', 'alt = "Marchers on the bridge"'))
    changed = cli("apply", str(exported), "--yes", env=db)
    assert changed.code == 0, changed.stderr
    assert "2 posts' images or languages changed" in changed.stdout
    for post_id in firsts(out).values():
        [now] = shown(cli, db, post_id)["attachments"]["images"]
        assert now["alt"] == "Marchers on the bridge"


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ('images = [{path = "nowhere.png", alt = "x"}]', "nowhere.png does not exist"),
        ('images = [{path = "pic.png"}]', 'image 1 has no alt: describe it, or give alt = ""'),
        ('images = [{alt = "x"}]', "image 1 needs a path"),
        ('images = "pic.png"', "images must be a list such as"),
        ('images = [{path = "pic.png", alt = "x", size = 3}]', "unknown key 'size' in an image"),
    ],
)
def test_a_bad_image_in_a_campaign_file_is_refused_and_nothing_applied(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path, entry: str, says: str
) -> None:
    (tmp_path / "pic.png").write_bytes(png())
    path = tmp_path / "campaign.toml"
    planned = cli("plan", str(article), "-p", "x", *WHEN, "-o", str(path), env=db)
    assert planned.code == 0, planned.stderr
    text = path.read_text(encoding="utf-8").replace("seq = 1\n", f"seq = 1\n{entry}\n", 1)
    path.write_text(text, encoding="utf-8")
    assert cli("status", env=db).code == 0
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])
    result = cli("apply", str(path), "--yes", env=db)
    assert result.code == 2, (result.stdout, result.stderr)
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before


# -- Mastodon: one language, a content warning counted with the text --------------------------


def test_a_content_warning_rides_on_every_mastodon_post_and_takes_its_room(
    cli: Cli, db: dict[str, str], article: Path, tmp_path: Path
) -> None:
    from posts.measure import measure
    from posts.platform import Platform

    result = cli("queue", str(article), "-p", "mastodon", "-p", "x", *WHEN, "--cw", "war imagery",
                 "--lang", "hy-AM", "--lang", "en", "--json", env=db)  # fmt: skip
    assert result.code == 0, result.stderr
    posts = json.loads(result.stdout)["posts"]
    for post in posts:
        attached = shown(cli, db, post["id"])
        if post["platform"] == "mastodon":
            # Mastodon takes one language; the warning's 11 graphemes count with the text.
            assert attached["attachments"] == {"langs": ["hy-AM"], "content_warning": "war imagery"}
            assert attached["limit"] == 500 - len("war imagery")
            assert measure(Platform.MASTODON, post["text"]) <= attached["limit"]
        else:
            assert attached["attachments"] == {}
    exported = tmp_path / "c.toml"
    name = json.loads(result.stdout)["campaign"]
    assert cli("export", name, "-o", str(exported), env=db).code == 0
    assert 'content_warning = "war imagery"' in exported.read_text(encoding="utf-8")
    same = cli("apply", str(exported), env=db)
    assert same.code == 0 and same.stdout.startswith("no changes"), same.stdout + same.stderr


def test_an_empty_content_warning_is_refused(cli: Cli, db: dict[str, str], article: Path) -> None:
    result = cli("queue", str(article), "-p", "mastodon", *WHEN, "--cw", "  ", env=db)
    assert result.code == 2 and "the content warning (--cw) is empty" in result.stderr
