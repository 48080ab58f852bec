"""A replica set on 127.0.0.1: N `lds serve` replicas and M `lds worker`s behind HAProxy (not a benchmark by itself).

What docker-compose.yml and deploy/k8s run on several machines, here as processes with their own ports and
state dirs, sharing one Redis (cache, queue, rate limits) and, for auth, one PostgreSQL database
(``LDS_DATABASE_URL``: tokens, quotas, connections). HAProxy runs the checked-in deploy/haproxy.cfg with only
the addresses rewritten (:func:`local_haproxy_config`), so its health checks, retries and redispatch are the
ones under test. Used by ``scripts/load_test.py --replicas`` and tests/deploy/test_replicas.py.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import Server, free_port, group_cpu_seconds, start_worker

REPO = Path(__file__).resolve().parents[1]
HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"


def local_haproxy_config(text: str, *, port: int, stats_port: int, servers: list[tuple[str, int]]) -> str:
    """deploy/haproxy.cfg for replicas on 127.0.0.1: the ``server-template`` line (Docker DNS) becomes one
    ``server`` line per (name, port), the binds move to loopback ports, the Docker resolvers section goes.
    Everything else (checks, retries, timeouts) is kept as written; a file of another shape is refused."""
    out: list[str] = []
    seen = {"template": 0, "bind": 0, "stats": 0, "resolvers": 0}
    in_resolvers = False
    for line in text.splitlines():
        words = line.split()
        if in_resolvers and line[:1] in (" ", "\t") and words:
            continue
        in_resolvers = False
        if words[:1] == ["resolvers"]:
            in_resolvers, seen["resolvers"] = True, seen["resolvers"] + 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if words[:1] == ["server-template"]:
            seen["template"] += 1
            out += [f"{indent}server {name} 127.0.0.1:{p} check" for name, p in servers]
        elif words == ["bind", ":8000"]:
            seen["bind"] += 1
            out.append(f"{indent}bind 127.0.0.1:{port}")
        elif words == ["bind", ":8404"]:
            seen["stats"] += 1
            out.append(f"{indent}bind 127.0.0.1:{stats_port}")
        else:
            out.append(line)
    if set(seen.values()) != {1}:
        raise ValueError(f"unexpected shape of deploy/haproxy.cfg: {seen}")
    return "\n".join(out) + "\n"


class Balancer:
    """HAProxy (``haproxy -db``, foreground) on a free loopback port in front of ``servers``."""

    def __init__(self, servers: list[tuple[str, int]], workdir: Path):
        exe = shutil.which("haproxy")
        if exe is None:
            raise RuntimeError("haproxy is not installed (scripts/services.sh installs it: apt-get install haproxy)")
        self.exe, self.servers, self.workdir = exe, servers, workdir
        self.port, self.stats_port = free_port(), free_port()
        self.config = workdir / "haproxy.cfg"
        self.log_path = workdir / "haproxy.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        text = local_haproxy_config(
            HAPROXY_CFG.read_text(), port=self.port, stats_port=self.stats_port, servers=self.servers
        )
        self.config.write_text(text)
        check = subprocess.run([self.exe, "-c", "-f", str(self.config)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c refused the configuration:\n{check.stdout}{check.stderr}")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.exe, "-db", "-f", str(self.config)], stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.time() + timeout
        while True:  # up when every server passed its health checks
            try:
                if all(s["status"] == "UP" for s in self.stats().values()):
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"haproxy did not see every replica up; see {self.log_path}")
            time.sleep(0.2)

    def stats(self) -> dict[str, dict[str, str]]:
        """The backend's servers from HAProxy's CSV statistics: name -> row (``status``, ``stot`` requests, ...)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5) as r:
            text = r.read().decode().lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row for row in rows if row["pxname"] == "replicas" and row["svname"] != "BACKEND"}

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        self.proc = None


class ReplicaSet:
    """``replicas`` x `lds serve` (each with its own state dir, as on its own machine), ``workers`` x
    `lds worker` and a :class:`Balancer`; ``env`` is the shared LDS_* environment (Redis, database, tokens)."""

    def __init__(
        self,
        data_dir: str,
        workdir: Path,
        env: dict[str, str],
        *,
        replicas: int = 2,
        workers: int = 0,
        server_workers: int = 2,
    ):
        self.data_dir, self.workdir, self.env = data_dir, Path(workdir), env
        self.servers: list[Server] = []
        for i in range(1, replicas + 1):
            state = self.workdir / f"r{i}"
            state.mkdir(parents=True, exist_ok=True)
            self.servers.append(
                Server(
                    data_dir,
                    {**env, "LDS_STATE_DIR": str(state)},
                    workers=server_workers,
                    log_path=str(state / "serve.log"),
                )
            )
        self.n_workers = workers
        self.workers: list[subprocess.Popen] = []
        self.balancer = Balancer([(f"r{i}", s.port) for i, s in enumerate(self.servers, 1)], self.workdir)

    @property
    def base(self) -> str:
        return self.balancer.base

    @property
    def port(self) -> int:
        return self.balancer.port

    def start(self) -> None:
        try:
            with ThreadPoolExecutor(len(self.servers)) as pool:  # the replicas load the data side by side
                list(pool.map(lambda s: s.start(), self.servers))
            for i in range(1, self.n_workers + 1):
                state = self.workdir / f"w{i}"
                state.mkdir(parents=True, exist_ok=True)
                self.workers.append(
                    start_worker(
                        self.data_dir,
                        {**self.env, "LDS_STATE_DIR": str(state)},
                        f"{self.env.get('LDS_REDIS_PREFIX', 'lds:').strip(':')}-w{i}",
                        log_path=str(state / "worker.log"),
                    )
                )
            self.balancer.start()
        except BaseException:
            self.stop()
            raise

    def kill(self, i: int) -> None:
        """SIGKILL replica ``i`` (0-based): its gunicorn master and workers at once, as a lost machine."""
        self.servers[i].stop(signal.SIGKILL)

    def cpu_seconds(self) -> float:
        """CPU time of every replica and the balancer (what :func:`loadgen.run_load` charges to the server side)."""
        return sum(s.cpu_seconds() for s in self.servers) + self.balancer.cpu_seconds()

    def stop(self) -> None:
        self.balancer.stop()
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for server in self.servers:
            server.stop()
