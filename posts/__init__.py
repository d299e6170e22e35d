"""Article -> posts. Pure: no database, no network, no clock."""
