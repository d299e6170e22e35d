"""How the sample articles are cut: every post's length and edges, and every break that is
not between sentences, so that a change to the packer can be read side by side.

    python -m bench.split_report [--save FILE] [--against FILE]

--save writes the report as JSON; --against FILE prints FILE's posts (say, from an older
checkout: `PYTHONPATH=/tmp/old python -m bench.split_report --save old.json`) beside this
checkout's. The break kinds are read from the text alone, not from the packer, so the same
judge applies to any version of it.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARTICLES = [
    REPO / "examples" / "artsakh-op-ed.txt",
    *sorted((REPO / "tests/data/articles").glob("*")),
]
TAGS = ("#Artsakh", "#Armenia")
# The report's own list, independent of the packer's: words a person does not end a post on.
DANGLING = frozenset(
    {"and", "or", "but", "nor", "the", "a", "an", "of", "to", "in", "on", "at", "for", "with"}
    | {"by", "from", "as", "that", "և", "ու", "եւ", "կամ", "բայց"}
)
_ENUM = re.compile(r"^\(?(\d{1,2}|[a-z])[.)]\s")
_SENTENCE_END = re.compile(r"[.!?…։。！？][\"'”’»)\]]*$")
_CLOSERS = tuple(")]}»”’,.;:!?")


@dataclass
class Row:
    seq: int
    length: int
    limit: int
    head: str
    tail: str
    kind: str  # the break after this post ("" for the last)


def _squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _boundaries(paragraphs: list[str]) -> tuple[set[int], set[int]]:
    """Offsets, in the article without whitespace, of paragraph ends and sentence ends."""
    from posts.sentences import split_sentences

    para_ends: set[int] = set()
    sentence_ends: set[int] = set()
    offset = 0
    for paragraph in paragraphs:
        for _, sentence in split_sentences(paragraph):
            offset += len(_squashed(sentence))
            if _SENTENCE_END.search(sentence):
                sentence_ends.add(offset)
        para_ends.add(offset)
    return para_ends, sentence_ends


def _kind(body: str, following: str, at: int, paras: set[int], sentences: set[int]) -> str:
    last_word = body.split()[-1] if body.split() else ""
    notes = []
    bare = last_word.strip("\"'“”‘’()[],;:").lower()
    if bare in DANGLING:
        notes.append(f"dangling {bare!r}")
    if following.startswith(_CLOSERS):
        notes.append("next starts with a closer")
    if _ENUM.match(last_word + " "):
        notes.append("ends on a list marker")
    if at in paras:
        kind = "paragraph"
    elif at in sentences:
        kind = "sentence"
    elif _ENUM.match(following):
        kind = "before an enumeration"
    elif body.endswith(":"):
        kind = "after a colon"
    elif body.endswith((",", ";")) or following.startswith(("–", "—")):
        kind = "clause"
    else:
        kind = "word"
    return kind + (f" [{', '.join(notes)}]" if notes else "")


def report() -> dict[str, list[dict[str, object]]]:
    from posts.article import read_article
    from posts.platform import Platform
    from posts.split import SplitOptions, split_article

    out: dict[str, list[dict[str, object]]] = {}
    for path in ARTICLES:
        article = read_article(path)
        paras, sentences = _boundaries([*article.lead(), *article.paragraphs])
        for platform in Platform:
            posts = split_article(article, SplitOptions(platform=platform, tags=TAGS)).posts
            rows = []
            at = 0
            for i, post in enumerate(posts):
                at += len(_squashed(post.body))
                words = post.body.split()
                kind = ""
                if i + 1 < len(posts):
                    kind = _kind(post.body, posts[i + 1].body, at, paras, sentences)
                    if at not in paras and at not in sentences and _inside_word(article, at):
                        kind = "inside a word"
                rows.append(
                    Row(
                        post.seq, post.length, post.limit, _edge(words[:3]), _edge(words[-3:]), kind
                    )
                )
            out[f"{path.relative_to(REPO)} on {platform.value}"] = [asdict(r) for r in rows]
    return out


def _edge(words: list[str]) -> str:
    """Three words, each clipped: Japanese has no spaces, so a "word" may be a paragraph."""
    return " ".join(w if len(w) <= 12 else w[:6] + "…" + w[-5:] for w in words)


def _inside_word(article: object, at: int) -> bool:
    """Does offset `at` of the whitespace-free article fall between two characters that the
    article wrote together (no whitespace between them)?"""
    from posts.article import Article

    assert isinstance(article, Article)
    text = "\n\n".join([*article.lead(), *article.paragraphs])
    seen = 0
    for index, char in enumerate(text):
        if char.isspace():
            continue
        if seen == at:
            return not text[index - 1].isspace()
        seen += 1
    return False


def _cell(row: dict[str, object] | None) -> str:
    if row is None:
        return ""
    return f"{row['seq']:>2} {row['length']:>3}/{row['limit']} {row['head']} … {row['tail']}"


def _summary(rows: list[dict[str, object]]) -> list[str]:
    shortest = min(rows, key=lambda r: int(str(r["length"])))
    odd = [
        f"after {r['seq']}: {r['kind']}"
        for r in rows
        if r["kind"] not in ("", "paragraph", "sentence")
    ]
    return [
        f"{len(rows)} posts; shortest #{shortest['seq']} {shortest['length']}/{shortest['limit']}",
        *(odd or ["every break between sentences"]),
    ]


def render(
    now: dict[str, list[dict[str, object]]], before: dict[str, list[dict[str, object]]] | None
) -> str:
    lines: list[str] = []
    for name, rows in now.items():
        lines.append(f"== {name}")
        old = (before or {}).get(name)
        if old is None:
            lines.extend(_cell(r) for r in rows)
            lines.extend(f"   {s}" for s in _summary(rows))
        else:
            width = max(len(_cell(r)) for r in old) + 2
            lines.append(f"{'BEFORE':<{width}}| AFTER")
            for k in range(max(len(old), len(rows))):
                left = _cell(old[k]) if k < len(old) else ""
                right = _cell(rows[k]) if k < len(rows) else ""
                lines.append(f"{left:<{width}}| {right}")
            left_s, right_s = _summary(old), _summary(rows)
            for k in range(max(len(left_s), len(right_s))):
                a = left_s[k] if k < len(left_s) else ""
                b = right_s[k] if k < len(right_s) else ""
                lines.append(f"{a:<{width}}| {b}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.split_report", description=__doc__)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--against", type=Path)
    args = parser.parse_args(argv)
    now = report()
    if args.save:
        args.save.write_text(json.dumps(now, ensure_ascii=False, indent=1), encoding="utf-8")
    before = json.loads(args.against.read_text(encoding="utf-8")) if args.against else None
    print(render(now, before))


if __name__ == "__main__":
    main()
