"""A local deployment for a load test: a PostgreSQL database of its own (and copies of it), N
`tongban serve` processes, the pre-review worker, and nginx in front — each started in a
process group of its own and stopped with it, whatever happens. Also the CPU each part used,
read from /proc (Linux), and the unhandled errors in the processes' logs.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import make_url

from support import nginx as ngx
from support.server import free_port

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------


class Databases:
    """Databases `tongban_load_<random>_<label>` on one server, all dropped on close."""

    def __init__(self, server_url: str) -> None:
        url = make_url(server_url)
        self.server = url
        self.admin = url.set(drivername="postgresql", database="postgres").render_as_string(
            hide_password=False
        )
        self.stem = f"tongban_load_{secrets.token_hex(4)}"
        self.made: list[str] = []

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def _run(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql)

    def create(self, label: str, template: str | None = None) -> str:
        """A new database (a copy of `template`, made by the server: fast); its name."""
        name = f"{self.stem}_{label}"
        self.made.append(name)
        if template is None:
            self._run(f'CREATE DATABASE "{name}"')
            return name
        for attempt in range(50):  # the template's last connections may still be closing
            try:
                self._run(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return name
            except Exception:
                if attempt == 49:
                    raise
                self._run(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{template}' AND pid <> pg_backend_pid()"
                )
                time.sleep(0.2)
        return name

    def close(self) -> None:
        for name in reversed(self.made):
            try:
                self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # the others must still go
                print(f"  could not drop {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        self.made.clear()


def server_answers(server_url: str) -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        import psycopg

        admin = make_url(server_url).set(drivername="postgresql", database="postgres")
        with psycopg.connect(
            admin.render_as_string(hide_password=False), autocommit=True, connect_timeout=3
        ):
            return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process so far, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def processes() -> Iterator[tuple[int, str, int]]:
    """(pid, command name, parent pid) of every process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        yield int(entry.name), name, ppid


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def group_cpu(self) -> float:
        """CPU seconds of the process and its children (nginx's workers) so far."""
        pids = {self.popen.pid} | {pid for pid, _, ppid in processes() if ppid == self.popen.pid}
        return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def start(name: str, argv: list[str], env: dict[str, str], log: Path) -> Proc:
    with log.open("ab") as out:
        popen = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Proc(name, popen, log)


def stop(proc: Proc, timeout: float = 10) -> None:
    """SIGTERM to the process group, SIGKILL to what is left after `timeout`."""
    if proc.popen.poll() is not None:
        return
    try:
        os.killpg(proc.popen.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout=timeout)
    with suppress(ProcessLookupError):
        os.killpg(proc.popen.pid, signal.SIGKILL)  # children left behind too
    proc.popen.wait(timeout=timeout)


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_for(url: str, proc: Proc, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if proc.popen.poll() is not None:
            code = proc.popen.returncode
            raise RuntimeError(f"{proc.name} stopped with {code}:\n{tail(proc.log)}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not answer in {seconds:.0f} s:\n{tail(proc.log)}")
        time.sleep(0.1)


def server_errors(log: Path) -> Counter[str]:
    """The exceptions behind a process's 500s, from its log: the last exception line of the
    traceback after each "unhandled error" line."""
    found: Counter[str] = Counter()
    last: str | None = None
    inside = False
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(("INFO:", "ERROR:", "WARNING:")) or "unhandled error" in line:
            if inside and last:
                found[last[:200]] += 1
            inside, last = "unhandled error" in line, None
        elif inside and re.match(r"^[A-Za-z_][\w.]*: ", line):
            last = line
    if inside and last:
        found[last[:200]] += 1
    return found


# ---------------------------------------------------------------------------------------------
# The deployment
# ---------------------------------------------------------------------------------------------


def product_env(database_url: str, kek: str, folder: Path, **settings: str) -> dict[str, str]:
    """The processes' environment: none of the caller's own TONGBAN_ settings, this database,
    the KEK, uploads and the segmenter's cache in `folder`, and `settings` (TONGBAN_…)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    return {
        **env,
        "TONGBAN_DATABASE_URL": database_url,
        "TONGBAN_KEK": kek,
        "TONGBAN_FILES_DIR": str(folder / "files"),
        "TONGBAN_SEARCH_CACHE_DIR": str(folder / "jieba"),
        **settings,
    }


@dataclass
class Deployment:
    api: list[Proc] = field(default_factory=list)
    api_ports: list[int] = field(default_factory=list)
    worker: Proc | None = None
    proxy: Proc | None = None
    base: str = ""  # through nginx, or the first process without it

    def direct(self, i: int) -> str:
        return f"http://127.0.0.1:{self.api_ports[i % len(self.api_ports)]}"

    def logs(self) -> list[Path]:
        return [p.log for p in self.api] + ([self.worker.log] if self.worker else [])

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each part: the API processes, the worker, nginx, PostgreSQL
        (all its processes on this machine), this client, the whole machine."""
        postgres = sum(
            cpu_seconds(pid) or 0.0 for pid, name, _ in processes() if name.startswith("postgres")
        )
        busy, _ = machine_busy()
        return {
            "api": sum(p.group_cpu() for p in self.api),
            "worker": self.worker.group_cpu() if self.worker else 0.0,
            "nginx": self.proxy.group_cpu() if self.proxy else 0.0,
            "postgres": postgres,
            "client": time.process_time(),
            "machine": busy,
        }


@contextmanager
def deploy(
    env: dict[str, str],
    folder: Path,
    processes_n: int,
    *,
    worker: bool = True,
    proxy: ngx.Local | None = None,
    nginx_binary: str | None = None,
) -> Iterator[Deployment]:
    """Start everything, wait until each answers, yield; stop everything afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    dep = Deployment()
    with ExitStack() as stack:
        for i in range(processes_n):
            port = proxy.backends[i] if proxy else free_port()
            proc = start(
                f"api{i + 1}",
                [sys.executable, "-m", "tongban", "serve", "--port", str(port)],
                env,
                folder / f"api{i + 1}.log",
            )
            stack.callback(stop, proc)
            dep.api.append(proc)
            dep.api_ports.append(port)
        if worker:
            dep.worker = start(
                "prereview worker",
                [sys.executable, "-m", "tongban", "prereview", "work"],
                env,
                folder / "worker.log",
            )
            stack.callback(stop, dep.worker)
        for i, proc in enumerate(dep.api):
            wait_for(dep.direct(i) + "/healthz", proc)
        dep.base = dep.direct(0)
        if proxy is not None:
            assert nginx_binary is not None
            main = ngx.prepare(proxy)
            ngx.check(nginx_binary, proxy, main)
            dep.proxy = start(
                "nginx",
                ngx.command(nginx_binary, proxy, main, "-g", "daemon off;"),
                env,
                folder / "nginx.log",
            )
            stack.callback(stop, dep.proxy)
            dep.base = f"http://127.0.0.1:{proxy.listen_port}"
            wait_for(dep.base + "/nginx-healthz", dep.proxy)
            wait_for(dep.base + "/healthz", dep.proxy)
        yield dep
