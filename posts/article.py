"""Read an article (plain text, Markdown or a saved web page) into title, byline and paragraphs.

Pure: no network, no database, no clock. The heavy parsers (markdown-it, trafilatura,
charset-normalizer) are imported inside the functions that use them so that the CLI starts fast.

Faithfulness rule: every word of the body ends up in ``Article.paragraphs`` once, in order. The
only text ever removed is page chrome (trailing boilerplate such as "Comments are closed.", which
is reported in ``warnings``), Markdown markup, images without alt text and images standing alone
as figures, what <script> and <style> hold, code blocks and footnotes nothing refers to (both
reported), and separator lines such as ``* * *``.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from markdown_it.token import Token

__all__ = ["Article", "ArticleError", "kind_of", "parse_bytes", "parse_text", "read_article"]

KINDS = ("txt", "md", "html")
_SUFFIX_KIND = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}


class ArticleError(ValueError):
    """Bad input; str(e) is one clear sentence naming the file, fit for stderr."""


@dataclass(frozen=True)
class Article:
    title: str | None
    byline: str | None
    paragraphs: list[str]
    warnings: list[str] = field(default_factory=list)
    # SHA-256 of the file's bytes, as read (empty for text that came from no file).
    source_sha256: str = ""

    def lead(self) -> list[str]:
        """Title and byline, without the missing ones: these open the first post."""
        return [s for s in (self.title, self.byline) if s]


# --------------------------------------------------------------------------- reading files


def read_article(path: Path, max_bytes: int = 5 * 1024 * 1024) -> Article:
    """Read, decode and parse an article file; its suffix picks the parser (unknown: plain)."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ArticleError(f"article not found: {path}") from None
    except OSError as e:
        raise ArticleError(f"cannot read {path}: {e.strerror or e}") from None
    if path.is_dir():
        raise ArticleError(f"{path} is a directory, not an article file")
    if not path.is_file():
        # FIFOs and devices could block forever or never end.
        raise ArticleError(f"{path} is not a regular file")
    # Size is checked before reading so a huge file is never loaded into memory.
    if st.st_size > max_bytes:
        size, limit = _size(st.st_size), _size(max_bytes)
        raise ArticleError(f"{path} is too big for an article: {size}, the limit is {limit}")
    if st.st_size == 0:
        raise ArticleError(f"{path} is empty")
    try:
        with path.open("rb") as f:
            # Read one byte past the limit in case the file grew after stat().
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ArticleError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise ArticleError(f"{path} is too big for an article: the limit is {_size(max_bytes)}")
    return parse_bytes(data, str(path), _SUFFIX_KIND.get(path.suffix.lower(), "txt"))


def kind_of(name: str) -> str:
    """The article kind a file name's suffix means (unknown: plain text)."""
    return _SUFFIX_KIND.get(Path(name).suffix.lower(), "txt")


def parse_bytes(data: bytes, source: str, kind: str | None = None) -> Article:
    """Decode and parse an article's bytes (read from a file or standard input); `source`
    names it in messages. Without a kind, a saved web page is told by its first tag."""
    if not data:
        raise ArticleError(f"{source} is empty")
    if kind is None:
        head = data[:512].lstrip().lower()
        kind = "html" if head.startswith((b"<!doctype html", b"<html")) else "txt"
    if kind not in KINDS:
        raise ArticleError(f"unknown article kind {kind!r}: expected one of txt, md, html")
    text, warnings = _decode(data, source, kind)
    parsed = _parse(text, kind, source, warnings)
    return replace(parsed, source_sha256=hashlib.sha256(data).hexdigest())


def parse_text(text: str, kind: str = "txt") -> Article:
    """Parse already-decoded article text; kind is "txt", "md" or "html"."""
    if kind not in KINDS:
        raise ArticleError(f"unknown article kind {kind!r}: expected one of txt, md, html")
    return _parse(text.removeprefix("\ufeff"), kind, "the article text", [])


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    unit, div = ("MiB", 1024 * 1024) if n >= 1024 * 1024 else ("KiB", 1024)
    return f"{n:,} bytes ({n / div:.1f} {unit})"


