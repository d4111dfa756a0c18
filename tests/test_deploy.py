"""The production recipe (deploy/run: nginx in front of gunicorn): slow clients do not stall it,
HTTPS through nginx reaches the app as HTTPS, and Ctrl-C stops every process it started.

The end-to-end tests need Debian's nginx and openssl (``apt-get install nginx``); without
them they are skipped with that reason, like the browser tests without Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _unverified_tls() -> ssl.SSLContext:
    """A client context for the test's self-signed certificate: the test is of TLS through
    nginx, not of the certificate. Made bare rather than by ``ssl.create_default_context()``,
    which loads the system's CA bundle (~50-90 ms of CPU a call) only for it to go unused
    here (the server's certificate is not verified)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


UNVERIFIED = _unverified_tls()


def _seconds(conf: str, directive: str) -> int:
    match = re.search(rf"^\s*{directive}\s+(\d+)s;", conf, re.M)
    assert match, directive
    return int(match.group(1))


def test_nginx_config_cuts_off_slow_clients_and_buffers_requests() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    assert _seconds(conf, "client_header_timeout") <= 10
    assert _seconds(conf, "client_body_timeout") <= 10
    assert re.search(r"^\s*proxy_request_buffering on;", conf, re.M)
    assert re.search(r"^\s*proxy_buffering on;", conf, re.M)
    assert re.search(r"upstream \w+ \{[^}]*keepalive \d+;", conf, re.S)
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert re.search(rf"proxy_set_header {header} ", conf), header


def test_gunicorn_config_binds_locally_with_threads_and_timeouts() -> None:
    settings: dict[str, Any] = {}
    exec((DEPLOY / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 - our own file
    assert all(b.startswith(("unix:", "127.0.0.1:")) for b in settings["bind"])
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] >= 2
    assert 0 < settings["timeout"] <= 60
    assert settings["keepalive"] > _seconds((DEPLOY / "nginx.conf").read_text(),
                                            "keepalive_timeout")


def test_deploy_run_trusts_one_proxy_and_shares_rate_limits() -> None:
    script = (DEPLOY / "run").read_text()
    assert "export REGISTRY_TRUSTED_PROXIES=1" in script
    assert "REGISTRY_RATELIMIT_STORAGE_URL" in script
    assert "redis://" in script
    assert os.access(DEPLOY / "run", os.X_OK)
    assert "deploy/run" in (ROOT / "Makefile").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.base = f"https://127.0.0.1:{port}"

    def get(self, path: str, timeout: float = 10) -> Any:
        url = self.base + path  # always https://127.0.0.1
        return urllib.request.urlopen(url, timeout=timeout, context=UNVERIFIED)  # noqa: S310


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if nginx is None or shutil.which("openssl") is None:
        pytest.skip("deploy/run needs nginx and openssl (apt-get install nginx)")
    work = Path(tempfile.mkdtemp(prefix="registry-deploy-"))
    run_dir = Path(tempfile.mkdtemp(prefix="registry-run-"))
    # An EC key: the test is of TLS through nginx, not of the key (an RSA key's ~0.1-0.2 s).
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(work / "key.pem"),
                    "-out", str(work / "cert.pem")], check=True, capture_output=True)
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")},
           "PORT": str(port), "LISTEN": f"127.0.0.1:{port}", "RUN_DIR": str(run_dir),
           "NGINX": nginx, "TLS_CERT": str(work / "cert.pem"), "TLS_KEY": str(work / "key.pem"),
           "GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "2",
           "REGISTRY_DATABASE_URL": f"sqlite:///{work}/registry.sqlite3",
           "REGISTRY_RATELIMIT_STORAGE_URL": "memory://",
           "REGISTRY_SECRET_KEY": "deploy-test",
           # The worker signs checkpoints: into this test's folder, never the checkout's instance/.
           "REGISTRY_AUDIT_SIGNING_KEY_FILE": str(work / "audit-key.pem"),
           "REGISTRY_AUDIT_CHECKPOINT_FILE": str(work / "audit-checkpoints.jsonl")}
    log = work / "run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(DEPLOY / "run")], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(process, port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                srv.get("/login", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("deploy/run did not start:\n" + log.read_text())
                time.sleep(0.1)
        yield srv
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def _trickle(port: int, stop: threading.Event) -> None:
    """A slow client: a request's headers one byte a second, over TLS."""
    request = b"GET /login HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow\r\n\r\n"
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                    UNVERIFIED.wrap_socket(raw) as conn:
                for i in range(len(request)):
                    if stop.wait(1):
                        return
                    conn.sendall(request[i:i + 1])
        except OSError:
            stop.wait(0.2)


def test_slow_clients_do_not_stall_the_recipe(server: Server) -> None:
    stop = threading.Event()
    slow = [threading.Thread(target=_trickle, args=(server.port, stop), daemon=True)
            for _ in range(12)]  # more than gunicorn's 1 worker x 2 threads
    for t in slow:
        t.start()
    try:
        time.sleep(2)
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            with server.get("/api/v1/openapi.json", timeout=10) as response:
                assert response.status == 200
                response.read()
            timings.append(time.perf_counter() - start)
        assert max(timings) < 2, timings
    finally:
        stop.set()


def test_https_through_nginx_is_https_to_the_app(server: Server) -> None:
    with server.get("/login") as response:
        assert response.status == 200
        assert "max-age=" in response.headers.get("Strict-Transport-Security", "")
        assert response.headers.get("Cache-Control") == "no-store"
        cookies = response.headers.get_all("Set-Cookie")
    assert any(c.startswith("__Host-session=") for c in cookies), cookies
    assert all("Secure" in c for c in cookies), cookies


def test_ctrl_c_stops_every_process(server: Server) -> None:
    os.killpg(server.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    server.process.wait(timeout=40)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(server.process.pid, 0)
        except ProcessLookupError:
            return  # nginx, gunicorn and its workers are all gone
        time.sleep(0.2)
    pytest.fail("processes of deploy/run outlived Ctrl-C:\n" + server.log.read_text())
