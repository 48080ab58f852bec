"""The metadata store: tokens, quota usage (and later connections and jobs) in SQLite or PostgreSQL."""

from lds.state.store import StateStore

__all__ = ["StateStore"]
