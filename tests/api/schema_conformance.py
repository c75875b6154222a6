"""Every response a live-server test receives is checked against the published schema, twice:

* by openapi-core, a strict OpenAPI 3.0 validator (`nullable`, `allOf`, formats and enums as 3.0
  defines them), with undocumented properties forbidden: a response may carry no field the schema
  does not name;
* by schemathesis' response conformance (status code, headers, content type and body).

A response that either finds fault with fails the test, naming each mismatch.
"""

from urllib.parse import parse_qs, urlsplit

import requests
import schemathesis
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


class _Request:
    """The request side of a response, as openapi-core reads it (requests or httpx alike)."""

    def __init__(self, method: str, url: str, headers, body: bytes | None):
        parts = urlsplit(url)
        self.method = method.lower()
        self.host_url = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path
        self.body = body
        self.content_type = str(headers.get("Content-Type", ""))
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(parts.query, keep_blank_values=True)),
            header=Headers(dict(headers)),
        )


class _Response:
    def __init__(self, status_code: int, headers, data: bytes):
        self.status_code = status_code
        self.headers = Headers(dict(headers))
        self.content_type = str(headers.get("Content-Type", ""))
        self.data = data


def _body(request) -> bytes | None:
    content = getattr(request, "body", None)
    if content is None and hasattr(request, "content"):  # httpx
        content = request.content
    if isinstance(content, str):
        content = content.encode()
    return content or None


def strict_validator(schema: dict) -> OpenAPI:
    return OpenAPI.from_dict(schema, config=Config(additional_properties_default_policy="forbid"))


class ResponseConformance:
    """A response hook for `requests` and `httpx`: fails the test on a response the schema does not
    describe."""

    def __init__(self, base: str):
        document = requests.get(f"{base}/api/v1/schema/?format=json", timeout=30).json()
        assert document["openapi"].startswith("3.0."), document["openapi"]
        self.schema = schemathesis.openapi.from_dict(document)
        self.openapi = strict_validator(document)
        self.checked = 0

    def __call__(self, response, *args, **kwargs):
        if hasattr(response, "aread"):  # httpx hands its hooks the response before reading it
            response.read()
        request = response.request
        path = urlsplit(str(request.url)).path
        operation = self.schema.find_operation_by_path(request.method, path)
        assert operation is not None, f"{request.method} {path} is not in the schema"
        self.openapi.validate_response(
            _Request(request.method, str(request.url), request.headers, _body(request)),
            _Response(response.status_code, response.headers, response.content),
        )  # raises, naming the mismatch
        operation.validate_response(response)  # raises, naming each mismatch
        self.checked += 1
        return response

    def watch(self, session: requests.Session) -> requests.Session:
        session.hooks["response"].append(self)
        return session
