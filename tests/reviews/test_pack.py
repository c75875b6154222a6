"""The QBR pack: its figures are the API's, it is scoped like the API, it stays as it was stored."""

import hashlib
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from kpis.models import RelationshipScore
from presentation import formatting
from projects.models import ProcessArea
from reviews import tasks
from reviews.models import ReviewPack
from reviews.quarters import Quarter
from tests.factories import ClientFactory, RelationshipFactory
from tests.reviews.conftest import pdf_to_pngs

pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    """The PDF's text, whitespace collapsed (table cells come out separated by spaces or lines)."""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def get_pack(client, relationship, quarter):
    return client.get(f"/api/v1/relationships/{relationship.pk}/qbr/?quarter={quarter.code}")


def test_pack_figures_are_the_apis(reviewed, quarter, executive, api_as):
    client = api_as(executive)
    relationship = reviewed["relationship"]
    response = get_pack(client, relationship, quarter)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Checksum-SHA256"] == hashlib.sha256(response.content).hexdigest()
    text = text_of(response.content)

    scores = client.get(
        f"/api/v1/scores/?relationship={relationship.pk}&period_from={quarter.first_day}&period_to={quarter.last_day}"
    ).json()["results"]
    assert [row["period"] for row in scores] == [month.isoformat() for month in quarter.months]
    for row in scores:  # each month of the quarter: score and components
        assert formatting.score(row["score"]) in text
    last = scores[-1]
    assert f"Score, {formatting.month(quarter.last_month)} {formatting.score(last['score'])}" in text
    components = " ".join(
        formatting.component(last["components"][name])
        for name in ("impact", "attainment", "realisation", "continuity")
    )
    assert formatting.component(last["components"]["impact"]) in text
    for name in ("impact", "attainment", "realisation", "continuity"):
        assert f"{name.title()} {formatting.component(last['components'][name])}" in text, components
    # Why this score: each counted project's impact and each KPI's improvement, as the API has them.
    projects = last["inputs"]["impact"]["projects"]
    assert {project["title"] for project in projects} == {"Vendor management", "Forecasting tools"}
    for project in projects:
        assert project["title"] in text
        assert f"impact {formatting.improvement(project['impact_pct'])}" in text
        for kpi in project["kpis"]:
            assert formatting.improvement(kpi["improvement_pct"]) in text
    # Benefits: the gain-share the API computes for the project.
    api_project = client.get(f"/api/v1/projects/{reviewed['in_quarter'].pk}/").json()
    assert api_project["gain_share"] == "162500.00"  # 25 % × (1,050,000 − 400,000)
    assert formatting.money(api_project["gain_share"], relationship.currency) in text
    # The cover, the pipeline, the page numbers and the footer.
    assert "Northwind Aerospace" in text and "Ada Ortiz (client) and Ben Okafor (provider)" in text
    assert "Spend analytics" in text and "page 1 of" in text and f"review {quarter.label}" in text
    pages = pdf_to_pngs(response.content, f"qbr-pack-{quarter.code}")
    assert [page.name for page in pages] == [
        f"qbr-pack-{quarter.code}-1.png",
        f"qbr-pack-{quarter.code}-2.png",
    ]


def test_another_tenants_pack_is_a_404(reviewed, quarter, account_manager, client_viewer_a, api_as, client):
    outsider = RelationshipFactory()
    assert get_pack(api_as(account_manager), outsider, quarter).status_code == 404
    assert get_pack(api_as(client_viewer_a), reviewed["relationship"], quarter).status_code == 404
    assert get_pack(api_as(None), reviewed["relationship"], quarter).status_code == 401
    client.force_login(account_manager)
    assert client.get(reverse("relationship-qbr", args=[outsider.pk])).status_code == 404
    page = client.get(
        reverse("relationship-qbr", args=[reviewed["relationship"].pk]), {"quarter": quarter.code}
    )
    assert page.status_code == 200 and page["Content-Type"] == "application/pdf"
    assert page.content.startswith(b"%PDF")


