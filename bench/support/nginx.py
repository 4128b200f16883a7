"""nginx in front of local API processes, from the production file `deploy/nginx/tongban.conf`:
the same upstream, locations, headers, limits and timeouts, with what a local run must change —
the backends' ports, one listening port on loopback instead of 80 and 443 with TLS, the
server's logs and temporary files under a prefix of its own (no root needed), the package's
static folder, and the body limits taken from the deployment's settings.

Every change is checked to have happened (the production file changing shape fails the render
instead of measuring something else).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "tongban.conf"
INSTALL_HINT = "apt-get install -y --no-install-recommends nginx"


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


@dataclass(frozen=True)
class Local:
    listen_port: int
    backends: list[int]
    prefix: Path
    static_dir: Path
    max_upload_mb: int
    federation_max_message_mb: int
    workers: int = 1


def _blocks(text: str) -> list[tuple[int, int]]:
    """Start and end offsets of the top-level `… { … }` blocks (quotes and comments skipped)."""
    found: list[tuple[int, int]] = []
    depth, start, i, quote = 0, 0, 0, ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            i = text.find("\n", i)
            if i < 0:
                break
        elif c == "{":
            if depth == 0:
                start = text.rfind("\n", 0, i) + 1
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                found.append((start, i + 1))
        i += 1
    return found


def _sub(pattern: str, replacement: str, text: str, count: int | None = None) -> str:
    new, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if n == 0 or (count is not None and n != count):
        raise ValueError(f"{TEMPLATE.name}: expected {count or 'some'} of {pattern!r}, found {n}")
    return new


def render_site(local: Local, template: str | None = None) -> str:
    """The production file with the local changes made."""
    text = template if template is not None else TEMPLATE.read_text(encoding="utf-8")
    # The plain-HTTP server only redirects to HTTPS: a local run has no TLS, so it goes.
    for start, end in reversed(_blocks(text)):
        block = text[start:end]
        if block.lstrip().startswith("server") and re.search(r"^\s*listen 80;", block, re.M):
            text = text[:start] + text[end:]
            break
    else:
        raise ValueError(f"{TEMPLATE.name}: no plain-HTTP server block")
    servers = "\n".join(
        f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" for port in local.backends
    )
    text = _sub(r"(?:^    server 127\.0\.0\.1:\d+ [^\n]*;\n)+", servers + "\n", text, 1)
    listen = f"    listen 127.0.0.1:{local.listen_port};"
    text = _sub(r"^    listen 443 ssl http2;$", listen, text, 1)
    text = _sub(r"^    listen \[::\]:443 ssl http2;\n", "", text, 1)
    text = _sub(r"^    ssl_[a-z_]+ [^\n]*;\n", "", text)
    text = _sub(r"^    server_name [^\n]*;$", "    server_name localhost;", text, 1)
    logs = local.prefix / "logs"
    text = _sub(
        r"^    access_log /var/log/nginx/tongban\.access\.log",
        f"    access_log {logs}/tongban.access.log",
        text,
        1,
    )
    text = _sub(
        r"^    error_log /var/log/nginx/tongban\.error\.log",
        f"    error_log {logs}/tongban.error.log",
        text,
        1,
    )
    text = _sub(r"^(\s+alias) [^\n]*/static/;$", rf"\1 {local.static_dir}/;", text, 1)
    # The processes accept an upload of TONGBAN_MAX_UPLOAD_MB plus 1 MiB of envelope; nginx lets
    # one more MiB through so that the processes' own 413 is the answer. A peer's message:
    # TONGBAN_FEDERATION_MAX_MESSAGE_MB plus one.
    text = _sub(
        r"^    client_max_body_size \d+m;$",
        f"    client_max_body_size {local.max_upload_mb + 2}m;",
        text,
        1,
    )
    text = _sub(
        r"^        client_max_body_size \d+m;$",
        f"        client_max_body_size {local.federation_max_message_mb + 1}m;",
        text,
        1,
    )
    return text


def render_main(local: Local, site: Path) -> str:
    """nginx's own configuration for the prefix, including the site."""
    p = local.prefix
    temps = "\n".join(
        f"    {kind}_temp_path {p}/tmp/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    mime = Path("/etc/nginx/mime.types")
    types = f"    include {mime};" if mime.exists() else "    types { text/css css; }"
    return f"""worker_processes {local.workers};
pid {p}/nginx.pid;
error_log {p}/logs/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
{types}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log {p}/logs/access.log;
{temps}
    include {site};
}}
"""


def prepare(local: Local) -> Path:
    """Write the site and main configuration under the prefix; the main file's path. Checked
    with `nginx -t` before it is used."""
    for folder in ("conf", "logs", "tmp"):
        (local.prefix / folder).mkdir(parents=True, exist_ok=True)
    site = local.prefix / "conf" / "tongban.conf"
    site.write_text(render_site(local), encoding="utf-8")
    main = local.prefix / "conf" / "nginx.conf"
    main.write_text(render_main(local, site), encoding="utf-8")
    return main


def command(nginx: str, local: Local, main: Path, *extra: str) -> list[str]:
    return [
        nginx,
        "-p",
        str(local.prefix),
        "-e",
        str(local.prefix / "logs" / "error.log"),
        "-c",
        str(main),
        *extra,
    ]


def check(nginx: str, local: Local, main: Path) -> None:
    done = subprocess.run(
        command(nginx, local, main, "-t", "-q"), capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"nginx -t refused the rendered configuration:\n{done.stderr}")
