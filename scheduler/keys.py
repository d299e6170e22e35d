"""Idempotency keys, chosen when a post is queued and kept across every attempt.

Bluesky's key is an atproto TID, the record key we create the post under.

A TID is a 64-bit integer (top bit 0, then 53 bits of microseconds since the Unix epoch,
then a 10-bit clock id) written as 13 characters of base32-sortable, so keys sort by time.
Because we pick the key ourselves and store it with the queued post, a retry can ask the
PDS "does this record exist?" instead of guessing, and a repeated create is refused.
Spec: https://atproto.com/specs/tid
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid

from posts.platform import Platform

_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# The top bit is always 0, so the first character only takes the first 16 symbols.
_TID_RE = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_MAX_MICROS = (1 << 53) - 1

_lock = threading.Lock()
_last_micros = 0
# One random clock id per process, as the reference implementation does: two processes
# minting a key in the same microsecond still differ (1 in 1024 chance of a clash).
_clock_id = secrets.randbelow(1024)


def _encode(value: int) -> str:
    chars = []
    for _ in range(13):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def tid_from(micros: int, clock_id: int) -> str:
    """The TID for a timestamp (microseconds since the epoch) and a clock id (0-1023)."""
    if not 0 <= micros <= _MAX_MICROS:
        raise ValueError("TID timestamp out of range")
    if not 0 <= clock_id < 1024:
        raise ValueError("TID clock id must be 0-1023")
    return _encode((micros << 10) | clock_id)


def new_tid() -> str:
    """A fresh TID, strictly greater than every TID this process returned before.

    The wall clock has microsecond resolution at best and may step backwards (NTP), so
    when it has not moved past the last value we bump by one microsecond instead."""
    global _last_micros
    with _lock:
        micros = max(time.time_ns() // 1000, _last_micros + 1)
        _last_micros = micros
        return tid_from(micros, _clock_id)


def is_tid(value: str) -> bool:
    """True when `value` is a syntactically valid TID (13 chars, first in 2-7/a-j)."""
    return isinstance(value, str) and _TID_RE.fullmatch(value) is not None


def tid_timestamp(value: str) -> int:
    """Microseconds since the epoch encoded in a TID (for tests and diagnostics)."""
    if not is_tid(value):
        raise ValueError("not a TID")
    n = 0
    for ch in value:
        n = (n << 5) | _ALPHABET.index(ch)
    return n >> 10


def new_idempotency_key(platform: Platform) -> str:
    """The key a post keeps across attempts, chosen when it is queued. Bluesky: the
    record key, so a retry can ask the PDS for the record it may already have made.
    X has no idempotency key; a random one still names the post in the log."""
    return new_tid() if platform == Platform.BLUESKY else uuid.uuid4().hex