def test_bad_or_unfinished_quarters_are_refused(reviewed, quarter, executive, api_as):
    client = api_as(executive)
    relationship = reviewed["relationship"]
    for code in ("2026Q5", "Q3-2026", ""):
        response = client.get(f"/api/v1/relationships/{relationship.pk}/qbr/?quarter={code}")
        assert response.status_code == 400, code
        assert response.json()["errors"]["quarter"][0].startswith("Give a quarter as YYYYQn")
    current = quarter.shifted(1)
    response = client.get(f"/api/v1/relationships/{relationship.pk}/qbr/?quarter={current.code}")
    assert response.status_code == 400
    assert "has not ended yet" in response.json()["errors"]["quarter"][0]
    # An error answers in JSON even to a client that asked only for PDF.
    response = client.get(
        f"/api/v1/relationships/{relationship.pk}/qbr/?quarter=nope", HTTP_ACCEPT="application/pdf"
    )
    assert response.status_code == 400 and response.json()["status"] == 400


def test_small_cohort_shows_no_benchmark_in_the_pack(reviewed, quarter, executive, api_as):
    area = ProcessArea.objects.get_or_create(code="claims", defaults={"name": "Claims"})[0]
    relationship = reviewed["relationship"]
    relationship.process_areas.set([area])
    for value in ("30", "45", "70"):
        peer = RelationshipFactory(client=ClientFactory())
        peer.process_areas.set([area])
        RelationshipScore.objects.create(
            relationship=peer, period=quarter.last_month, score=Decimal(value), tier="steady"
        )
    text = text_of(get_pack(api_as(executive), relationship, quarter).content)
    assert f"No benchmark: fewer than 5 relationships or 3 clients cover {area.name}" in text
    assert "percentile" not in text
    peer = RelationshipFactory(client=ClientFactory())
    peer.process_areas.set([area])
    RelationshipScore.objects.create(
        relationship=peer, period=quarter.last_month, score=Decimal("90"), tier="high_performing"
    )
    benchmark = (
        api_as(executive)
        .get(f"/api/v1/relationships/{relationship.pk}/benchmark/?month={quarter.last_month:%Y-%m}")
        .json()["areas"][0]
    )
    text = text_of(get_pack(api_as(executive), relationship, quarter).content)
    assert f"{formatting.ordinal(benchmark['percentile'])} percentile" in text
    assert (
        f"median {formatting.score(benchmark['median'])}" in text
        and f"cohort of {benchmark['cohort_size']}" in text
    )


def test_quarterly_job_stores_each_pack_once_and_serves_it_unchanged(reviewed, quarter, executive, api_as):
    other = RelationshipFactory(status="ended")
    assert tasks.generate_quarter_packs.apply(kwargs={"quarter": quarter.code}).get() == 1
    stored = ReviewPack.objects.get()
    assert (stored.relationship_id, stored.quarter, stored.pages) == (
        reviewed["relationship"].pk,
        quarter.code,
        stored.pages,
    )
    assert stored.sha256 == hashlib.sha256(bytes(stored.pdf)).hexdigest() and stored.pages >= 3
    assert not ReviewPack.objects.filter(relationship=other).exists()  # only active relationships
    assert tasks.generate_quarter_packs.apply(kwargs={"quarter": quarter.code}).get() == 0  # idempotent
    # The figures change afterwards; the pack an executive saw is fetched again byte for byte.
    RelationshipScore.objects.filter(relationship=reviewed["relationship"]).update(score=Decimal("99"))
    response = get_pack(api_as(executive), reviewed["relationship"], quarter)
    assert response.content == bytes(stored.pdf)
    assert response["ETag"] == f'"{stored.sha256}"'
    # Another quarter, not stored, is rendered from today's data.
    earlier = get_pack(api_as(executive), reviewed["relationship"], quarter.shifted(-1))
    assert earlier.status_code == 200 and earlier.content != bytes(stored.pdf)


def test_quarters_parse_and_shift():
    quarter = Quarter.parse("2026Q3")
    assert (quarter.first_day.isoformat(), quarter.last_day.isoformat()) == ("2026-07-01", "2026-09-30")
    assert quarter.shifted(2).code == "2027Q1" and quarter.shifted(-3).code == "2025Q4"
    assert Quarter.last_complete(quarter.first_day).code == "2026Q2"
    with pytest.raises(ValueError, match="YYYYQn"):
        Quarter.parse("2026Q0")
