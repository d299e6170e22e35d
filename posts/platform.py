"""The platforms we post to and how each one counts a post: one table for all of them.

A leaf: stdlib only, so that `scheduler.model` can share this `Platform` with every layer
(posts may not import scheduler, so the enum lives here). `posts.measure` and
`posts.split` read a platform's `Profile` instead of asking which platform it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Platform(StrEnum):
    X = "x"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"


class Counting(StrEnum):
    """How a platform counts the characters of a post."""

    # twitter-text v3: NFC, weights 1/2 by code point range, emoji sequences 2.
    WEIGHTED = "weighted"
    # Extended grapheme clusters of the text as given.
    GRAPHEMES = "graphemes"
    # Mastodon's StatusLengthValidator: every URL with a protocol counts `url_length`, a
    # mention @user@domain counts as @user, then extended grapheme clusters.
    MASTODON = "mastodon"


@dataclass(frozen=True)
class Profile:
    """A platform's length rule; the splitter and the checks at queue and edit time use it."""

    limit: int
    counting: Counting
    # Every URL counts this many characters whatever its length (None: counted as written).
    url_length: int | None = None
    # A cap on the UTF-8 bytes of the text (None: no cap).
    max_bytes: int | None = None
    # What a post may carry: images and the bytes of each (alt text: scheduler.media).
    max_images: int = 4
    max_image_bytes: int = 1_000_000
    # Whether the post carries a link card we build (False: the platform draws its own;
    # the card's limits: scheduler.linkcard).
    link_cards: bool = False
    # How many languages a post may name (0: the platform takes none), and whether it
    # takes self-labels (content warnings for graphic media and the like).
    max_langs: int = 0
    self_labels: bool = False
    # Whether a post may carry a content warning (it counts towards the limit).
    content_warnings: bool = False
    # The platform's name in sentences ("over Bluesky's 2 MB").
    name: str = ""


PROFILES: dict[Platform, Profile] = {
    # developer.x.com "Counting characters": 280 weighted, every URL 23 (t.co), config v3.
    # docs.x.com media best practices: images up to 5 MB, 4 per post.
    # X draws the card for a URL itself.
    Platform.X: Profile(
        limit=280,
        counting=Counting.WEIGHTED,
        url_length=23,
        max_images=4,
        max_image_bytes=5 * 1024 * 1024,
        name="X",
    ),
    # app.bsky.feed.post lexicon: text maxGraphemes 300, maxLength 3000 (bytes).
    # app.bsky.embed.images: 4 images, 2,000,000 bytes each.
    Platform.BLUESKY: Profile(
        limit=300,
        counting=Counting.GRAPHEMES,
        max_bytes=3000,
        max_images=4,
        max_image_bytes=2_000_000,
        link_cards=True,
        # app.bsky.feed.post: langs maxLength 3; labels: com.atproto.label.defs#selfLabels.
        max_langs=3,
        self_labels=True,
        name="Bluesky",
    ),
    # mastodon/mastodon app/validators/status_length_validator.rb: MAX_CHARS = 500,
    # URL_PLACEHOLDER_CHARS = 23, countable_text (URLs with a protocol as 23 "x", mentions
    # as @user, app/lib/extractor.rb and config/initializers/twitter_regex.rb), then
    # each_grapheme_cluster.size. An instance may differ: /api/v2/instance
    # configuration.statuses.max_characters and characters_reserved_per_url (pass such a
    # Profile as SplitOptions.counted_as). app/models/status.rb MEDIA_ATTACHMENTS_LIMIT = 4;
    # app/models/media_attachment.rb IMAGE_LIMIT = 16.megabytes. The server fetches the
    # card for a URL itself (FetchLinkCardService).
    Platform.MASTODON: Profile(
        limit=500,
        counting=Counting.MASTODON,
        url_length=23,
        max_images=4,
        max_image_bytes=16 * 1024 * 1024,
        # POST /api/v1/statuses: one `language` (ISO 639); `spoiler_text` is counted with
        # the text (StatusLengthValidator).
        max_langs=1,
        content_warnings=True,
        name="Mastodon",
    ),
}


class UnknownPlatform(ValueError):
    """A platform name we do not post to; str() is one sentence."""


def parse_platform(name: str) -> Platform:
    try:
        return Platform(name.strip().lower())
    except ValueError:
        *most, last = [p.value for p in Platform]
        choices = f"{', '.join(most)} or {last}"
        raise UnknownPlatform(f"unknown platform '{name}': choose {choices}") from None
