"""campaign: article -> posts -> schedule -> publish."""

__version__ = "0.1.0"
