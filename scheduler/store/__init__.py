"""The database: models, sessions, the claim/lease protocol and the post log."""
