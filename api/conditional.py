"""Conditional GET: a client that sends back the ETag it holds gets `304 Not Modified`, no body.

ETags are strong (a record's version), but `If-None-Match` compares weakly as RFC 9110 says, so
a tag a proxy weakened (`W/"3"`) still matches.
"""

from rest_framework import status
from rest_framework.response import Response


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def if_none_match_hits(request, current_etag: str) -> bool:
    """Whether the request's `If-None-Match` names `current_etag` (or is `*`)."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(_opaque(tag) == current_etag for tag in header.split(","))


def not_modified(current_etag: str) -> Response:
    return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": current_etag})
