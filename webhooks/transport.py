"""One HTTP POST to a checked address: no redirects followed, a hard deadline, a bounded read."""

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from webhooks.ssrf import Target

RESPONSE_EXCERPT_BYTES = 500


@dataclass(frozen=True)
class Response:
    status_code: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the host name resolves to now."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with the certificate checked against the host name."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST `body` and read the status and the start of the answer; never raises for network
    trouble (the error is in the result). A redirect is an answer like any other: not followed."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    started = time.monotonic()
    deadline = started + timeout
    connection = connection_class(target, timeout=timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": "BPO-Innovation-Portfolio-Webhooks/1",
            },
        )
        if connection.sock is not None:
            connection.sock.settimeout(max(0.01, deadline - time.monotonic()))
        response = connection.getresponse()
        if connection.sock is not None:
            connection.sock.settimeout(max(0.01, deadline - time.monotonic()))
        excerpt = response.read(RESPONSE_EXCERPT_BYTES).decode("utf-8", "replace")
        return Response(status_code=response.status, latency_ms=_ms(started), excerpt=excerpt)
    except TimeoutError:
        return Response(status_code=None, latency_ms=_ms(started), error=f"No answer within {timeout:g} s.")
    except (OSError, http.client.HTTPException, ssl.SSLError) as error:
        return Response(
            status_code=None, latency_ms=_ms(started), error=f"{type(error).__name__}: {error}"[:300]
        )
    finally:
        connection.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
