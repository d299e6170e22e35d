"""Errors the CLI turns into one sentence on stderr and an exit code."""

from __future__ import annotations


class CampaignError(Exception):
    """A failure the user can act on; str() is one clear sentence."""

    exit_code = 1


class BadInput(CampaignError):
    """The command's input is wrong: exit 2, nothing written."""

    exit_code = 2


class NotFound(BadInput):
    """An unknown campaign or post id."""
