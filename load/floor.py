"""The load test's floor: the smallest WSGI app that answers the API's first page of projects.

One persistent PostgreSQL connection per process and one hand-written query per request: the live
projects in the API's default order (by id), 50 to a page, with the total count, as JSON. No
framework, no middleware, no authentication, no scoping, no computed figures: what is left is the
cost of HTTP, gunicorn, one round trip to PostgreSQL and JSON. The product's answers cost more, and
the load test shows by how much. Served by gunicorn with the same worker count as the app:

    DATABASE_URL=postgres://… gunicorn -c python:bpo_portfolio.gunicorn_conf load.floor:application
"""

import json
import os
from urllib.parse import parse_qs, urlparse

import psycopg2

PAGE_SQL = """
SELECT id, external_id, version, title, stage, level, relationship_id, investment::text,
       updated_at, count(*) OVER () AS total
FROM projects_innovationproject
WHERE deleted_at IS NULL
ORDER BY id
LIMIT %s
"""
COLUMNS = (
    "id",
    "external_id",
    "version",
    "title",
    "stage",
    "level",
    "relationship",
    "investment",
    "updated_at",
)
MAX_PAGE_SIZE = 500

_connection = None


def _cursor():
    global _connection
    if _connection is None or _connection.closed:
        url = urlparse(os.environ["DATABASE_URL"])
        _connection = psycopg2.connect(
            dbname=url.path.lstrip("/"),
            user=url.username,
            password=url.password,
            host=url.hostname,
            port=url.port or 5432,
        )
        _connection.autocommit = True
    return _connection.cursor()


def page_size(query_string: str) -> int:
    values = parse_qs(query_string).get("page_size", ["100"])
    try:
        return max(1, min(int(values[0]), MAX_PAGE_SIZE))
    except ValueError:
        return 100


def application(environ, start_response):
    with _cursor() as cursor:
        cursor.execute(PAGE_SQL, [page_size(environ.get("QUERY_STRING", ""))])
        rows = cursor.fetchall()
    body = json.dumps(
        {
            "count": rows[0][-1] if rows else 0,
            "results": [
                {**dict(zip(COLUMNS, row[:-1], strict=True)), "updated_at": row[8].isoformat()}
                for row in rows
            ],
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
