"""``test_settings``: Settings isolated from the developer's environment, importable by name from any test module.

It lives here, not in tests/conftest.py, because several folders have a conftest.py of their own and
``from conftest import ...`` gets whichever conftest module pytest imported last.
"""

from __future__ import annotations

from pathlib import Path

from lds.settings import Settings


def test_settings(data_dir: Path, tmp_path: Path | None = None, **overrides) -> Settings:
    """Settings isolated from the developer's environment: auth off, state in a temp dir."""
    values = {"data_dir": str(data_dir), "auth": False, "cache_enabled": False, **overrides}
    return Settings.from_env(env={}, **values)


test_settings.__test__ = False  # a helper, not a test