_CONTROL_BYTES = bytes(sorted(set(range(32)) - {9, 10, 11, 12, 13} | {127}))
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# Browsers read pages labelled latin-1 or ASCII as windows-1252 (WHATWG), and so do we.
_AS_CP1252 = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"})
_HTML_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _decode(data: bytes, source: str, kind: str) -> tuple[str, list[str]]:
    """Bytes -> text. UTF-8 first; otherwise a declared HTML charset, then detection (warned)."""
    # Check UTF-32 before UTF-16: the UTF-32-LE BOM starts with the UTF-16-LE one.
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        # A BOM is the one reliable sign of UTF-16/32, whose text is full of NUL bytes.
        if data.startswith(bom):
            try:
                return data.decode(codec), []
            except UnicodeDecodeError:
                break
    document = _document_format(data)
    if document is not None:
        raise ArticleError(f"{source} is {document}, not an article: save its text first")
    if b"\x00" in data or _control_share(data) > 0.05:
        raise ArticleError(f"{source} looks like binary data, not an article")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass

    if kind == "html":
        found = _HTML_CHARSET.search(data[:4096])
        if found:
            declared = found.group(1).decode("ascii").lower()
            for codec in ("cp1252", declared) if declared in _AS_CP1252 else (declared,):
                try:
                    text = data.decode(codec)
                except (LookupError, UnicodeDecodeError):
                    continue
                return text, [
                    f"{source} is not UTF-8; decoded it as {codec}, the charset the page declares"
                ]

    mixed = _utf8_with_strays(data)
    if mixed is not None:
        text, bad = mixed
        return text, [
            f"{source} is UTF-8 except for {bad} stray byte{'s' if bad > 1 else ''};"
            f" read {'them' if bad > 1 else 'it'} as cp1252"
        ]

    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise ArticleError(f"{source} is not UTF-8 and its text encoding could not be detected")
    best = matches[0]
    # Short Western text scores about the same in cp1250, cp1252, cp1257 and friends, and the
    # detector's pick among them is close to random; cp1252 is by far the most common of them
    # (and what browsers use for "latin-1"), so it wins near-ties.
    for m in matches:
        if (
            m.encoding == "cp1252"
            and m.chaos <= best.chaos + 0.05
            and m.coherence >= best.coherence - 0.1
        ):
            best = m
            break
    text = str(best)
    if _control_share(text) > 0.05:
        raise ArticleError(f"{source} looks like binary data, not an article")
    return text, [
        f"{source} is not UTF-8; decoded it as {best.encoding} (a guess: check accented letters)"
    ]


# Documents whose text is not the file's text, by the signature they open with. Some pass for
# text: a PDF can be nearly all ASCII (uncompressed streams), PostScript and RTF are.
_DOCUMENT_SIGNATURES = (
    (b"%!PS", "a PostScript document"),
    (b"{\\rtf", "an RTF document"),
    (b"PK\x03\x04", "a ZIP archive (a Word, OpenDocument or EPUB file?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Word or Excel document"),
)


def _document_format(data: bytes) -> str | None:
    """What kind of document the bytes are, if they are one we recognise and cannot read."""
    # Readers accept the "%PDF-" header anywhere in the first 1,024 bytes (Adobe's PDF
    # Reference 1.7, appendix H, implementation note 13), so a PDF may open with a little junk.
    if b"%PDF-" in data[:1024]:
        return "a PDF document"
    for signature, name in _DOCUMENT_SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def _utf8_with_strays(data: bytes, limit: int = 64) -> tuple[str, int] | None:
    """Text that is UTF-8 but for a few bytes pasted in from a legacy encoding (a common result
    of copy and paste) is decoded as UTF-8 with those bytes read as cp1252. None when the bytes
    are not mostly UTF-8, which is a job for detection instead."""
    out: list[str] = []
    bad = 0
    rest = data.removeprefix(codecs.BOM_UTF8)
    while True:
        try:
            out.append(rest.decode("utf-8"))
            break
        except UnicodeDecodeError as e:
            bad += e.end - e.start
            if bad > limit:
                return None
            out.append(rest[: e.start].decode("utf-8"))
            for b in rest[e.start : e.end]:
                try:
                    out.append(bytes([b]).decode("cp1252"))
                except UnicodeDecodeError:
                    out.append(chr(b))  # the five bytes cp1252 leaves undefined
            rest = rest[e.end :]
    text = "".join(out)
    valid_non_ascii = sum(1 for c in text if ord(c) > 127) - bad
    return (text, bad) if valid_non_ascii > bad else None


def _control_share(data: bytes | str) -> float:
    """Share of control characters that no text file contains (tabs and newlines are fine)."""
    if not data:
        return 0.0
    if isinstance(data, bytes):
        bad = len(data) - len(data.translate(None, _CONTROL_BYTES))
    else:
        # C1 controls (U+0080-U+009F) in decoded text mean a wrong guess at a binary file.
        bad = len(_CONTROL_CHARS.findall(data))
    return bad / len(data)


# --------------------------------------------------------------------------- common shaping


def _parse(text: str, kind: str, source: str, warnings: list[str]) -> Article:
    text = _normalise_newlines(text)
    # Terminal escapes, backspaces and bells are not words: never publish or print them.
    text, stray = _CONTROL_CHARS.subn("", text)
    if stray:
        plural = "s" if stray > 1 else ""
        warnings.append(f"removed {stray} control character{plural} from {source}")
    if not text.strip():
        raise ArticleError(f"{source} is blank: it contains only whitespace")
    notes: list[str] = []
    if kind == "md":
        title, byline, paras, notes = _from_markdown(text, warnings)
    elif kind == "html":
        title, byline, paras = _from_html(text, warnings, source)
    else:
        title, byline, paras = _from_plain(text)
    return _finish(source, title, byline, paras, warnings, notes)


