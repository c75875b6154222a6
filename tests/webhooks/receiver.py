"""A real HTTP receiver on loopback that records what it is sent and answers from a script."""

import contextlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    # Status codes to answer, in order; then `default`. A (status, headers) pair answers with headers.
    script: list = field(default_factory=list)
    default: int = 200
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    answer = receiver.script.pop(0) if receiver.script else receiver.default
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                text = f"answered {status}".encode()
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                # The sender may have died mid-request (the SIGKILL tests do that on purpose).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        return [r.headers.get("webhook-id") for r in self.received]
