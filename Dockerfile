# lds: Location Data Services from an OpenStreetMap extract.
#   docker build -t lds .
#   docker run -p 127.0.0.1:8000:8000 -v lds-data:/data -e LDS_EXTRACT=https://.../region.osm.pbf lds
# The data dir is /data/lds inside the /data volume (built there at first start from LDS_EXTRACT, or
# mounted ready-made); `docker run ... lds worker` runs a batch-job worker on the same image.

# --- build stage: compile the Cython extensions into a wheel --------------------------------------
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY lds ./lds
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- runtime stage: slim, no compiler, non-root ----------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LDS_HOST=0.0.0.0 \
    LDS_PORT=8000 \
    LDS_DATA_DIR=/data/lds \
    LDS_STATE_DIR=/var/lib/lds
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
 && rm -rf /wheels \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/lds --create-home lds \
 && mkdir -p /data \
 && chown lds:lds /data
COPY docker/entrypoint.sh /usr/local/bin/lds-entrypoint
USER lds
WORKDIR /var/lib/lds
VOLUME ["/data", "/var/lib/lds"]
EXPOSE 8000
# Liveness: /health answers without touching Redis or the data, so a Redis outage never restarts the service.
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('LDS_PORT', '8000'), timeout=2)"
ENTRYPOINT ["lds-entrypoint"]
CMD ["serve"]
