"""A fault-injecting HTTP proxy for loopback tests of the hosted backend.

It sits in front of a real OpenAI-compatible server and, for each request, either
forwards it or injects a fault from its plan: 429 with Retry-After, 500, 503, a
hang past the client's timeout, a dropped connection, a truncated or non-JSON
body, or a chat completion whose content breaks the draft schema. It listens on
127.0.0.1 only and forwards only to the upstream it was given.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = (
    "rate_limit",
    "server_error",
    "unavailable",
    "hang",
    "drop",
    "truncated",
    "not_json",
    "bad_schema",
    "echo_auth",
)


@dataclass
class FaultProxy:
    """Proxy on 127.0.0.1 that applies ``plan(request_number, body) -> fault or None``."""

    upstream: str
    plan: Callable[[int, dict[str, object]], str | None] = lambda n, body: None
    hang_seconds: float = 5.0
    retry_after: float = 1.0
    log: list[tuple[int, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def do_GET(self) -> None:
                proxy._forward(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                proxy._forward(self, self.rfile.read(length))

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return  # a client that gave up (timeout, dropped) is part of the test, not news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the proxy's base URL (with ``/v1``)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _send(
        self, handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _upstream(self, handler: BaseHTTPRequestHandler, raw: bytes | None) -> tuple[int, bytes, str]:
        request = urllib.request.Request(
            self.upstream.rstrip("/").removesuffix("/v1") + handler.path,
            data=raw,
            method=handler.command,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                content_type = response.headers.get("Content-Type", "application/json")
                return response.status, response.read(), content_type
        except urllib.error.HTTPError as error:
            return error.code, error.read(), "application/json"

    def _forward(self, handler: BaseHTTPRequestHandler, raw: bytes | None) -> None:
        body: dict[str, object] = {}
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
        with self._lock:
            self._count += 1
            number = self._count
        fault = self.plan(number, body) if handler.command == "POST" else None
        self.log.append((number, fault))
        json_type = {"Content-Type": "application/json"}
        if fault == "rate_limit":
            error = {"error": {"message": "slow down", "type": "rate_limit"}}
            headers = {**json_type, "Retry-After": str(self.retry_after)}
            self._send(handler, 429, json.dumps(error).encode(), headers)
        elif fault in ("server_error", "unavailable"):
            status = 500 if fault == "server_error" else 503
            self._send(handler, status, b'{"error": {"message": "upstream trouble"}}', json_type)
        elif fault == "hang":
            time.sleep(self.hang_seconds)
            handler.close_connection = True
        elif fault == "drop":
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
        elif fault == "echo_auth":
            # A server that puts the caller's credentials into its error: they must not leak further.
            message = f"invalid key {handler.headers.get('Authorization', '')}"
            self._send(handler, 401, json.dumps({"error": {"message": message}}).encode(), json_type)
        else:
            status, data, content_type = self._upstream(handler, raw)
            if fault == "truncated":
                data = data[: len(data) // 2]
            elif fault == "not_json":
                data, content_type = b"<html><body>502 Bad Gateway</body></html>", "text/html"
            elif fault == "bad_schema" and status == 200:
                reply = json.loads(data)
                reply["choices"][0]["message"]["content"] = '{"unexpected": [1, 2, 3]}'
                data = json.dumps(reply).encode()
            self._send(handler, status, data, {"Content-Type": content_type})
