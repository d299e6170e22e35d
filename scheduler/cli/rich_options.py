"""The options that attach images, a card, languages and labels, as the planning layer
takes them (`Rich`): each --image paired with the --alt in the same place."""

from __future__ import annotations

from pathlib import Path

from scheduler.attachments import ImageSpec, Rich
from scheduler.errors import BadInput


def rich_from_options(
    image: list[Path] | None,
    alt: list[str] | None,
    no_alt: bool,
    card: bool,
    lang: list[str] | None,
    label: list[str] | None,
    cw: str | None = None,
) -> Rich:
    images, alts = image or [], alt or []
    if len(alts) > len(images):
        raise BadInput(f"{len(alts)} --alt given for {len(images)} --image: one --alt an image")
    if len(alts) < len(images) and not no_alt:
        missing = images[len(alts)]
        raise BadInput(
            f"{missing} has no --alt: describe each image (in the order of --image), "
            "or pass --no-alt to publish it without a description"
        )
    specs = tuple(
        ImageSpec(path, alts[i] if i < len(alts) else None) for i, path in enumerate(images)
    )
    warning = " ".join((cw or "").split())
    if cw is not None and not warning:
        raise BadInput("the content warning (--cw) is empty")
    return Rich(
        images=specs,
        card=card,
        langs=tuple(lang) if lang else None,
        labels=tuple(label or ()),
        content_warning=warning,
    )
