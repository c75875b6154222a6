"""The load test's floor: the smallest WSGI app that answers the API's first page of projects.

One persistent PostgreSQL connection per process and one hand-written query per request: the live
projects in the API's default order (by id), 50 to a page, with the total count, as JSON. No
framework, no middleware, no authentication, no scoping, no computed figures: what is left is the
cost of HTTP, gunicorn, one round trip to PostgreSQL and JSON. The product's answers cost more, and
the load test shows by how much. Served by gunicorn with the same worker count as the app:

    DATABASE_URL=postgres://… gunicorn -c python:bpo_portfolio.gunicorn_conf load.floor:application

`projects_application` is the API read benchmark's floor (`make bench-api`): the API's project
list and detail with every field the API shows — computed figures (`impact_pct`, `gain_share`) and
contest flags included — each answer from one hand-written query, its JSON equal to the API's (the
benchmark checks every page). Still no framework, authentication or scoping (it answers as an
admin sees the portfolio).
"""

import json
import os
import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlparse

import orjson
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
            options="-c TimeZone=UTC",  # timestamps in UTC, as the API shows them
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


# --- The API read benchmark's floor -------------------------------------------------------------

# Every field of the API's project, in the API's order; the KPIs' (baseline, latest value,
# direction) for impact_pct, in the order the API reads them (the project KPIs' default ordering).
PROJECT_SQL = """
WITH page AS (
    SELECT p.*, count(*) OVER () AS total
    FROM projects_innovationproject p
    JOIN projects_relationship r ON r.id = p.relationship_id
    WHERE {where}
    ORDER BY p.id
    LIMIT %s OFFSET %s
)
SELECT p.id, p.external_id, p.version, p.created_at, p.updated_at, p.deleted_at, p.relationship_id,
       p.title, p.description, p.level, p.stage, p.originator, u.username, p.proposed_on,
       p.started_on, p.delivered_on, p.investment, p.expected_annual_benefit,
       p.realised_annual_benefit, p.funding, p.gain_share_pct, p.gain_share_baseline, p.outcome,
       p.cancellation_reason,
       (SELECT json_agg(json_build_array(
                   pk.baseline_value::text,
                   (SELECT m.value::text FROM kpis_measurement m
                    WHERE m.project_kpi_id = pk.id AND m.deleted_at IS NULL
                    ORDER BY m.measured_on DESC, m.id DESC LIMIT 1),
                   k.direction) ORDER BY k.name, pk.id)
        FROM kpis_projectkpi pk JOIN kpis_kpi k ON k.id = pk.kpi_id
        WHERE pk.project_id = p.id AND pk.deleted_at IS NULL) AS kpis,
       EXISTS (SELECT 1 FROM collab_contest c WHERE c.project_id = p.id AND c.kind = 'delivery_date'
               AND c.status IN ('open', 'answered') AND c.deleted_at IS NULL),
       EXISTS (SELECT 1 FROM collab_contest c WHERE c.project_id = p.id AND c.kind = 'realised_benefit'
               AND c.status IN ('open', 'answered') AND c.deleted_at IS NULL),
       p.total
FROM page p
LEFT JOIN auth_user u ON u.id = p.owner_id
ORDER BY p.id
"""
LIST_WHERE = "p.deleted_at IS NULL AND r.deleted_at IS NULL"
DETAIL_WHERE = "p.id = %s"
PROJECT_COLUMNS = (
    "id", "external_id", "version", "created_at", "updated_at", "deleted_at", "relationship",
    "title", "description", "level", "stage", "originator", "owner", "proposed_on", "started_on",
    "delivered_on", "investment", "expected_annual_benefit", "realised_annual_benefit", "funding",
    "gain_share_pct", "gain_share_baseline", "outcome", "cancellation_reason",
)  # fmt: skip
TIMESTAMPS = frozenset({"created_at", "updated_at", "deleted_at"})
DATES = frozenset({"proposed_on", "started_on", "delivered_on"})
AMOUNTS = frozenset(
    {
        "investment",
        "expected_annual_benefit",
        "realised_annual_benefit",
        "gain_share_pct",
        "gain_share_baseline",
    }
)
HUNDRED = Decimal(100)
IMPROVEMENT_CAP = Decimal(os.environ.get("FLOOR_IMPROVEMENT_CAP_PCT", "100"))
DETAIL_PATH = re.compile(r"^/api/v1/projects/(\d{1,18})/$")


