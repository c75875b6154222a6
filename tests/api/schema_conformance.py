"""Every response a live-server test receives is checked against the published schema
(schemathesis' response conformance: status code, headers, content type and body, nulls included)."""

from urllib.parse import urlsplit

import requests
import schemathesis


class ResponseConformance:
    """A response hook for `requests` and `httpx`: fails the test on a response the schema does not
    describe."""

    def __init__(self, base: str):
        self.schema = schemathesis.openapi.from_dict(
            requests.get(f"{base}/api/v1/schema/?format=json", timeout=30).json()
        )
        self.checked = 0

    def __call__(self, response, *args, **kwargs):
        if hasattr(response, "aread"):  # httpx hands its hooks the response before reading it
            response.read()
        path = urlsplit(str(response.request.url)).path
        operation = self.schema.find_operation_by_path(response.request.method, path)
        assert operation is not None, f"{response.request.method} {path} is not in the schema"
        operation.validate_response(response)  # raises, naming each mismatch
        self.checked += 1
        return response

    def watch(self, session: requests.Session) -> requests.Session:
        session.hooks["response"].append(self)
        return session