def _normalise_newlines(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u2029", "\n\n").replace("\u2028", "\n").replace("\f", "\n\n")


# Whole-paragraph, case-insensitive patterns for page chrome that trails an article when it is
# copied or extracted from a web page. Only *trailing* paragraphs are tested, so a sentence in
# the body that happens to match is never lost.
BOILERPLATE = tuple(
    re.compile(p, re.I)
    for p in (
        r"comments? (are|is) (now )?closed\.?",
        r"comments? closed\.?",
        r"(leave|post|add|write) a (comment|reply|response)\.?",
        r"(\d+|no|one) (comments?|responses?|replies|thoughts? on .{1,200})\.?",
        r"you must be (logged|signed) in to post a comment\.?",
        r"your email address will not be published\..{0,80}",
        r"cancel reply",
        r"share( this( article| post| story)?)?( on)?:?",
        r"(click to )?share on \S+( \(opens in new window\))?",
        r"(facebook|twitter|x|email|e-mail|print|whatsapp|linkedin|telegram|reddit|pinterest"
        r"|tumblr|pocket|mastodon|bluesky|threads)",
        r"like this:?",
        r"(like )?loading(\.{3}|…)?",
        r"related( posts| articles| stories| content)?:?",
        r"(you may|you might) also like:?",
        r"read more:?",
        r"(previous|next) (post|article|story)",
        r"back to top",
        r"advertisement",
        r"subscribe( to (our|the) newsletter)?\.?",
        # "Posted in News, Opinion" / "Tags: ..." are labels, never sentences, hence [^.!?].
        r"(posted|filed) (in|under):? [^.!?]{1,100}",
        r"(tags|tag|categories|category): ?[^.!?]{1,100}",
        r"tagged( with)?:? [^.!?]{1,100}",
        r"(©|\(c\)|copyright ©?\s*\d{4}).{0,150}",
        r"all rights reserved\.?",
    )
)

# Sentence-closing punctuation, optionally followed by closing quotes or brackets.
_CLOSED = re.compile(r"[.!?…։。！？．｡‼‽।؟۔][\"'”’»›)\]}」』）】〕〉》]*$")
# Armenian text typed on Latin keyboards ends sentences with ":" instead of "։".
_ARMENIAN_COLON = re.compile(r"[\u0531-\u0587][\"'”’»)]*:$")
_SEPARATOR = re.compile(r"[-*_=~#•·. ]{3,}")


def _finish(
    source: str,
    title: str | None,
    byline: str | None,
    paras: list[str],
    warnings: list[str],
    notes: Sequence[str] = (),
) -> Article:
    """The article, tidied: separators and trailing page chrome dropped, a truncated ending
    reported. Footnotes (`notes`) follow the body, after its chrome has gone."""
    title = _normalise(title) if title else None
    byline = _normalise(byline) if byline else None
    body = [p for p in (_normalise(p) for p in paras) if p and not _SEPARATOR.fullmatch(p)]

    dropped: list[str] = []
    while body and any(rx.fullmatch(body[-1]) for rx in BOILERPLATE):
        dropped.append(body.pop())
    for d in reversed(dropped):
        warnings.append(f'dropped page boilerplate "{_clip(d, 80)}"')

    if not body:
        if title or byline:
            what = " and ".join(n for n, v in (("title", title), ("byline", byline)) if v)
            raise ArticleError(f"{source} has a {what} but no article text")
        raise ArticleError(f"{source} has no article text")

    last = body[-1]
    last_word = last.split()[-1]
    if not (
        _CLOSED.search(last)
        or _ARMENIAN_COLON.search(last)
        # A closing link or hashtag cannot carry a full stop, so do not cry wolf about them.
        or last_word.startswith(("http://", "https://", "#", "@"))
    ):
        words = last.split()
        tail = " ".join(words[-8:])
        if len(words) > 8 or len(tail) > 60:
            tail = "…" + _clip_left(tail, 60)
        warnings.append(
            f'the article seems truncated: its last sentence "{tail}" has no closing punctuation'
        )
    body.extend(_normalise(n) for n in notes)
    return Article(title=title or None, byline=byline or None, paragraphs=body, warnings=warnings)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _clip_left(s: str, n: int) -> str:
    return s if len(s) <= n else s[-n:]


_WS = re.compile(r"\s+")
# CJK punctuation, kana, ideographs, compatibility ideographs, full-width forms: the scripts
# written without spaces between words.
_CJK_CHARS = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK = re.compile(f"[{_CJK_CHARS}]")
_WIDE = re.compile(f"[{_CJK_CHARS}\u1100-\u115f\uac00-\ud7a3]")


def _is_cjk(c: str) -> bool:
    return _CJK.match(c) is not None


def _normalise(s: str) -> str:
    """Collapse whitespace runs to one space; a line break between two CJK characters is just
    a wrap (Chinese and Japanese do not put spaces between words), so it disappears."""
    if not _CJK.search(s):
        return " ".join(s.split())

    def repl(m: re.Match[str]) -> str:
        a, b = m.start(), m.end()
        if "\n" in m.group() and a > 0 and b < len(s) and _is_cjk(s[a - 1]) and _is_cjk(s[b]):
            return ""
        return " "

    return _WS.sub(repl, s).strip()


# --------------------------------------------------------------------------- bylines

_BYLINE = re.compile(r"by\s+(\S)", re.I)


def _is_byline(line: str) -> bool:
    """ "By Aram S. Hamparian" yes; "By then, it was too late." no (lower-case word after By)."""
    line = line.strip()
    m = _BYLINE.match(line)
    if not m or len(line) > 120 or len(line.split()) > 16 or line.endswith(("?", "!")):
        return False
    first = m.group(1)
    return not first.islower()


def _is_byline_tail(line: str, following: str | None) -> bool:
    """The short line under a "By" line that names a role, e.g. "ANCA Executive Director"."""
    line = line.strip()
    return (
        bool(line)
        and len(line) <= 80
        and len(line.split()) <= 10
        and not line.endswith((".", "!", "?", ":", ";", ",", "…", "։", "。"))
        and not _starts_lower(line)
        and not _LIST_ITEM.match(line)
        and not _is_byline(line)
        # If the next line continues a sentence, this line is the start of a wrapped body.
        and not (following is not None and _starts_lower(following))
    )


def _take_byline(lines: Sequence[str], i: int) -> tuple[list[str], int]:
    """Byline lines starting at lines[i], and the index after them."""
    parts: list[str] = []
    n = len(lines)
    while i < n and _is_byline(lines[i]):
        parts.append(lines[i].strip().rstrip(","))
        i += 1
        if i < n and _is_byline_tail(lines[i], lines[i + 1] if i + 1 < n else None):
            parts.append(lines[i].strip().rstrip(","))
            i += 1
    return parts, i


# --------------------------------------------------------------------------- plain text

# "1) ", "2. ", "(a) ", "- ", "* ", "• "; not dashes, which also start wrapped clauses.
_LIST_ITEM = re.compile(r"\s*(\(?\d{1,3}[.)]|\(?[a-z]\)|[-*•+▪●◦])\s+\S")


def _width(line: str) -> int:
    """Columns a line takes in a monospaced editor: CJK and Hangul characters count twice."""
    line = line.strip()
    return len(line) + len(_WIDE.findall(line))


def _ends_clause(line: str) -> bool:
    return bool(_CLOSED.search(line)) or line.endswith(":")


def _starts_lower(line: str) -> bool:
    for c in line:
        if c.isalpha():
            return c.islower()
    return False


def _from_plain(text: str) -> tuple[str | None, str | None, list[str]]:
    lines = [ln.rstrip() for ln in text.split("\n")]
    n = len(lines)
    i = 0
    while i < n and not lines[i].strip():
        i += 1

    title: str | None = None
    first = lines[i].strip()
    nxt = lines[i + 1] if i + 1 < n else ""
    # The first line is the title unless it is a byline, far too long for a title, or the
    # first half of a wrapped sentence.
    if not _is_byline(first) and len(first) <= 200 and not _starts_lower(nxt):
        title = first
        i += 1
        while i < n and not lines[i].strip():
            i += 1
    parts, i = _take_byline(lines, i)
    byline = ", ".join(parts) or None

    paras: list[str] = []
    block: list[str] = []
    for line in [*lines[i:], ""]:
        if line.strip():
            block.append(line)
        elif block:
            paras.extend(_split_block(block))
            block = []
    return _lone_title_is_body(title, byline, paras)


def _lone_title_is_body(
    title: str | None, byline: str | None, paras: list[str]
) -> tuple[str | None, str | None, list[str]]:
    """A file of one line (or one heading) is a short text, not a title without a body."""
    if title and not byline and not any(p.strip() for p in paras):
        return None, None, [title]
    return title, byline, paras


def _split_block(block: list[str]) -> list[str]:
    """Cut a block without blank lines into paragraphs.

    Text pasted from the web often has one paragraph per line and no blank lines, while
    hand-wrapped text runs one paragraph over many lines. A block counts as hand-wrapped when at
    least half of its lines (the last one and list items aside) run to the block's width and
    stop mid-sentence. A line that starts in lower case always continues the previous one.
    Otherwise, in a hand-wrapped block a line well short of the wrap width ends its paragraph;
    in other blocks every line does, and list items always start one.
    """
    widths = [_width(ln) for ln in block]
    width = max(widths)
    full = [w >= 0.75 * width for w in widths]

    inner = [k for k in range(len(block) - 1) if not _LIST_ITEM.match(block[k])]
    filled = [k for k in inner if full[k] and not _ends_clause(block[k])]
    # Hand-wrapping shows as lines filled to a common width (50+ columns) that stop mid-sentence.
    wrapped = width >= 50 and bool(inner) and 2 * len(filled) >= len(inner)

    paras: list[list[str]] = [[block[0]]]
    for k, (prev, line) in enumerate(pairwise(block)):
        prev_full = full[k]
        if _LIST_ITEM.match(line):
            # "...requiring 1) guarantees;\n2) a peacekeeping..." wrapped mid-sentence is no item.
            new = not (wrapped and prev_full and not _CLOSED.search(prev))
        elif _starts_lower(line):
            new = False
        elif wrapped:
            new = not prev_full
        else:
            new = True
        if new:
            paras.append([line])
        else:
            paras[-1].append(line)
    return ["\n".join(p) for p in paras]


# --------------------------------------------------------------------------- Markdown

_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|$)", re.S)
_FM_FIELD = re.compile(r"^(title|author|authors)[ \t]*:[ \t]*(\S.*?)[ \t]*$", re.I | re.M)


