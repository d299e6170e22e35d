"""Link cards fetched from a real HTTP server on loopback; the guard checked with test seams.

Two servers: one on 127.0.0.1 (loopback, what the guard refuses) and one on 127.0.0.2 that
the tests' `is_public` counts as the public internet, reached under made-up names through
the tests' resolver (which only works because the connection goes to the checked address).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from fakes.web import Reply, Site, handler, serving
from PIL import Image

from scheduler.linkcard import Address, fetch_card, is_public_address
from scheduler.media import MediaDir
from scheduler.model import LinkCard

PUBLIC = ipaddress.ip_address("127.0.0.2")


@pytest.fixture
def serve() -> Iterator[Callable[[str], Site]]:
    with contextlib.ExitStack() as stack:
        yield lambda host: stack.enter_context(serving(host))


@pytest.fixture
def local(serve: Callable[[str], Site]) -> Site:
    return serve("127.0.0.1")


@pytest.fixture
def public(serve: Callable[[str], Site]) -> Site:
    return serve("127.0.0.2")


@pytest.fixture
def media(tmp_path: Path) -> MediaDir:
    return MediaDir(tmp_path / "media")


def resolver(names: dict[str, Sequence[str]]) -> Callable[[str], Sequence[str]]:
    def resolve(host: str) -> Sequence[str]:
        if host not in names:
            raise OSError("no such host")
        return names[host]

    return resolve


def only_public(address: Address) -> bool:
    return address == PUBLIC


def from_outside(
    url: str, media: MediaDir, **names: Sequence[str]
) -> tuple[LinkCard | None, list[str]]:
    """fetch_card as for a public site: `names` resolve as given, only 127.0.0.2 is public."""
    resolve = resolver({name.replace("_", "."): a for name, a in names.items()})
    return fetch_card(url, media, allow_private=False, resolve=resolve, is_public=only_public)


def page(head: str) -> bytes:
    return f"<!doctype html><html><head>{head}</head><body><p>Text</p></body></html>".encode()


def jpeg(width: int, height: int, quality: int = 90, seed: int = 1) -> bytes:
    pixels = random.Random(seed).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


OG_PAGE = page(
    '<meta property="og:title" content="  Free   the &amp; journalists ">'
    '<meta property="og:description" content="Twelve reporters are held without charge.">'
    '<meta property="og:image" content="/img/photo.jpg">'
    '<meta property="og:url" content="https://elsewhere.example/canonical">'
    "<title>Ignored when og:title is there</title>"
)


def fetch_local(
    url: str, media: MediaDir, timeout: float = 10.0
) -> tuple[LinkCard | None, list[str]]:
    return fetch_card(url, media, allow_private=True, timeout=timeout)


# -- what a card says -----------------------------------------------------------------------


def test_an_open_graph_page_makes_a_card_with_its_picture(local: Site, media: MediaDir) -> None:
    photo = jpeg(120, 80)
    local.routes.update({"/a": Reply(body=OG_PAGE), "/img/photo.jpg": Reply(body=photo)})
    card, warnings = fetch_local(local.url("/a"), media)
    assert warnings == []
    assert card is not None
    assert (card.uri, card.title) == (local.url("/a"), "Free the & journalists")
    assert card.description == "Twelve reporters are held without charge."
    assert card.thumb is not None
    assert (card.thumb.mime, card.thumb.width, card.thumb.height) == ("image/jpeg", 120, 80)
    assert media.read(card.thumb.sha256) == photo  # small enough: stored as it came
    assert card.thumb.alt == ""


def test_a_twitter_card_page_is_read_too(local: Site, media: MediaDir) -> None:
    local.routes["/t"] = Reply(
        body=page(
            '<meta name="twitter:title" content="Vigil tonight">'
            '<meta name="twitter:description" content="Bring candles.">'
        )
    )
    card, warnings = fetch_local(local.url("/t"), media)
    assert card == LinkCard(local.url("/t"), "Vigil tonight", "Bring candles.")
    assert warnings == []


def test_a_page_with_only_a_title_and_a_description_meta(local: Site, media: MediaDir) -> None:
    local.routes["/t"] = Reply(
        body=page('<title>\n  Our  report\n</title><meta name="description" content="2024.">')
    )
    card, _ = fetch_local(local.url("/t"), media)
    assert card == LinkCard(local.url("/t"), "Our report", "2024.")


def test_a_page_with_no_title_is_titled_by_its_host(local: Site, media: MediaDir) -> None:
    local.routes["/d"] = Reply(body=page('<meta name="description" content="Only this.">'))
    card, _ = fetch_local(local.url("/d"), media)
    assert card == LinkCard(local.url("/d"), "127.0.0.1", "Only this.")


def test_a_page_with_nothing_to_show_gets_no_card(local: Site, media: MediaDir) -> None:
    local.routes["/e"] = Reply(body=page(""))
    assert fetch_local(local.url("/e"), media) == (
        None,
        [f"no card for {local.url('/e')}: the page has no title, description or picture"],
    )


def test_long_titles_and_descriptions_are_cut(local: Site, media: MediaDir) -> None:
    local.routes["/l"] = Reply(
        body=page(f'<meta property="og:description" content="{"d" * 5000}"><title>{"t" * 900}')
    )
    card, _ = fetch_local(local.url("/l"), media)
    assert card is not None
    assert card.title == "t" * 299 + "…" and card.description == "d" * 999 + "…"


def test_a_relative_picture_is_found_through_base_href(local: Site, media: MediaDir) -> None:
    local.routes.update(
        {
            "/news/story": Reply(
                body=page('<base href="/assets/"><meta property="og:image" content="pic.jpg">')
            ),
            "/assets/pic.jpg": Reply(body=jpeg(50, 50), type="application/octet-stream"),
        }
    )
    card, warnings = fetch_local(local.url("/news/story"), media)
    assert warnings == [] and card is not None and card.thumb is not None
    assert card.title == "127.0.0.1"


def test_a_charset_other_than_utf8_is_decoded(local: Site, media: MediaDir) -> None:
    local.routes.update(
        {
            "/cp": Reply(
                body="<title>Café – Straße</title>".encode("windows-1252"),
                type="text/html; charset=windows-1252",
            ),
            "/meta": Reply(
                body='<meta charset="iso-8859-1"><title>Ça va</title>'.encode("iso-8859-1"),
                type="text/html",
            ),
            "/bad": Reply(body=b"<title>caf\xe9</title>", type="text/html"),
        }
    )
    titles = [fetch_local(local.url(p), media)[0] for p in ("/cp", "/meta", "/bad")]
    assert [card.title if card else None for card in titles] == [
        "Café – Straße",
        "Ça va",
        "caf\N{REPLACEMENT CHARACTER}",
    ]


def test_a_huge_picture_is_resized_under_blueskys_thumb_limit(local: Site, media: MediaDir) -> None:
    big = jpeg(1600, 1200, quality=95)
    assert len(big) > 2_000_000
    local.routes.update(
        {
            "/big": Reply(body=page('<title>Big</title><meta property="og:image" content="/b">')),
            "/b": Reply(body=big, type="image/jpeg"),
        }
    )
    card, warnings = fetch_local(local.url("/big"), media)
    assert warnings == [] and card is not None and card.thumb is not None
    assert card.thumb.size <= 1_000_000
    assert len(media.read(card.thumb.sha256)) == card.thumb.size


def test_a_broken_picture_leaves_a_card_without_one(local: Site, media: MediaDir) -> None:
    local.routes.update(
        {
            "/p": Reply(body=page('<title>Post</title><meta property="og:image" content="/x">')),
            "/x": Reply(body=b"<html>not a picture</html>", type="image/png"),
        }
    )
    card, warnings = fetch_local(local.url("/p"), media)
    assert card == LinkCard(local.url("/p"), "Post", "")
    assert warnings == [
        f"the card for {local.url('/p')} has no picture: {local.url('/x')} is not an image "
        "(PNG, JPEG, WebP or GIF)"
    ]


def test_a_missing_picture_leaves_a_card_without_one(local: Site, media: MediaDir) -> None:
    local.routes["/p"] = Reply(
        body=page('<title>Post</title><meta property="og:image" content="/gone">')
    )
    card, warnings = fetch_local(local.url("/p"), media)
    assert card == LinkCard(local.url("/p"), "Post", "")
    assert warnings == [f"the card for {local.url('/p')} has no picture: HTTP 404"]


# -- pages that give no card ----------------------------------------------------------------


def no_card(url: str, reason: str) -> tuple[None, list[str]]:
    return None, [f"no card for {url}: {reason}"]


def test_two_redirects_are_followed_and_six_are_too_many(local: Site, media: MediaDir) -> None:
    local.routes["/end"] = Reply(body=page("<title>Arrived</title>"))
    for hop in range(1, 7):
        target = "/end" if hop == 1 else f"/hop{hop - 1}"
        local.routes[f"/hop{hop}"] = Reply(302, headers=(("Location", target),))
    card, _ = fetch_local(local.url("/hop2"), media)
    assert card == LinkCard(local.url("/hop2"), "Arrived", "")  # the link as given
    assert fetch_local(local.url("/hop5"), media)[0] is not None
    assert fetch_local(local.url("/hop6"), media) == no_card(
        local.url("/hop6"), "too many redirects"
    )


def test_a_slow_page_times_out(local: Site, media: MediaDir) -> None:
    local.routes["/slow"] = Reply(body=page("<title>Late</title>"), delay=1.5)
    started = time.monotonic()
    assert fetch_local(local.url("/slow"), media, timeout=0.3) == no_card(
        local.url("/slow"), "the page took longer than 0.3 s"
    )
    assert time.monotonic() - started < 1.2


def test_a_30_mb_page_is_not_read_to_its_end(local: Site, media: MediaDir) -> None:
    local.routes["/huge"] = Reply(stream=30_000_000)
    started = time.monotonic()
    assert fetch_local(local.url("/huge"), media) == no_card(
        local.url("/huge"), "the page is larger than 2 MB"
    )
    assert time.monotonic() - started < 5
    for _ in range(100):  # the server notices the closed connection on a later write
        if "/huge" in local.streamed:
            break
        time.sleep(0.05)
    assert local.streamed["/huge"] < 12_000_000  # 2 MB read, and what socket buffers held


def test_a_page_declaring_a_huge_length_is_not_read(local: Site, media: MediaDir) -> None:
    local.routes["/decl"] = Reply(body=b"x" * 3_000_000)
    assert fetch_local(local.url("/decl"), media) == no_card(
        local.url("/decl"), "the page is larger than 2 MB"
    )


def test_a_pdf_is_not_a_web_page(local: Site, media: MediaDir) -> None:
    local.routes["/r.pdf"] = Reply(body=b"%PDF-1.7", type="application/pdf")
    assert fetch_local(local.url("/r.pdf"), media) == no_card(
        local.url("/r.pdf"), "it is application/pdf, not a web page"
    )


def test_a_404_is_named(local: Site, media: MediaDir) -> None:
    assert fetch_local(local.url("/nowhere"), media) == no_card(local.url("/nowhere"), "HTTP 404")


def test_only_http_and_https_links_get_a_card(media: MediaDir) -> None:
    assert fetch_card("ftp://example.org/x", media, allow_private=False) == no_card(
        "ftp://example.org/x", "only http and https links get a card, not ftp"
    )


# -- the guard ------------------------------------------------------------------------------


def test_loopback_links_are_refused_without_connecting(local: Site, media: MediaDir) -> None:
    local.routes["/a"] = Reply(body=OG_PAGE)
    hint = "is a private or loopback address (set CAMPAIGN_ALLOW_PRIVATE_LINKS=1 to allow it)"
    by_address = local.url("/a")
    by_name = local.url("/a", name="localhost")
    assert fetch_card(by_address, media, allow_private=False) == no_card(
        by_address, f"127.0.0.1 {hint}"
    )
    card, warnings = fetch_card(by_name, media, allow_private=False)
    assert card is None and warnings[0].startswith(f"no card for {by_name}: localhost resolves to")
    assert warnings[0].endswith(hint)
    assert local.seen == []
    assert fetch_card(by_address, media, allow_private=True)[0] is not None
    assert [path for path, _ in local.seen] == ["/a", "/img/photo.jpg"]


def test_a_public_host_is_reached_at_the_address_that_was_checked(
    public: Site, media: MediaDir
) -> None:
    public.routes["/a"] = Reply(body=page("<title>Hello</title>"))
    url = public.url("/a", name="news.test")
    card, _ = from_outside(url, media, news_test=["127.0.0.2"])
    assert card == LinkCard(url, "Hello", "")
    assert public.seen == [("/a", f"news.test:{public.port}")]


def test_a_redirect_to_loopback_is_refused(public: Site, local: Site, media: MediaDir) -> None:
    local.routes["/secret"] = Reply(body=page("<title>Router admin</title>"))
    public.routes["/go"] = Reply(302, headers=(("Location", local.url("/secret")),))
    url = public.url("/go", name="news.test")
    card, warnings = from_outside(url, media, news_test=["127.0.0.2"])
    assert card is None
    assert warnings == [
        f"no card for {url}: 127.0.0.1 is a private or loopback address "
        "(set CAMPAIGN_ALLOW_PRIVATE_LINKS=1 to allow it)"
    ]
    assert [path for path, _ in public.seen] == ["/go"] and local.seen == []


def test_a_picture_on_a_private_address_is_refused(
    public: Site, local: Site, media: MediaDir
) -> None:
    local.routes["/cam.jpg"] = Reply(body=jpeg(20, 20))
    public.routes["/a"] = Reply(
        body=page(f'<title>Hi</title><meta property="og:image" content="{local.url("/cam.jpg")}">')
    )
    url = public.url("/a", name="news.test")
    card, warnings = from_outside(url, media, news_test=["127.0.0.2"])
    assert card == LinkCard(url, "Hi", "")
    assert "has no picture: 127.0.0.1 is a private or loopback address" in warnings[0]
    assert local.seen == []


def test_a_host_with_any_private_address_is_refused(public: Site, media: MediaDir) -> None:
    url = public.url("/a", name="mixed.test")
    card, warnings = from_outside(url, media, mixed_test=["127.0.0.2", "10.1.2.3"])
    assert card is None
    assert warnings[0].startswith(f"no card for {url}: mixed.test resolves to 10.1.2.3, which is a")
    assert public.seen == []


def test_an_unknown_host_is_named(media: MediaDir) -> None:
    assert from_outside("https://nowhere.test/", media) == no_card(
        "https://nowhere.test/", "its host nowhere.test was not found"
    )


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata, link-local
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:192.168.0.1", False),
        ("93.184.215.14", True),
        ("::ffff:93.184.215.14", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_which_addresses_are_public(address: str, expected: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is expected


def test_https_is_verified_against_the_name_not_the_address(
    tmp_path: Path, media: MediaDir
) -> None:
    """The request goes to the checked IP, yet TLS sends the name (SNI) and the certificate
    must be the name's: a certificate for news.test serves news.test and nothing else."""
    certificate = self_signed(tmp_path, "news.test")
    server = ThreadingHTTPServer(("127.0.0.2", 0), handler(site := Site("127.0.0.2")))
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(*certificate)
    server.socket = serving.wrap_socket(server.socket, server_side=True)
    site.port = server.server_address[1]
    site.routes["/"] = Reply(body=page("<title>Over TLS</title>"))
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        trust = ssl.create_default_context(cafile=certificate[0])
        names = resolver({"news.test": ["127.0.0.2"], "other.test": ["127.0.0.2"]})

        def fetch(url: str) -> tuple[LinkCard | None, list[str]]:
            return fetch_card(
                url, media, allow_private=False, resolve=names, is_public=only_public, trust=trust
            )

        good, bad = f"https://news.test:{site.port}/", f"https://other.test:{site.port}/"
        assert fetch(good) == (LinkCard(good, "Over TLS", ""), [])
        card, warnings = fetch(bad)
        assert card is None and "certificate is not valid for 'other.test'" in warnings[0]
        assert site.seen == [("/", f"news.test:{site.port}")]
    finally:
        server.shutdown()
        server.server_close()


def self_signed(folder: Path, name: str) -> tuple[str, str]:
    """A certificate for `name` and its key, as PEM files: (certificate, key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)
