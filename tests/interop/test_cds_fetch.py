"""The default fetcher: FHIR JSON from the EHR's server with its access token; any failure is
None (the card then asks for what is missing), never an error of the call. Served locally."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from registry.interop.cds.fetch import fetchable, http_fetch

SEEN: list[dict[str, Any]] = []


class Fhir(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN.append({"path": self.path, "auth": self.headers.get("Authorization"),
                     "accept": self.headers.get("Accept")})
        if self.path.endswith("/Patient/1"):
            body, status = json.dumps({"resourceType": "Patient", "id": "1"}).encode(), 200
        elif self.path.endswith("/Patient/2"):
            body, status = b"<html>not json</html>", 200
        else:
            body, status = b"{}", 404
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Fhir)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
    finally:
        httpd.shutdown()


def test_fetches_fhir_json_with_the_token(server: str) -> None:
    SEEN.clear()
    assert http_fetch(server, "Patient/1", "tok") == {"resourceType": "Patient", "id": "1"}
    assert SEEN == [{"path": "/fhir/Patient/1", "auth": "Bearer tok",
                     "accept": "application/fhir+json"}]
    assert http_fetch(server, "Patient/2", None) is None  # not JSON
    assert http_fetch(server, "Patient/3", None) is None  # 404
    assert http_fetch("file:///etc", "Patient/1", None) is None  # never another scheme


def test_only_a_plain_reference_is_fetched() -> None:
    assert fetchable("Patient/abc-1.2")
    assert fetchable("Practitioner/example")
    for bad in ("Patient/..", "Patient/.", "Patient/../../admin", "Observation/1", "Patient/a/b", "http://x/Patient/1",
                "Patient/" + "a" * 65):
        assert not fetchable(bad), bad
