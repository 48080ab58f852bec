"""WSGI entry point for running gunicorn directly: ``gunicorn -c gunicorn.conf.py lds.wsgi:app``.

Settings come from ``LDS_*`` environment variables (``LDS_DATA_DIR`` at least).
"""

from lds.app import create_app

app = create_app()
