"""What a campaign's posts carry besides their text: images, a link card, languages,
self-labels. Decided at queue time (and for `split`'s preview), once per campaign.

Images are read, checked and copied into the data directory (scheduler.media) and
fitted to each platform's byte cap; the link's page is fetched once for its card
(scheduler.linkcard), so that publishing depends on neither the files nor the page later.
The first post of each platform carries the images or the card; every post of a Bluesky
thread carries the campaign's languages and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import regex

from posts.platform import PROFILES
from scheduler.errors import BadInput
from scheduler.model import NO_ATTACHMENTS, Attachments, LinkCard, Platform, StoredImage

if TYPE_CHECKING:
    from scheduler.config import Settings
    from scheduler.media import MediaDir

# com.atproto.label.defs#selfLabels: the values Bluesky's app shows a warning for
# (bluesky-social/atproto packages/api/src/moderation/const/labels.ts).
SELF_LABELS = ("graphic-media", "sexual", "nudity", "porn")
# BCP 47 (RFC 5646) well-formed tags, as app.bsky.feed.post's langs (format "language"):
# a 2-3 letter language (or 4-8 reserved/registered), then script, region and variants.
_BCP47 = regex.compile(
    r"(?i)(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"
    r"(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*(?:-x(?:-[a-z0-9]{1,8})+)?"
    r"|x(?:-[a-z0-9]{1,8})+"
)
MAX_LANGS = 3  # app.bsky.feed.post: langs maxLength 3


@dataclass(frozen=True)
class ImageSpec:
    """An image as the user named it: `alt` None means --no-alt was given on purpose."""

    path: Path
    alt: str | None


@dataclass(frozen=True)
class Rich:
    """The attachments a campaign asked for (the options `split`, `queue` and `plan` share)."""

    images: tuple[ImageSpec, ...] = ()
    card: bool = True  # a link card on Bluesky for --link
    langs: tuple[str, ...] | None = None  # None: the CAMPAIGN_LANGS setting
    labels: tuple[str, ...] = ()
    content_warning: str = ""  # Mastodon's spoiler text (--cw)


NO_RICH = Rich()


@dataclass(frozen=True)
class Attached:
    """Per platform: what its first post carries, and what every other post carries."""

    first: dict[Platform, Attachments]
    rest: dict[Platform, Attachments]
    warnings: tuple[str, ...] = ()

    def of(self, platform: Platform, seq: int) -> Attachments:
        table = self.first if seq == 1 else self.rest
        return table.get(platform, NO_ATTACHMENTS)


def check_langs(langs: Sequence[str]) -> tuple[str, ...]:
    cleaned: list[str] = []
    for lang in langs:
        tag = lang.strip()
        if not _BCP47.fullmatch(tag):
            raise BadInput(
                f"invalid --lang {lang!r}: give a BCP 47 language tag such as hy or en-GB"
            )
        if tag.lower() not in (t.lower() for t in cleaned):
            cleaned.append(tag)
    if len(cleaned) > MAX_LANGS:
        raise BadInput(f"{len(cleaned)} languages given; Bluesky takes at most {MAX_LANGS}")
    return tuple(cleaned)


def check_labels(labels: Sequence[str]) -> tuple[str, ...]:
    for label in labels:
        if label not in SELF_LABELS:
            raise BadInput(f"invalid --label {label!r}: choose {', '.join(SELF_LABELS)}")
    return tuple(dict.fromkeys(labels))


def campaign_langs(rich: Rich, settings: Settings) -> tuple[str, ...]:
    given = rich.langs if rich.langs is not None else settings.langs.split(",")
    return check_langs([lang for lang in given if lang.strip()])


def attach(
    rich: Rich,
    link: str | None,
    platforms: Sequence[Platform],
    settings: Settings,
    media: MediaDir,
) -> Attached:
    """Read and store the images, fetch the card, check languages and labels. Bad input
    (a missing image, no alt text, too many images) raises BadInput before anything is
    queued; a card that cannot be made is a warning."""
    langs = campaign_langs(rich, settings)
    labels = check_labels(rich.labels)
    most = min(PROFILES[p].max_images for p in platforms) if platforms else 4
    if len(rich.images) > most:
        raise BadInput(f"{len(rich.images)} images given; a post carries at most {most}")
    originals = load_images(rich.images, media)
    warnings: list[str] = []
    card: LinkCard | None = None
    carded = [p for p in platforms if PROFILES[p].link_cards]
    wants_card = link is not None and rich.card and bool(carded)
    if wants_card and originals:
        warnings.extend(
            f"{p}: the images take the first post's one embed, so the link gets no card"
            for p in carded
        )
    elif wants_card and link is not None:
        from scheduler.linkcard import fetch_card

        card, said = fetch_card(
            link,
            media,
            allow_private=settings.allow_private_links,
            timeout=settings.link_timeout_seconds,
        )
        warnings.extend(f"{p}: {w}" for p in carded for w in said)
    first: dict[Platform, Attachments] = {}
    rest: dict[Platform, Attachments] = {}
    for platform in dict.fromkeys(platforms):
        profile = PROFILES[platform]
        images, notes = fitted_images(rich.images, originals, platform, media)
        warnings.extend(notes)
        rest[platform] = carried(platform, langs, labels, rich.content_warning)
        first[platform] = replace(
            rest[platform],
            images=tuple(images),
            card=card if profile.link_cards and not images else None,
        )
    return Attached(first, rest, tuple(warnings))


def carried(
    platform: Platform, langs: Sequence[str], labels: Sequence[str], content_warning: str = ""
) -> Attachments:
    """What every post of a campaign carries on `platform`: as many of its languages as
    the platform takes (none on X), its labels where the platform has self-labels, its
    content warning where the platform shows one."""
    profile = PROFILES[platform]
    return Attachments(
        langs=tuple(langs[: profile.max_langs]),
        labels=tuple(labels) if profile.self_labels else (),
        content_warning=content_warning if profile.content_warnings else "",
    )


def load_images(specs: Sequence[ImageSpec], media: MediaDir) -> list[StoredImage]:
    """Each image read, checked by its content and stored under its hash."""
    from scheduler.media import load_image

    return [load_image(spec.path, spec.alt, media) for spec in specs]


def fitted_images(
    specs: Sequence[ImageSpec],
    originals: Sequence[StoredImage],
    platform: Platform,
    media: MediaDir,
) -> tuple[tuple[StoredImage, ...], list[str]]:
    """The images as `platform` takes them: alt text checked against its limit, each
    resized to its byte cap if need be (with a warning saying so)."""
    from scheduler.media import fit_image

    profile = PROFILES[platform]
    if len(specs) > profile.max_images:
        raise BadInput(
            f"{len(specs)} images given; a {platform} post carries at most {profile.max_images}"
        )
    images, warnings = [], []
    for spec, image in zip(specs, originals, strict=True):
        # Always without the GPS position a phone writes into a photo: campaigners'
        # whereabouts are nobody's business.
        fitted, note = fit_image(
            image,
            profile.max_image_bytes,
            media,
            label=spec.path.name,
            platform_name=PROFILES[platform].name or str(platform),
            strip_metadata=True,
        )
        if note:
            warnings.append(f"{platform}: {note}")
        if fitted.sha256 != image.sha256:
            fitted = replace(fitted, original=image.sha256, alt=image.alt)
        images.append(fitted)
    return tuple(images), warnings


__all__ = [
    "NO_RICH",
    "SELF_LABELS",
    "Attached",
    "ImageSpec",
    "Rich",
    "attach",
    "campaign_langs",
    "carried",
    "check_labels",
    "check_langs",
    "fitted_images",
    "load_images",
]
