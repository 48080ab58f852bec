"""gunicorn configuration for lds: ``gunicorn -c gunicorn.conf.py lds.wsgi:app``.

`lds serve` applies exactly these options itself (lds/server.py, whose docstring explains each
choice: preloaded, memory-mapped data shared by forked gthread workers; 2 x cores + 1 workers up to
8; keep-alive 5 s; 120 s timeout; heartbeat files on /dev/shm; JSON request logs from the app instead
of gunicorn's access log; Prometheus multiprocess directory prepared before the app is imported).
Every value comes from the ``LDS_*`` settings (LDS_HOST, LDS_PORT, LDS_WORKERS, LDS_THREADS, ...).
"""

from lds.server import gunicorn_options, prepare_metrics_dir
from lds.settings import Settings

_settings = Settings.from_env()
prepare_metrics_dir(_settings)  # before gunicorn imports the app (and with it prometheus-client)

globals().update({k: v for k, v in gunicorn_options(_settings).items() if v is not None})