def _from_markdown(
    text: str, warnings: list[str]
) -> tuple[str | None, str | None, list[str], list[str]]:
    """Title, byline, paragraphs and footnotes of a Markdown article."""
    # YAML front matter (Jekyll, Hugo) is metadata, not body; its title/author are fallbacks.
    meta: dict[str, str] = {}
    m = _FRONT_MATTER.match(text.lstrip("\n"))
    if m and re.search(r"^\w[\w-]*\s*:", m.group(1), re.M):
        for key, value in _FM_FIELD.findall(m.group(1)):
            meta.setdefault(key.lower().rstrip("s"), value.strip("\"'[] "))
        text = text.lstrip("\n")[m.end() :]

    markdown = _Markdown(warnings)
    blocks = markdown.blocks(text)
    title = blocks.pop(0)[1] if blocks and blocks[0][0] == "h1" else meta.get("title")
    byline, paras = _byline_from_blocks(blocks)
    if byline is None and meta.get("author"):
        byline = "By " + meta["author"]
    title, byline, paras = _lone_title_is_body(title, byline, paras)
    return title, byline, paras, markdown.footnotes()


def _byline_from_blocks(blocks: list[tuple[str, str]]) -> tuple[str | None, list[str]]:
    """A first paragraph starting "By ..." holds the byline (its lines split by soft breaks);
    any lines of it after the byline stay in the body. Headings are never bylines."""
    texts = [text for _, text in blocks]
    if not blocks or blocks[0][0] != "p":
        return None, texts
    lines = texts[0].split("\n")
    parts, used = _take_byline(lines, 0)
    if not parts:
        return None, texts
    rest = "\n".join(lines[used:])
    return ", ".join(parts), ([rest] if rest.strip() else []) + texts[1:]


