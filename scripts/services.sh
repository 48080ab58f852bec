#!/usr/bin/env bash
# Start the local Redis and PostgreSQL the tests talk to, when they are not already running.
set -euo pipefail
if ! (command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG); then
  command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
fi
if ! (command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432); then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
# PostGIS for the postgres warehouse tests (tests/warehouse), from Debian's package for the running major version
pg_major="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
if [ -n "$pg_major" ] && [ ! -f "/usr/share/postgresql/$pg_major/extension/postgis.control" ]; then
  apt-get update -qq && apt-get install -y -qq "postgresql-$pg_major-postgis-3"
fi
# HAProxy, the load balancer of the replica tests (tests/deploy/test_replicas.py) and `scripts/load_test.py --replicas`
command -v haproxy >/dev/null || { apt-get update -qq && apt-get install -y -qq haproxy; }
# Chromium, the browser of the demo page's test (tests/demo/test_demo_browser.py, driven by npm playwright-core)
[ -x /usr/bin/chromium ] || { apt-get update -qq && apt-get install -y -qq chromium; }
redis-cli -h 127.0.0.1 ping >/dev/null && pg_isready -h 127.0.0.1 -p 5432
