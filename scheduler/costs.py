"""What X will charge for a campaign: its API is pay-per-use, and a post with a URL costs
over ten times a plain one. The prices are settings (CAMPAIGN_X_PRICE_*), defaulting to
X's pricing page (see scheduler.config)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from posts.measure import url_spans
from scheduler.model import PlannedPost, Platform

if TYPE_CHECKING:
    from scheduler.config import Settings

# Every URL X finds has a dot before a top-level domain of two letters or more; most posts
# have none, and finding URLs is most of what measuring costs.
_MAYBE_URL = re.compile(r"\.[^\W\d_]{2}")


@dataclass(frozen=True)
class XPrices:
    post: float
    post_with_url: float
    media_metadata: float  # one request for each image's alt text
    read: float  # each of the account's posts read back (recovery after an unclear attempt)


@dataclass(frozen=True)
class XCost:
    posts: int
    url_posts: int
    alt_texts: int
    total: float
    url_total: float  # what the posts with a URL cost, of the total

    def describe(self) -> str:
        if self.posts == 0:
            return ""
        said = f"X will charge about ${self.total:.2f} for {self.posts} posts"
        if self.url_posts:
            said += (
                f" (${self.url_total:.2f} of it for {self.url_posts} "
                f"{'post' if self.url_posts == 1 else 'posts'} with a URL)"
            )
        if self.alt_texts:
            said += f" and {self.alt_texts} alt {'text' if self.alt_texts == 1 else 'texts'}"
        return said


def x_prices(settings: Settings) -> XPrices:
    return XPrices(
        post=settings.x_price_post,
        post_with_url=settings.x_price_post_with_url,
        media_metadata=settings.x_price_media_metadata,
        read=settings.x_price_read,
    )


def x_cost(posts: Iterable[PlannedPost], prices: XPrices) -> XCost:
    """The estimate for the X posts among `posts` (each published once; retries after a
    clean refusal cost nothing more, reads after an unclear attempt are logged)."""
    count = with_url = alts = 0
    for post in posts:
        if post.platform is not Platform.X:
            continue
        count += 1
        # X prices a post by whether it contains a URL as it extracts URLs (a bare domain
        # such as example.org counts): twitter-text's extraction, as the length count uses.
        if _MAYBE_URL.search(post.text) and url_spans(post.text):
            with_url += 1
        alts += sum(1 for image in post.attachments.images if image.alt)
    url_total = with_url * prices.post_with_url
    total = url_total + (count - with_url) * prices.post + alts * prices.media_metadata
    return XCost(count, with_url, alts, round(total, 4), round(url_total, 4))


__all__ = ["XCost", "XPrices", "x_cost", "x_prices"]