# Where inline markup left nothing (an image without alt text, a script): a private-use mark,
# so that the space before it can go when punctuation follows ("and ![](x)." reads "and.").
_HOLE = "\ue000"
_HOLE_BEFORE_PUNCTUATION = re.compile(
    r"[(\[]\s*\ue000\s*[)\]]|\s*\ue000(?=\s*[.,;:!?…)\]»”’]|\s*$)"
)
_FOOTNOTE_DEFINITION = re.compile(r"\[\^([^\]\s]+)\]:[ \t]*(.*)")
_FOOTNOTE_REFERENCE = re.compile(r"\[\^([^\]\s]+)\]")
_FENCE = re.compile(r"[ ]{0,3}(`{3,}|~{3,})")
_HTML_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][\w-]*)([^>]*?)(/?)\s*>")
_HTML_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


class _Markdown:
    """Markdown as text a post can carry: blocks of ("h1".."h6" or "p", text), soft and hard
    breaks kept as "\\n". Links keep an absolute URL, images their alt text in brackets (an
    image alone in its paragraph is a figure and leaves nothing), footnote references read
    "[1]" and their definitions follow the body as "[1] ...", table rows read "Header: cell;
    Header: cell". Code blocks are dropped with a warning (code does not read as a post),
    and so is what <script> and <style> hold; other inline HTML leaves its text."""

    def __init__(self, warnings: list[str], base: str | None = None) -> None:
        self.warnings = warnings
        self.base = base  # what relative links are relative to (a saved page's address)
        self.notes: dict[str, str] = {}  # footnote label -> its definition, as Markdown
        self.numbers: dict[str, int] = {}  # footnote label -> its number, by first reference

    def blocks(self, text: str) -> list[tuple[str, str]]:
        from markdown_it import MarkdownIt

        text = self._lift_footnotes(text)
        tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)
        blocks: list[tuple[str, str]] = []
        context = "p"
        # One entry per open list item: its "3) " prefix until the item's first text block
        # takes it.
        prefixes: list[str] = []
        row: list[str] = []
        header: list[str] = []  # the current table's heading cells
        rows = 0  # and how many rows it had under them
        in_head = False
        for tok in tokens:
            t = tok.type
            if t == "heading_open":
                context = tok.tag
            elif t == "paragraph_open":
                context = "p"
            elif t in ("th_open", "td_open"):
                context = "cell"
            elif t == "table_open":
                header, rows = [], 0
            elif t == "thead_open":
                in_head = True
            elif t == "thead_close":
                in_head = False
            elif t == "tr_open":
                row = []
            elif t == "tr_close":
                if in_head:
                    header = row
                elif any(row):
                    blocks.append(("p", _table_row(header, row)))
                    rows += 1
            elif t == "table_close" and header and not rows:
                blocks.append(("p", _table_row([], header)))  # a table of headings only
            elif t == "list_item_open":
                # Ordered items keep their number as written ("1)" or "1."); bullets lose it.
                prefixes.append(f"{tok.info}{tok.markup} " if tok.info else "")
            elif t == "list_item_close":
                prefixes.pop()
            elif t == "inline":
                children = tok.children or []
                content = "" if _is_figure(children) else self.inline(children)
                if context == "cell":
                    row.append(_normalise(content))
                    continue
                if prefixes and prefixes[-1] and content.strip():
                    content, prefixes[-1] = prefixes[-1] + content, ""
                if content.strip():
                    blocks.append((context, content))
            elif t in ("fence", "code_block"):
                self._drop_code(tok.content)
            elif t == "html_block":
                blocks.extend(("p", p) for p in _html_text(tok.content).paragraphs)
        return blocks

    def inline(self, children: Sequence[Token]) -> str:
        out: list[str] = []
        links: list[tuple[str, int]] = []
        hidden: str | None = None  # inside <script> or <style>: the tag that ends it
        for tok in children:
            t = tok.type
            if hidden is not None:
                tag = _HTML_TAG.fullmatch(tok.content.strip()) if t == "html_inline" else None
                if tag and tag.group(1) and tag.group(2).lower() == hidden:
                    hidden = None
                continue
            if t in ("text", "code_inline"):
                out.append(tok.content)
            elif t in ("softbreak", "hardbreak"):
                out.append("\n")
            elif t == "image":
                out.append(_alt(tok.content))
            elif t == "html_inline":
                hidden = self._inline_html(tok.content, out, links)
            elif t == "link_open":
                links.append((str(tok.attrGet("href") or ""), len(out)))
            elif t == "link_close" and links:
                self._close_link(out, links.pop())
            # Emphasis and strike-through markers vanish with their tokens.
        text = _HOLE_BEFORE_PUNCTUATION.sub("", "".join(out)).replace(_HOLE, "")
        return _FOOTNOTE_REFERENCE.sub(self._reference, text)

    def footnotes(self) -> list[str]:
        """The definitions, numbered as first referred to; those never referred to are
        dropped with a warning."""
        notes = []
        for label, number in sorted(self.numbers.items(), key=lambda item: item[1]):
            notes.append(f"[{number}] {self._render_inline(self.notes[label])}")
        for label in self.notes.keys() - self.numbers.keys():
            self.warnings.append(f"dropped footnote [^{label}], which the text never refers to")
        return notes

    def _inline_html(self, tag: str, out: list[str], links: list[tuple[str, int]]) -> str | None:
        """Render one inline HTML tag into `out`; the name of the tag whose content must be
        hidden until it closes (script, style), else None."""
        found = _HTML_TAG.fullmatch(tag.strip())
        if found is None:  # a comment or a processing instruction
            out.append(_HOLE)
            return None
        closing, name, attributes = bool(found.group(1)), found.group(2).lower(), found.group(3)
        if name in ("script", "style"):
            out.append(_HOLE)
            return None if closing or found.group(4) else name
        attrs = {
            m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _HTML_ATTRIBUTE.finditer(attributes)
        }
        if name == "br":
            out.append("\n")
        elif name == "img":
            out.append(_alt(attrs.get("alt", "")))
        elif name == "a" and closing and links:
            self._close_link(out, links.pop())
        elif name == "a" and not closing:
            links.append((attrs.get("href", ""), len(out)))
        return None

    def _close_link(self, out: list[str], link: tuple[str, int]) -> None:
        href, start = link
        label = "".join(out[start:]).replace(_HOLE, "").strip()
        url = _absolute(href, self.base)
        if label and url and not _same_url(label, url):
            out.append(f" ({url})")

    def _lift_footnotes(self, text: str) -> str:
        """Take footnote definitions ("[^1]: ...", continued on indented lines) out of the
        text, outside fenced code, into self.notes."""
        kept: list[str] = []
        label: str | None = None
        fence: str | None = None
        for line in text.split("\n"):
            opened = _FENCE.match(line)
            if fence is not None:
                fence = None if opened and opened.group(1).startswith(fence) else fence
                kept.append(line)
                continue
            if opened:
                fence, label = opened.group(1), None
                kept.append(line)
                continue
            definition = _FOOTNOTE_DEFINITION.fullmatch(line)
            if definition:
                label = definition.group(1)
                self.notes[label] = definition.group(2)
            elif label is not None and line.startswith(("    ", "\t")):
                self.notes[label] += " " + line.strip()
            elif label is not None and not line.strip():
                kept.append(line)
            else:
                label = None
                kept.append(line)
        return "\n".join(kept)

    def _reference(self, match: re.Match[str]) -> str:
        label = match.group(1)
        if label not in self.notes:
            warning = f"dropped footnote reference [^{label}], which has no definition"
            if warning not in self.warnings:
                self.warnings.append(warning)
            return ""
        number = self.numbers.setdefault(label, len(self.numbers) + 1)
        return f"[{number}]"

    def _render_inline(self, text: str) -> str:
        from markdown_it import MarkdownIt

        tokens = MarkdownIt("commonmark").enable(["strikethrough"]).parseInline(text)
        return "".join(self.inline(tok.children or []) for tok in tokens)

    def _drop_code(self, code: str) -> None:
        lines = code.rstrip("\n").split("\n")
        first = _clip(lines[0].strip(), 40)
        plural = "s" if len(lines) > 1 else ""
        self.warnings.append(
            f"dropped a code block of {len(lines)} line{plural} starting {first!r}:"
            " code is not posted"
        )


