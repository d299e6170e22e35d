"""A link's card, read from its page once at queue time: title, description and picture.

No database and no clock; the network only through `fetch_card`, which never raises for a
page's or a network's trouble: it answers with no card and one warning sentence, since a
post goes out fine without a card.

The guard: only http and https, and every host (the link's, each redirect's, the picture's)
is resolved first and refused when any of its addresses is private, loopback, link-local,
multicast, reserved or unspecified (IPv4-mapped ones too), unless `allow_private`
(CAMPAIGN_ALLOW_PRIVATE_LINKS=1). The connection then goes to the address that was checked:
the request is sent to that IP with the name in the Host header and in TLS's SNI (which the
certificate is verified against), so a DNS answer that changes between the check and the
connect (rebinding) cannot point us at the user's own network. No proxy from the
environment is used: a proxy would resolve the name again itself.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx

from scheduler.errors import BadInput
from scheduler.media import MediaDir, fit_image, image_from_bytes
from scheduler.model import LinkCard

__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "MAX_THUMB_BYTES",
    "MAX_TITLE_CHARS",
    "Address",
    "Resolve",
    "fetch_card",
    "is_public_address",
    "system_resolve",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A host name -> the addresses it resolves to, as strings (socket.getaddrinfo by default).
Resolve = Callable[[str], Sequence[str]]

# app.bsky.embed.external#external: thumb is a blob of at most 1,000,000 bytes; title and
# description are required strings with no maxLength (bluesky-social/atproto,
# lexicons/app/bsky/embed/external.json). The cuts below are ours, so a page stuffed with
# text makes a card people can read, and a record well under any PDS size limit.
MAX_THUMB_BYTES = 1_000_000
MAX_TITLE_CHARS = 300
MAX_DESCRIPTION_CHARS = 1_000

_PAGE_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = (301, 302, 303, 307, 308)
_HEADERS = {
    "User-Agent": "campaign/0.1 (link preview; +https://pypi.org/project/campaign-scheduler/)",
    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    # Compressed bodies would be inflated past the caps before we could count them.
    "Accept-Encoding": "identity",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def system_resolve(host: str) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order, each once."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def is_public_address(address: Address) -> bool:
    """True for an address on the public internet: not private, loopback, link-local,
    multicast, reserved or unspecified, nor an IPv4 one of those mapped into IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def fetch_card(
    url: str,
    media: MediaDir,
    *,
    allow_private: bool,
    timeout: float = 10.0,
    max_page_bytes: int = 2_000_000,
    max_image_bytes: int = 10_000_000,
    max_redirects: int = 5,
    resolve: Resolve = system_resolve,
    is_public: Callable[[Address], bool] = is_public_address,
    trust: ssl.SSLContext | None = None,
) -> tuple[LinkCard | None, list[str]]:
    """The card for `url` and what to tell the user about it.

    The card's uri is `url` as given, the link that is in the post: not the page's og:url or
    canonical link, which may name another page (or another site). A page with a
    description or a picture but no title gets its host as the title; a page with none of
    the three gets no card. `trust`: the certificates https is verified with (None: the
    system's). `resolve` and `is_public` are seams for tests.
    """
    fetch = _Fetcher(allow_private, timeout, max_redirects, resolve, is_public)
    verify: ssl.SSLContext | bool = True if trust is None else trust
    with httpx.Client(
        trust_env=False, follow_redirects=False, headers=_HEADERS, verify=verify
    ) as client:
        try:
            page = fetch.get(client, url, max_page_bytes, "the page")
        except _NoCard as reason:
            return None, [f"no card for {url}: {reason}"]
        head = _read_head(page.body, page.charset)
        title = _clean(head.first("og:title", "twitter:title") or head.title, MAX_TITLE_CHARS)
        description = _clean(
            head.first("og:description", "twitter:description", "description"),
            MAX_DESCRIPTION_CHARS,
        )
        picture = head.first("og:image", "og:image:url", "og:image:secure_url", "twitter:image")
        picture = picture or head.first("twitter:image:src")
        if not (title or description or picture):
            return None, [f"no card for {url}: the page has no title, description or picture"]
        card = LinkCard(uri=url, title=title or httpx.URL(url).host, description=description)
        if not picture:
            return card, []
        base = page.url.join(head.base.strip()) if head.base else page.url
        try:
            image_url = base.join(picture.strip())
            thumb = fetch.get(client, str(image_url), max_image_bytes, "the picture")
            stored = image_from_bytes(thumb.body, str(image_url), "", media)
            # What was done to fit it is ours to know: the user never sees this copy alone.
            fitted, _ = fit_image(
                stored, MAX_THUMB_BYTES, media, label=str(image_url), platform_name="Bluesky"
            )
        except (_NoCard, BadInput, httpx.InvalidURL) as reason:
            return card, [f"the card for {url} has no picture: {reason}"]
    return LinkCard(card.uri, card.title, card.description, fitted), []


# -- fetching -----------------------------------------------------------------------------------


class _NoCard(Exception):
    """Why a fetch gave up, as the end of a sentence ("the page is larger than 2 MB")."""


@dataclass(frozen=True)
class _Fetched:
    url: httpx.URL  # where the body came from, after redirects
    body: bytes
    charset: str | None


