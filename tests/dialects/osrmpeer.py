"""osrm-routed on the same Monaco extract, for side-by-side tests; None when the bench extras are absent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from liveserver import free_port

REPO = Path(__file__).resolve().parents[2]
BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
_PREPARE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import osrm
from peers import OsrmPeer
o = OsrmPeer(sys.argv[1])
print(json.dumps({"bin": str(Path(osrm.__file__).parent / "bin" / "osrm-routed"), "base": str(o.base)}))
o.close()
"""


def prepared(pbf: Path) -> dict | None:
    """osrm-routed's binary and data for ``pbf`` (prepared once by scripts/peers), or None without the bench venv."""
    if not BENCH_PYTHON.is_file():
        return None
    proc = subprocess.run(
        [str(BENCH_PYTHON), "-c", _PREPARE, str(pbf), str(REPO / "scripts")],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    if proc.returncode != 0:
        raise AssertionError(f"preparing OSRM failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@contextmanager
def osrm_routed(peer: dict, log: Path) -> Iterator[str]:
    """A running osrm-routed (CH) on a free port; yields its base URL."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [peer["bin"], "--ip", "127.0.0.1", "--port", str(port), "-t", "1", "-a", "CH", peer["base"]],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                requests.get(f"{base}/nearest/v1/driving/7.42,43.73", timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