def _alt(text: str) -> str:
    """An image as a reader of the post can have it: its alt text in brackets, or nothing."""
    text = " ".join(text.split())
    return f"[{text}]" if text else _HOLE


def _is_figure(children: Sequence[Token]) -> bool:
    """Is this paragraph only images? Then it is a figure, which a post cannot show."""
    images = [t for t in children if t.type == "image"]
    rest = [t for t in children if t.type != "image"]
    return bool(images) and all(
        t.type in ("softbreak", "hardbreak") or (t.type == "text" and not t.content.strip())
        for t in rest
    )


def _table_row(header: list[str], row: list[str]) -> str:
    """A table row as a line: "Year: 1991; Event: Independence" (cells without a header
    stand alone; empty cells are left out)."""
    cells = []
    for k, cell in enumerate(row):
        if not cell:
            continue
        name = header[k] if k < len(header) else ""
        cells.append(f"{name}: {cell}" if name else cell)
    return "; ".join(cells)


def _web_link(href: str) -> bool:
    return href.startswith(("http://", "https://"))


def _absolute(href: str, base: str | None) -> str | None:
    """A link's web address, resolved against the page's own when relative; None for links
    that lead nowhere from a post (relative without a base, #fragments, mailto:)."""
    from urllib.parse import urljoin

    href = href.strip()
    if _web_link(href):
        return href
    if base and href and not href.startswith("#"):
        joined = urljoin(base, href)
        if _web_link(joined):
            return joined
    return None


