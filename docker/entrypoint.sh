#!/bin/sh
# Container entrypoint: make sure a built data dir exists, then run `lds <command>` on it.
#
#   serve | worker [args]   run on $LDS_DATA_DIR (default /data/lds); if it holds no build and
#                           $LDS_EXTRACT names an .osm.pbf/.osm/.osm.bz2 path or URL, build it first
#                           (a local extract that changed since the last build is rebuilt too).
#   prepare                 only that build step, then exit: run once before several replicas start
#                           (docker-compose.yml's `prepare`), so they never build side by side.
#   anything else           passed to `lds` as is (e.g. `build ...`, `token create ...`).
set -eu

data="${LDS_DATA_DIR:-/data/lds}"
cmd="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$cmd" in
  serve|worker|prepare)
    if [ ! -f "$data/meta.json" ] && [ ! -f "$data/current/meta.json" ]; then  # flat, or versions (lds.versions)
      if [ -n "${LDS_EXTRACT:-}" ]; then
        echo "lds-entrypoint: no built data in $data; building it from $LDS_EXTRACT" >&2
        lds build "$LDS_EXTRACT" --out "$data"
      else
        echo "lds-entrypoint: no built data in $data. Mount a data dir made by 'lds build'," \
             "or set LDS_EXTRACT to an .osm.pbf path or URL to build one at start." >&2
        exit 78
      fi
    elif [ -n "${LDS_EXTRACT:-}" ] && [ -f "$LDS_EXTRACT" ] && [ "$cmd" != worker ]; then
      lds build "$LDS_EXTRACT" --out "$data" --if-changed
    fi
    [ "$cmd" = prepare ] && exit 0
    exec lds "$cmd" --data "$data" "$@"
    ;;
  *)
    exec lds "$cmd" "$@"
    ;;
esac