def _timestamp(value):
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _impact_pct(kpis) -> str | None:
    capped = []
    for baseline, latest, direction in kpis or ():
        if latest is None or baseline is None or Decimal(baseline) == 0:
            continue
        baseline, latest = Decimal(baseline), Decimal(latest)
        sign = 1 if direction == "higher_is_better" else -1
        capped.append(
            max(-IMPROVEMENT_CAP, min(IMPROVEMENT_CAP, sign * (latest - baseline) / abs(baseline) * HUNDRED))
        )
    if not capped:
        return None
    mean = sum(capped, Decimal(0)) / len(capped)
    return f"{mean.quantize(Decimal('0.0001'), rounding=ROUND_HALF_EVEN):f}"


def _gain_share(project: dict) -> str | None:
    share, realised = project["gain_share_pct"], project["realised_annual_benefit"]
    if share is None or realised is None:
        return None
    gain = Decimal(realised) - Decimal(project["gain_share_baseline"] or 0)
    amount = max(Decimal(0), Decimal(share) / HUNDRED * gain)
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"


def _project(row) -> dict:
    project = dict(zip(PROJECT_COLUMNS, row, strict=False))
    for name in TIMESTAMPS:
        project[name] = _timestamp(project[name])
    for name in DATES:
        value = project[name]
        project[name] = value.isoformat() if value is not None else None
    for name in AMOUNTS:
        value = project[name]
        project[name] = f"{value:f}" if value is not None else None
    kpis, delivery_contested, benefit_contested = row[len(PROJECT_COLUMNS) : len(PROJECT_COLUMNS) + 3]
    project["impact_pct"] = _impact_pct(kpis)
    project["gain_share"] = _gain_share(project)
    project["delivery_date_contested"] = delivery_contested
    project["realised_benefit_contested"] = benefit_contested
    return project


def _page_number(query: dict) -> int:
    try:
        return max(1, int(query.get("page", ["1"])[0]))
    except ValueError:
        return 1


def _page_url(environ, page: int, size: int) -> str | None:
    if page < 1:
        return None
    host = environ.get("HTTP_HOST", "localhost")
    query = f"page_size={size}" if page == 1 else f"page={page}&page_size={size}"
    return f"http://{host}/api/v1/projects/?{query}"


def _answer(start_response, status: str, payload) -> list[bytes]:
    body = orjson.dumps(payload)
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def projects_application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    detail = DETAIL_PATH.match(path)
    if detail:
        with _cursor() as cursor:
            cursor.execute(PROJECT_SQL.format(where=DETAIL_WHERE), [int(detail[1]), 1, 0])
            row = cursor.fetchone()
        if row is None:
            return _answer(start_response, "404 Not Found", {"detail": "Not found."})
        return _answer(start_response, "200 OK", _project(row))
    if path != "/api/v1/projects/":
        return _answer(start_response, "404 Not Found", {"detail": "Not found."})
    query_string = environ.get("QUERY_STRING", "")
    size, page = page_size(query_string), _page_number(parse_qs(query_string))
    with _cursor() as cursor:
        cursor.execute(PROJECT_SQL.format(where=LIST_WHERE), [size, (page - 1) * size])
        rows = cursor.fetchall()
    count = rows[0][-1] if rows else 0
    has_more = page * size < count
    return _answer(
        start_response,
        "200 OK",
        {
            "count": count,
            "next": _page_url(environ, page + 1, size) if has_more else None,
            "previous": _page_url(environ, page - 1, size),
            "has_more": has_more,
            "reset": False,
            "results": [_project(row) for row in rows],
        },
    )
