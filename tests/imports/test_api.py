"""The import API in-process: 202 and the id, progress and errors, confirm, limits, rights."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from imports.models import ImportJob
from kpis.models import Measurement
from tests.imports.conftest import csv_bytes

pytestmark = pytest.mark.django_db

CONTENT = csv_bytes(
    "external_id,project_kpi,measured_on,value", "M-1,PK-1,2026-01-31,61", "M-2,PK-1,2026-02-28,oops"
)


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def upload(client, content=CONTENT, name="readings.csv", **fields):
    data = {"file": SimpleUploadedFile(name, content), "record_type": "measurements", **fields}
    return client.post("/api/v1/imports/", data, format="multipart")


def test_upload_answers_202_and_the_import_reports_progress_counts_and_errors(
    account_manager, tracked, django_capture_on_commit_callbacks
):
    client = client_for(account_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, mode="skip_invalid")
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    assert response.json()["url"] == f"/api/v1/imports/{job_id}/"
    body = client.get(f"/api/v1/imports/{job_id}/").json()
    assert body["status"] == "dry_run_done" and body["dry_run"] is True
    assert body["progress"] == {"processed": 2, "total": 2}
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert body["errors"] == [{"row": 3, "column": "value", "message": "not a number: 'oops'"}]
    assert Measurement.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(f"/api/v1/imports/{job_id}/confirm/")
    assert confirmed.status_code == 202
    body = client.get(f"/api/v1/imports/{job_id}/").json()
    assert (body["status"], body["dry_run"], body["counts"]["created"]) == ("done", False, 1)
    assert list(Measurement.objects.values_list("external_id", flat=True)) == ["M-1"]
    again = client.post(f"/api/v1/imports/{job_id}/confirm/")
    assert again.status_code == 400
    listed = client.get("/api/v1/imports/").json()
    assert [item["id"] for item in listed["results"]] == [job_id]


def test_bad_uploads_get_a_clear_4xx_and_write_nothing(account_manager, tracked, settings):
    client = client_for(account_manager)
    empty = upload(client, content=b"")
    assert empty.status_code == 400
    png = upload(client, content=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", name="sheet.xlsx")
    assert png.status_code == 400 and "neither CSV nor XLSX" in png.json()["errors"]["file"][0]
    assert upload(client, record_type="widgets").status_code == 400
    assert upload(client, mode="sometimes").status_code == 400
    settings.IMPORT_MAX_FILE_BYTES = 50
    too_big = upload(client)
    assert too_big.status_code == 413
    assert too_big.json()["max_body_bytes"] == 50
    assert "over the limit of 50 bytes" in too_big.json()["detail"]
    assert ImportJob.objects.count() == 0


def test_a_body_over_the_file_limit_is_refused_before_it_is_read(account_manager, settings):
    settings.IMPORT_MAX_FILE_BYTES = 1000
    client = client_for(account_manager)
    response = client.generic(
        "POST", "/api/v1/imports/", b"x" * 70_000, content_type="multipart/form-data; boundary=zz"
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The file is over the limit of 1,000 bytes")


def test_only_importers_and_only_their_own_imports(
    account_manager, other_account_manager, executive, tracked
):
    assert upload(client_for(executive)).status_code == 403
    response = upload(client_for(account_manager))
    job_id = response.json()["id"]
    assert client_for(other_account_manager).get(f"/api/v1/imports/{job_id}/").status_code == 404
    assert client_for(other_account_manager).post(f"/api/v1/imports/{job_id}/confirm/").status_code == 404
    assert APIClient().get(f"/api/v1/imports/{job_id}/").status_code == 401


REGISTER = csv_bytes(
    "external_id,relationship,title,kpi_1_code,kpi_1_baseline_value,kpi_1_baseline_date,"
    "kpi_2_code,kpi_2_baseline_value,kpi_2_baseline_date",
    "P-10,A with provider,Invoice matching,fill_rate,60,2026-01-31,,,",
    "P-11,A with provider,Cash forecasting,fill_rate,60,2026-01-31,fill_rate,61,2026-01-31",
)


def test_a_register_of_projects_with_kpi_columns_through_the_api(
    account_manager, tracked, django_capture_on_commit_callbacks
):
    from kpis.models import ProjectKPI
    from projects.models import InnovationProject

    client = client_for(account_manager)
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    enums = [component.get("enum") or [] for component in schema["components"]["schemas"].values()]
    assert any("project_register" in enum and "measurements" in enum for enum in enums)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, content=REGISTER, name="register.csv", record_type="project_register")
    assert response.status_code == 202, response.json()
    url = response.json()["url"]
    body = client.get(url).json()
    assert (body["status"], body["record_type"]) == ("dry_run_done", "project_register")
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert body["errors"] == [{"row": 3, "column": "kpi_2_code", "message": "the same KPI as kpi_1_code"}]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{url}confirm/").status_code == 202
    body = client.get(url).json()
    assert body["status"] == "failed"  # all or nothing
    assert body["message"] == "1 of 2 rows are invalid; nothing was imported."
    assert not InnovationProject.objects.filter(external_id__in=["P-10", "P-11"]).exists()
    assert ProjectKPI.objects.count() == 1