class _Fetcher:
    def __init__(
        self,
        allow_private: bool,
        timeout: float,
        max_redirects: int,
        resolve: Resolve,
        is_public: Callable[[Address], bool],
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.resolve = resolve
        self.is_public = is_public

    def get(self, client: httpx.Client, url: str, cap: int, what: str) -> _Fetched:
        """GET `url`, following up to max_redirects redirects, each hop guarded; the body
        read up to `cap` bytes within `timeout` seconds in all. `what` is "the page" (which
        must be HTML) or "the picture" (whose bytes Pillow judges, whatever its type)."""
        deadline = time.monotonic() + self.timeout
        try:
            current = httpx.URL(url)
            for _ in range(self.max_redirects + 1):
                request = self._pinned(client, current, deadline)
                response = client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        current = current.join(location)
                        continue
                    if response.status_code >= 300:
                        raise _NoCard(f"HTTP {response.status_code}")
                    if what == "the page":
                        _check_page_type(response)
                    body = _read(response, cap, deadline, what, self.timeout)
                    return _Fetched(current, body, response.charset_encoding)
                finally:
                    response.close()  # unread bytes stay on the wire: the connection goes
            raise _NoCard("too many redirects")
        except httpx.TimeoutException:
            raise _NoCard(f"{what} took longer than {self.timeout:g} s") from None
        except httpx.InvalidURL as error:
            raise _NoCard(f"it is not a usable address ({error})") from None
        except httpx.HTTPError as error:
            raise _NoCard(
                f"{what} could not be fetched ({error or type(error).__name__})"
            ) from None

    def _pinned(self, client: httpx.Client, url: httpx.URL, deadline: float) -> httpx.Request:
        """The request for `url`, sent to the one address the guard passed."""
        if url.scheme not in ("http", "https"):
            raise _NoCard(f"only http and https links get a card, not {url.scheme}")
        host = url.raw_host.decode("ascii")
        if not host:
            raise _NoCard("it names no host")
        address = self._checked_address(host.strip("[]"))
        left = deadline - time.monotonic()
        if left <= 0:
            raise httpx.TimeoutException("deadline")
        return client.build_request(
            "GET",
            url.copy_with(host=str(address)),
            headers={"Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": host} if url.scheme == "https" else {},
            timeout=httpx.Timeout(left),
        )

    def _checked_address(self, host: str) -> Address:
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = [ipaddress.ip_address(a) for a in self.resolve(host)]
            except (OSError, UnicodeError, ValueError):
                raise _NoCard(f"its host {host} was not found") from None
            if not addresses:
                raise _NoCard(f"its host {host} was not found")
        if not self.allow_private:
            for address in addresses:
                if not self.is_public(address):
                    said = f"{address} is" if literal else f"{host} resolves to {address}, which is"
                    raise _NoCard(
                        f"{said} a private or loopback address "
                        "(set CAMPAIGN_ALLOW_PRIVATE_LINKS=1 to allow it)"
                    )
        return addresses[0]


def _check_page_type(response: httpx.Response) -> None:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in _PAGE_TYPES:  # none given: read it as HTML all the same
        raise _NoCard(f"it is {kind}, not a web page")


def _read(response: httpx.Response, cap: int, deadline: float, what: str, timeout: float) -> bytes:
    too_big = _NoCard(f"{what} is larger than {cap / 1_000_000:g} MB")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            raise too_big
        if time.monotonic() > deadline:
            raise _NoCard(f"{what} took longer than {timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)


# -- reading the page ---------------------------------------------------------------------------


class _EndOfHead(Exception):
    pass


class _Head(HTMLParser):
    """The <head>'s meta tags (first of each name wins), <title>, and <base href>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities come out unescaped
        self.meta: dict[str, str] = {}
        self.base: str | None = None
        self._title: list[str] = []
        self._in_title = False
        self._title_done = False

    @property
    def title(self) -> str:
        return "".join(self._title)

    def first(self, *names: str) -> str:
        for name in names:
            value = self.meta.get(name, "").strip()
            if value:
                return value
        return ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name.lower(): value or "" for name, value in attrs}
        if tag == "meta":
            key = (found.get("property") or found.get("name") or "").strip().lower()
            if key and found.get("content", "").strip():
                self.meta.setdefault(key, found["content"])
        elif tag == "title" and not self._title_done:
            self._in_title = True
        elif tag == "base" and self.base is None and found.get("href"):
            self.base = found["href"]
        elif tag == "body":
            raise _EndOfHead

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title, self._title_done = False, True
        elif tag == "head":
            raise _EndOfHead

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)


def _read_head(body: bytes, charset: str | None) -> _Head:
    head = _Head()
    try:
        head.feed(_decode(body, charset))
        head.close()
    except _EndOfHead:
        pass
    except Exception:  # html.parser is lenient; keep whatever it read before tripping
        pass
    return head


def _decode(body: bytes, charset: str | None) -> str:
    """The response's charset, else a <meta charset> near the top, else UTF-8; bytes that
    do not decode become U+FFFD."""
    if not charset and (declared := _META_CHARSET.search(body[:4096])):
        charset = declared.group(1).decode("ascii")
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _clean(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
