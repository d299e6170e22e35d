"""`campaign log`: the append-only post log, newest last."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scheduler.cli.context import (
    display_zone,
    iso_utc,
    local,
    open_default_store,
    time_column,
    zone_label,
)
from scheduler.cli.options import (
    CampaignFilter,
    JsonOption,
    PlatformFilter,
    TzOption,
    platform_filter,
)
from scheduler.cli.output import plural, print_json_rows, print_table
from scheduler.cli.root import app
from scheduler.clock import utcnow
from scheduler.errors import BadInput

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from scheduler.model import LogEntry

# The detail keys a log line shows, in this order; URLs and reasons as they are, times
# in the display zone.
_SHOWN = ("url", "reason", "note", "until", "next_attempt_at", "attempt", "platform")
_PLAIN = ("url", "reason", "note")
_TIMES = ("until", "next_attempt_at")
_FIELDS = ("id", "at", "kind", "post_id", "campaign", "platform", "seq", "worker", "detail")


def describe(detail: dict[str, Any], zone: ZoneInfo) -> str:
    """One readable line for an event's detail: a change as old -> new first."""
    parts = []
    if "old" in detail or "new" in detail:
        old, new = detail.get("old"), detail.get("new")
        start = _first_difference(old, new)
        parts.append(f"{_shown(old, zone, start)} -> {_shown(new, zone, start)}")
    if "new_attachments" in detail:
        before = len((detail.get("old_attachments") or {}).get("images", ()))
        after = len((detail["new_attachments"] or {}).get("images", ()))
        parts.append(f"images {before} -> {after}")
    if "revision" in detail:
        parts.append(f"revision {detail['revision']}")
    if "waiting" in detail:
        parts.append(f"{detail['waiting']} posts of the account wait")
    if detail.get("reads"):
        parts.append(f"{detail['reads']} of the account's posts read back")
    for key in _SHOWN:
        value = detail.get(key)
        if value in (None, ""):
            continue
        if key in _TIMES:
            with contextlib.suppress(ValueError):  # not a time after all: shown as it is
                value = local(datetime.fromisoformat(str(value)), zone, seconds=True)
        parts.append(str(value) if key in _PLAIN else f"{key}={value}")
    return "; ".join(parts)


CHANGE_SHOWN = 40  # characters of an old or new text shown in a log line (`show` has it all)


def _first_difference(old: Any, new: Any) -> int:
    """Where two texts start to differ (in their words, spaces folded), so that a log line
    shows the change itself, not the beginning both share."""
    if not (isinstance(old, str) and isinstance(new, str)):
        return 0
    a, b = " ".join(old.split()), " ".join(new.split())
    same = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return max(0, same - 12)


def _shown(value: Any, zone: ZoneInfo, start: int = 0) -> str:
    """An old or new value: a time in the display zone, a post id, the part of a text
    from `start`."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"post {value}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    with contextlib.suppress(ValueError):
        return local(datetime.fromisoformat(text), zone)
    flat = " ".join(text.split())
    lead = "…" if start else ""
    flat = flat[start:]
    return repr(lead + (flat if len(flat) <= CHANGE_SHOWN else flat[: CHANGE_SHOWN - 1] + "…"))


def _kinds(given: list[str] | None) -> list[str]:
    from scheduler.model import Kind

    known = {k.value for k in Kind}
    for kind in given or []:
        if kind not in known:
            raise BadInput(
                f"unknown kind {kind!r}: choose one of {', '.join(k.value for k in Kind)}"
            )
    return list(given or [])


@app.command()
def log(
    campaign: CampaignFilter = None,
    post: Annotated[int | None, typer.Option("--post", metavar="ID", help="One post's id.")] = None,
    platform: PlatformFilter = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="Only these kinds (repeatable): queued, claimed, published, recovered, "
            "'retry scheduled', rate-limited, failed, cancelled, held, requeued, released, "
            "'no credentials', 'out of credits', edited, rescheduled, rethreaded, paused, "
            "resumed, renamed, deleted.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="WHEN", help="Only events from then on: ISO 8601, or -2h/-1d ago."
        ),
    ] = None,
    count: Annotated[
        int | None, typer.Option("-n", metavar="N", help="Only the newest N events.")
    ] = None,
    tz: TzOption = None,
    json_out: JsonOption = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Show the post log: what happened to each post, and when.

    Example: campaign log --campaign artsakh --kind failed --kind held --since -1d
    """
    if json_out and csv_out:
        raise BadInput("choose --json or --csv, not both")
    if count is not None and count < 1:
        raise BadInput("-n must be at least 1")
    from scheduler.plan import parse_duration, parse_when

    kinds = _kinds(kind)
    zone = display_zone(tz)
    since_at = None
    if since is not None:
        if since.startswith("-"):  # "-2h": that long ago
            since_at = utcnow() - timedelta(seconds=parse_duration(since[1:]).total_seconds())
        else:
            since_at = parse_when(since, utcnow(), zone)
    with open_default_store() as store:
        entries = store.log(campaign, post, platform_filter(platform), kinds, since_at, count)
    if json_out:
        print_json_rows([_record(e) for e in entries])
    elif csv_out:
        _print_csv(entries)
    else:
        when, times = time_column("at", [e.at for e in entries], zone, seconds=True)
        print_table(
            f"post log ({plural(len(entries), 'event')}), times in {zone_label(zone)}",
            [when, "post", "campaign", "platform", "kind", "detail"],
            [
                [
                    at,
                    "-" if e.post_id is None else f"{e.post_id} (#{e.seq})",
                    e.campaign or "-",
                    e.platform or str(e.detail.get("platform", "-")),
                    e.kind,
                    describe(e.detail, zone),
                ]
                for e, at in zip(entries, times, strict=True)
            ],
            shrink=[2],
        )


def _record(e: LogEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso_utc(e.at),
        "kind": e.kind,
        "post_id": e.post_id,
        "campaign": e.campaign,
        "platform": e.platform or e.detail.get("platform"),
        "seq": e.seq,
        "worker": e.worker,
        "detail": e.detail,
    }


def _print_csv(entries: list[LogEntry]) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(
        ["id", "at", "kind", "post_id", "campaign", "platform", "seq", "worker", "detail"]
    )
    for e in entries:
        r = _record(e)
        writer.writerow(
            [
                *(("" if v is None else v) for k, v in r.items() if k != "detail"),
                json.dumps(r["detail"], ensure_ascii=False),
            ]
        )
