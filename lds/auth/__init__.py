"""Tokens, grants, referers, quotas and rate limits: who may call what, and how much (no Flask here)."""
