"""The Imports pages: upload → dry-run table → confirm → done; history; templates; rights."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from imports.models import ImportJob
from kpis.models import Measurement
from tests.imports import conftest as imports_fixtures
from tests.imports.conftest import csv_bytes

pytestmark = pytest.mark.django_db
tracked = imports_fixtures.tracked  # the imports tests' project with a tracked KPI

CONTENT = csv_bytes(
    "external_id,project_kpi,measured_on,value", "M-1,PK-1,2026-01-31,61", "M-2,PK-1,2026-02-28,=1+1"
)


def post_upload(client, content=CONTENT, name="readings.csv", mode="skip_invalid"):
    return client.post(
        reverse("import-list"),
        {"file": SimpleUploadedFile(name, content), "record_type": "measurements", "mode": mode},
    )


def test_upload_dry_run_confirm_and_history(
    client, account_manager, tracked, django_capture_on_commit_callbacks
):
    client.force_login(account_manager)
    page = client.get(reverse("import-list"))
    assert page.status_code == 200
    assert b"download the template" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = post_upload(client)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("import-detail", args=[job.pk])
    detail = client.get(response.url).content.decode()
    assert "Dry run done: nothing has been written." in detail
    assert "would be created" in detail
    assert "value: a formula, not a value" in detail
    assert Measurement.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import-confirm", args=[job.pk]))
    detail = client.get(reverse("import-detail", args=[job.pk])).content.decode()
    assert "Imported." in detail and "1 created" in detail
    assert Measurement.objects.count() == 1

    history = client.get(reverse("import-list")).content.decode()
    assert "readings.csv" in history and "rejected rows (CSV)" in history
    rejected = client.get(reverse("import-rejected-csv", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(rejected.content.decode())))
    assert rows[1][3] == "'=1+1" and rows[1][4] == "value: a formula, not a value"


def test_progress_fragment_polls_until_finished(client, account_manager, tracked):
    client.force_login(account_manager)
    post_upload(client)  # no commit callbacks in this test: the job stays queued
    job = ImportJob.objects.get()
    fragment = client.get(
        reverse("import-detail", args=[job.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-trigger="every 1s"' in fragment and "</span> of ? rows" in fragment
    assert "<html" not in fragment
    ImportJob.objects.filter(pk=job.pk).update(status="running", total=10, processed=4)
    fragment = client.get(
        reverse("import-detail", args=[job.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert '<progress max="10" value="4">' in fragment
    ImportJob.objects.filter(pk=job.pk).update(status="dry_run_done", processed=10)
    fragment = client.get(
        reverse("import-detail", args=[job.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "hx-trigger" not in fragment


def test_bad_files_are_form_errors(client, account_manager, settings):
    client.force_login(account_manager)
    response = post_upload(client, content=b"\x89PNG\r\n\x1a\n\x00\x00", name="sheet.xlsx")
    assert response.status_code == 400
    assert "neither CSV nor XLSX" in response.content.decode()
    settings.IMPORT_MAX_FILE_BYTES = 10
    response = post_upload(client)
    assert response.status_code == 400 and "over the limit of 10 bytes" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_templates_download_per_record_type(client, account_manager):
    client.force_login(account_manager)
    response = client.get(reverse("import-template", args=["projects"]))
    assert response["Content-Disposition"] == 'attachment; filename="projects-template.csv"'
    header = next(csv.reader(io.StringIO(response.content.decode())))
    assert header[:3] == ["external_id", "relationship", "title"]
    assert client.get(reverse("import-template", args=["widgets"])).status_code == 404


def test_rights_and_scoping(client, account_manager, other_account_manager, executive, tracked):
    client.force_login(executive)
    assert client.get(reverse("import-list")).status_code == 403
    client.force_login(account_manager)
    post_upload(client)
    job = ImportJob.objects.get()
    client.force_login(other_account_manager)
    assert client.get(reverse("import-detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("import-rejected-csv", args=[job.pk])).status_code == 404
    assert b"readings.csv" not in client.get(reverse("import-list")).content


def _many_imports(user, count: int) -> None:
    ImportJob.objects.bulk_create(
        ImportJob(
            created_by=user,
            record_type="measurements",
            file_name=f"file-{n}.csv",
            file_format="csv",
            file_size=3,
            content=b"a,b",
            status="done",
            rejected=n % 2,
        )
        for n in range(count)
    )


@pytest.mark.parametrize("count", [3, 30])
def test_the_history_reads_in_a_fixed_number_of_queries(
    client, admin_user, count, django_assert_max_num_queries
):
    client.force_login(admin_user)
    _many_imports(admin_user, count)
    client.get(reverse("import-list"))  # warm the session and the role lookups
    with django_assert_max_num_queries(12):
        response = client.get(reverse("import-list"))
    assert response.content.decode().count("file-") == min(count, 25)


@pytest.mark.parametrize("count", [3, 30])
def test_the_import_list_endpoint_reads_in_a_fixed_number_of_queries(
    admin_user, count, django_assert_max_num_queries
):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(admin_user)
    _many_imports(admin_user, count)
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/imports/")
    assert response.status_code == 200 and response.json()["count"] == count


def test_an_account_manager_is_offered_only_the_record_types_they_may_import(client, account_manager):
    client.force_login(account_manager)
    page = client.get(reverse("import-list")).content.decode()
    assert 'value="measurements"' in page and 'value="projects"' in page
    assert 'value="organizations"' not in page and "KPI catalogue" not in page
    response = client.post(
        reverse("import-list"),
        {
            "file": SimpleUploadedFile("orgs.csv", csv_bytes("name,kind", "Acme,client")),
            "record_type": "organizations",
            "mode": "all_or_nothing",
        },
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_admin_is_offered_the_portfolio_records_too(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("import-list")).content.decode()
    assert 'value="organizations"' in page and "KPI catalogue" in page


REGISTER = csv_bytes(
    "external_id,relationship,title,kpi_1_code,kpi_1_baseline_value,kpi_1_baseline_date,"
    "kpi_2_code,kpi_2_baseline_value,kpi_2_baseline_date",
    "P-10,A with provider,Invoice matching,fill_rate,60,2026-01-31,,,",
    'P-11,A with provider,Cash forecasting,fill_rate,60,2026-01-31,fill_rate,"12,5 %",2026-01-31',
)


def test_a_register_of_projects_with_kpi_columns_in_the_browser(
    client, account_manager, tracked, django_capture_on_commit_callbacks
):
    from kpis.models import ProjectKPI
    from projects.models import InnovationProject

    client.force_login(account_manager)
    page = client.get(reverse("import-list")).content.decode()
    assert 'value="project_register"' in page and "Projects with KPI columns" in page
    assert "<code>kpi_N_baseline_value</code>" in page
    template = client.get(reverse("import-template", args=["project_register"]))
    header = next(csv.reader(io.StringIO(template.content.decode())))
    assert "kpi_1_code" in header and "kpi_2_target_value" in header

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("import-list"),
            {
                "file": SimpleUploadedFile("register.csv", REGISTER),
                "record_type": "project_register",
                "mode": "skip_invalid",
            },
        )
    job = ImportJob.objects.get()
    detail = client.get(response.url).content.decode()
    assert "would be created" in detail and "KPIs: fill_rate created" in detail
    assert "kpi_2_baseline_value: not a number: &#x27;12,5 %&#x27;" in detail
    assert not InnovationProject.objects.filter(external_id="P-10").exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import-confirm", args=[job.pk]))
    detail = client.get(reverse("import-detail", args=[job.pk])).content.decode()
    assert "Imported." in detail and "1 created" in detail and "1 rejected" in detail
    assert ProjectKPI.objects.filter(project__external_id="P-10").count() == 1
    assert not InnovationProject.objects.filter(external_id="P-11").exists()
    history = client.get(reverse("import-list")).content.decode()
    assert "register.csv" in history and "Projects with KPI columns" in history