def _same_url(label: str, href: str) -> bool:
    def bare(u: str) -> str:
        u = re.sub(r"^(https?://)?(www\.)?", "", u.strip().lower())
        return u.rstrip("/")

    return bare(label) == bare(href)


# --------------------------------------------------------------------------- HTML


def _from_html(
    text: str, warnings: list[str], source: str
) -> tuple[str | None, str | None, list[str]]:
    import trafilatura

    # Our own simple extraction always runs: it knows the page's address (for relative
    # links), its <noscript> text and its visible lines, whatever trafilatura makes of it.
    page = _html_text(text)
    body: str | None = None
    meta_title: str | None = None
    meta_author: str | None = None
    try:
        # Markdown output keeps links as [text](url) and headings as "#", so the Markdown path
        # below turns them into "text (url)" and paragraphs like a hand-written .md file.
        body = trafilatura.extract(
            text,
            output_format="markdown",
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=True,
            include_formatting=True,
        )
        meta = trafilatura.extract_metadata(text)
        if meta is not None:
            meta_title = meta.title or None
            meta_author = meta.author or None
    except Exception:  # a parser crash on odd markup should not lose the article
        body = None

    blocks: list[tuple[str, str]] = []
    if body and body.strip():
        # trafilatura indents continuation lines; 4+ spaces would read as a code block.
        body = "\n".join(ln.strip() for ln in body.split("\n"))
        blocks = _Markdown(warnings, base=page.base).blocks(body)
        # "You need to enable JavaScript" is for browsers without it, never the article.
        blocks = [b for b in blocks if _normalise(b[1]) not in page.noscript]
        if _flattened(blocks, page):
            # On a short page trafilatura falls back to the text run together in one
            # paragraph, title and byline included; the page's own paragraphs are the same
            # words with their structure.
            blocks = [("p", p) for p in page.paragraphs]
    if not blocks:
        if not page.paragraphs and page.noscript:
            raise ArticleError(
                f"no article text found in {source}: the page needs JavaScript to show it"
            )
        warnings.append(
            "the article extractor found no article body, so a simple text extraction was used"
            " (it may include page clutter)"
        )
        blocks = [("p", p) for p in page.paragraphs]

    title: str | None = None
    if blocks and blocks[0][0] == "h1":
        title = blocks.pop(0)[1]
    else:
        title = meta_title or page.title
        # A heading repeated as the first paragraph is the page's title, not body text.
        first = _normalise(blocks[0][1]) if blocks else None
        if first is not None and first == _normalise(page.heading or ""):
            title = page.heading
            blocks.pop(0)
        elif first is not None and title and first == _normalise(title):
            blocks.pop(0)
    # The visible "By ..." line, wherever the extractor left it near the top; else the one
    # our extraction saw (trafilatura may drop it); else the page's author metadata.
    byline, paras = _byline_near_top(blocks)
    if byline is None and page.byline:
        byline = page.byline
        paras = [p for p in paras if _normalise(p) != _normalise(page.byline)]
    if byline is None and meta_author:
        byline = "By " + ", ".join(a.strip() for a in meta_author.split(";") if a.strip())
    return title, byline, paras


def _flattened(blocks: list[tuple[str, str]], page: _PageText) -> bool:
    """Is this one block the page's paragraphs run together (their words, links aside)?"""
    if len(blocks) != 1 or len(page.paragraphs) < 2:
        return False

    def words(text: str) -> str:
        return re.sub(r"\s+", "", re.sub(r" \(https?://[^\s()]*\)", "", text))

    return words(blocks[0][1]) == words("".join(page.paragraphs))


def _byline_near_top(blocks: list[tuple[str, str]]) -> tuple[str | None, list[str]]:
    """Like _byline_from_blocks, but the "By ..." paragraph may follow a few short lines (a
    date, a kicker), as on many pages; the search stops where the body begins."""
    for k, (kind, text) in enumerate(blocks[:_BYLINE_SEARCH]):
        if kind == "p":
            byline, rest = _byline_from_blocks(blocks[k:])
            if byline is not None:
                return byline, [t for _, t in blocks[:k]] + rest
        if len(text) > 200:
            break
    return None, [t for _, t in blocks]


# How many paragraphs from the top a page's byline may stand.
_BYLINE_SEARCH = 4


@dataclass
class _PageText:
    title: str | None
    paragraphs: list[str]
    heading: str | None = None  # the first <h1>
    base: str | None = None  # what the page's relative links are relative to
    noscript: frozenset[str] = frozenset()  # paragraphs shown only without JavaScript
    byline: str | None = None  # a visible "By ..." line near the top


