"""List pagination: numbered pages for browsing, cursor passes for sync; both hand back a cursor.

Every list response carries `next_sync`. Passed back as `?sync=<next_sync>` it returns the changes
(tombstones included) the client has not seen yet, in pages; `has_more` says whether the pass
goes on (then `next` holds the URL of its next page). `?sync=0` starts a full sync.
"""

from collections import OrderedDict

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from projects import sync

SYNC_PARAM = "sync"
UPDATED_SINCE = "updated_since"


class StrictPageSizeMixin:
    """`page_size` must be a whole number from 1; above `max_page_size` it is capped (documented).
    DRF's own reading silently falls back to the default for `page_size=abc`."""

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"A whole number from 1 (larger values are capped at {self.max_page_size})."
                    ]
                }
            )
        return min(int(text), self.max_page_size)


class SyncPagination(StrictPageSizeMixin, PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.view = view
        self.reset = False
        source = view.sync_source()
        scope = view.sync_scope()
        token = request.query_params.get(SYNC_PARAM)
        self.count = None
        if token is None and UPDATED_SINCE in request.query_params:
            # An updated_since list is a sync pass over the rows changed since then: keyset pages on
            # the change stamp, so a record changed between two pages moves to a later page (or
            # pass) instead of shifting an unseen one onto a page already read. Its first page
            # counts the matching records, as numbered pages do.
            token = "0"
            self.count = queryset.count()
        if token is not None:
            try:
                cursor = sync.SyncCursor.decode(token)
            except sync.InvalidCursor as error:
                raise exceptions.ValidationError({SYNC_PARAM: [str(error)]}) from error
            page = sync.sync_page(
                queryset, cursor, page_size=self.get_page_size(request), scope=scope, source=source
            )
            self.sync_mode = True
            self.next_cursor, self.has_more, self.reset = page.next_cursor, page.has_more, page.reset
            return page.rows
        # Taken before the page is read: every change committed after it is in the next pass.
        self.sync_mode = False
        self.next_cursor = sync.start_cursor(source, scope=scope)
        rows = super().paginate_queryset(queryset, request, view)
        self.has_more = self.page.has_next()
        return rows

    def get_next_link(self):
        if not self.sync_mode:
            return super().get_next_link()
        if not self.has_more:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, SYNC_PARAM, self.next_cursor.encode())

    def get_previous_link(self):
        return None if self.sync_mode else super().get_previous_link()

    def get_paginated_response(self, data):
        return Response(
            OrderedDict(
                [
                    ("count", self.page.paginator.count if not self.sync_mode else self.count),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("next_sync", self.next_cursor.encode()),
                    ("has_more", self.has_more),
                    ("reset", self.reset),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "next", "previous", "next_sync", "has_more", "reset", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "nullable": True,
                    "description": "Matching records (numbered pages and the first page of an "
                    "updated_since list; null in a sync pass).",
                },
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "next_sync": {
                    "type": "string",
                    "description": "Pass back as ?sync= to receive the changes you have not seen yet.",
                },
                "has_more": {
                    "type": "boolean",
                    "description": "More records follow (in a sync pass: ask again with next_sync now).",
                },
                "reset": {
                    "type": "boolean",
                    "description": "Your access changed since the cursor was issued: this pass restarts "
                    "from the beginning; replace your copy with what it delivers.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                # No "maximum": larger values are capped, not refused.
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Records per page (default {self.page_size}; "
                    f"larger values are capped at {self.max_page_size})."
                )
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        parameters.append(
            {
                "name": SYNC_PARAM,
                "required": False,
                "in": "query",
                "description": "A sync cursor (`next_sync` of an earlier response), or 0 for a full sync. "
                "Returns changed records, deleted ones included as tombstones, in change order.",
                "schema": {"type": "string"},
            }
        )
        return parameters
