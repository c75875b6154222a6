"""Conditional GET: a client that sends back the ETag it holds gets `304 Not Modified`, no body.

An object's ETag is its version (`"3"`), a strong tag. A list's is a weak tag (`W/"list-…"`), a
digest of everything the page shows — its rows with every figure, the count, the links — so it
changes whenever anything the list shows changes (a computed figure, a renamed owner, a page
boundary) and never otherwise. Only the sync cursor (`next_sync`) is left out: it names the
database's position, which moves with every write anywhere, and the cursor the client already
holds from the earlier answer is as good (a later sync from it misses nothing). Same rows, an
older cursor: equivalent, not identical, hence weak. A list's 304 saves the transfer and the
client's work, not the server's: the list is still read to know its digest.

`If-None-Match` compares weakly, as RFC 9110 says, so a tag a proxy weakened (`W/"3"`) matches too.
"""

import hashlib
import json

import orjson
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
    return any(_opaque(tag) == _opaque(current_etag) for tag in header.split(","))


def not_modified(current_etag: str) -> Response:
    return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": current_etag})


def list_etag(data: dict) -> str:
    """The weak ETag of a list answer's data (everything but the sync cursor)."""
    shown = {key: value for key, value in data.items() if key != "next_sync"}
    try:
        text = orjson.dumps(shown, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, say
        text = json.dumps(shown, sort_keys=True, default=str).encode()
    digest = hashlib.sha256(text).hexdigest()[:32]
    return f'W/"list-{digest}"'
