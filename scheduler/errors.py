"""The error vocabulary: what every layer raises when the user must be told something.

Three kinds, each one clear sentence in str(): bad input (the command's input is wrong,
nothing was written), not found (an unknown campaign or post id, a kind of bad input), and
a runtime failure (the database is away, a credential is refused). The CLI maps each kind
to its exit code in one table (`scheduler.cli.app.EXIT_CODES`). A leaf: imports nothing.
"""

from __future__ import annotations


class CampaignError(Exception):
    """A runtime failure the user can act on; str() is one clear sentence."""


class BadInput(CampaignError):
    """The command's input is wrong; nothing was written."""


class NotFound(BadInput):
    """An unknown campaign or post id."""


class DatabaseUnavailable(CampaignError):
    """The database cannot be reached, or stayed locked beyond the busy timeout."""


class MissingCredentials(CampaignError):
    """A platform's credentials are not configured; str() names the variables, never values."""