class _TextExtractor(HTMLParser):
    """Fallback extraction: paragraphs of <article>, else <main>, else <body>, without chrome."""

    SKIP = frozenset(
        {"nav", "header", "footer", "aside", "script", "style", "form", "noscript", "template"}
        | {"svg", "button", "select", "iframe", "head", "object", "canvas", "dialog"}
    )
    # A class or id that starts with a chrome word marks page chrome, e.g. "share-buttons",
    # "comments-area", "related-posts"; "has-sidebar" on a wrapper does not.
    SKIP_CLASS = re.compile(
        r"(share|sharing|sharedaddy|social|comments?|related|sidebar|menu|nav|breadcrumbs?"
        r"|newsletter|subscribe|promo|advert|ads?|cookie|popup|modal|skip)([-_]|$)",
        re.I,
    )
    # Never skipped for their class: <body class="sidebar-left"> would hide the whole page.
    FRAME = frozenset({"html", "body", "main", "article"})
    BLOCK = frozenset(
        {"p", "div", "section", "article", "main", "li", "ul", "ol", "blockquote", "pre", "br"}
        | {"h1", "h2", "h3", "h4", "h5", "h6", "hr", "tr", "td", "th", "table", "dd", "dt", "dl"}
        | {"figcaption", "figure", "address"}
    )
    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
        | {"track", "wbr", "param"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # Open elements as (tag, skipped); end tags pop back to their match, so that sloppy
        # markup (an unclosed <li>) cannot leave the whole rest of the page skipped.
        self.stack: list[tuple[str, bool]] = []
        self.skip = 0
        self.article = 0
        self.main = 0
        self.title = ""
        self.h1 = ""
        self.h1_done = False
        self.buf: list[str] = []
        self.links: list[tuple[str, int]] = []  # open <a href>: (href, where its text starts)
        # (text, inside <article>, inside <main>)
        self.paras: list[tuple[str, bool, bool]] = []
        self.noscript: list[str] = []  # the text of <noscript>, shown only without JavaScript
        self.noscript_buf: list[str] = []
        # Where the page says it lives: <base href>, <meta property="og:url">, canonical.
        self.base_href: str | None = None
        self.own_url: str | None = None

    def flush(self) -> None:
        # HTML whitespace is not significant and <br> is a block break here, so flatten now.
        text = _normalise("".join(self.buf))
        if text:
            self.paras.append((text, self.article > 0, self.main > 0))
        self.buf = []
        hidden = _normalise("".join(self.noscript_buf))
        if hidden:
            self.noscript.append(hidden)
        self.noscript_buf = []

    @property
    def base(self) -> str | None:
        """What relative links are relative to: <base href>, itself resolved against the
        page's own address (og:url, else the canonical link) when it is relative."""
        from urllib.parse import urljoin

        base = urljoin(self.own_url or "", self.base_href) if self.base_href else self.own_url
        return base if base and _web_link(base) else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCK:
            self.flush()
        values = {k: v or "" for k, v in attrs}
        if tag == "base" and self.base_href is None and values.get("href"):
            self.base_href = values["href"]
        elif tag == "meta" and values.get("property", "").lower() == "og:url":
            self.own_url = self.own_url or values.get("content") or None
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.own_url = self.own_url or values.get("href") or None
        if tag in self.VOID:
            return
        names = " ".join(v or "" for k, v in attrs if k in ("class", "id")).split()
        # An article's own <header> holds its title and byline; the page's is chrome.
        skipped = (tag in self.SKIP and not (tag == "header" and self.article)) or (
            tag not in self.FRAME and any(self.SKIP_CLASS.match(n) for n in names)
        )
        self.stack.append((tag, skipped))
        if tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.buf)))
        self.skip += skipped
        self.article += tag == "article"
        self.main += tag == "main"

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCK:
            self.flush()
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.buf[start:]).strip()
            url = _absolute(href, self.base)
            if not self.skip and label and url and not _same_url(label, url):
                self.buf.append(f" ({url})")
        if tag == "noscript":
            self.flush()
        if not any(t == tag for t, _ in self.stack):
            return
        while self.stack:
            t, skipped = self.stack.pop()
            self.skip -= skipped
            self.article -= t == "article"
            self.main -= t == "main"
            self.h1_done = self.h1_done or (t == "h1" and bool(self.h1.strip()))
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        tags = [t for t, _ in self.stack]
        if "title" in tags:
            self.title += data
        elif "h1" in tags and not self.h1_done and "script" not in tags and "style" not in tags:
            self.h1 += data
        if not self.skip:
            self.buf.append(data)
        elif "noscript" in tags:
            self.noscript_buf.append(data)


def _html_text(html: str) -> _PageText:
    p = _TextExtractor()
    p.feed(html)
    p.close()
    p.flush()
    chosen = (
        [t for t, in_article, _ in p.paras if in_article]
        or [t for t, _, in_main in p.paras if in_main]
        or [t for t, _, _ in p.paras]
    )
    heading = _normalise(p.h1) or None
    title = heading or _normalise(p.title) or None
    byline, _ = _byline_near_top([("p", t) for t in chosen if t != heading])
    return _PageText(title, chosen, heading, p.base, frozenset(p.noscript), byline)
