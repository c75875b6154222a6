"""Spreadsheet imports in the browser: upload (always a dry run first), the dry-run table,
confirm, live progress, the history, the templates and the rejected-rows file."""

import contextlib

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from imports import selectors, services
from imports.records import SPECS
from imports.templates import template_csv, template_notes
from web.forms.imports import ImportForm


def _allowed(request) -> None:
    if not services.can_import(request.user):
        raise PermissionDenied("Only admins and account managers import data.")


def _job(request, pk: int, *heavy: str):
    job = selectors.import_get(user=request.user, pk=pk, heavy=heavy)
    if job is None:
        raise Http404("No such import.")
    return job


@login_required
def import_list(request):
    _allowed(request)
    record_types = services.record_types_for(request.user)
    form = ImportForm(request.POST or None, request.FILES or None, record_types=record_types)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > services.max_file_bytes():
                raise services.FileTooLarge(upload.size, services.max_file_bytes())
            job = services.import_create(
                actor=request.user,
                file_name=upload.name,
                content=upload.read(),
                record_type=form.cleaned_data["record_type"],
                dry_run=True,
                mode=form.cleaned_data["mode"],
            )
        except services.FileTooLarge as error:
            form.add_error("file", str(error))
        except PermissionDenied as error:  # organisations and the KPI catalogue: admins only
            form.add_error("record_type", str(error))
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            return redirect("import-detail", pk=job.pk)
    page = Paginator(selectors.import_list(user=request.user), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "web/imports/import_list.html",
        {
            "form": form,
            "page": page,
            "jobs": page.object_list,
            "specs": [(spec.key, spec.label, template_notes(spec.key)) for spec in record_types],
            "max_mib": services.max_file_bytes() / 1024 / 1024,
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


@login_required
def import_detail(request, pk: int):
    _allowed(request)
    job = _job(request, pk, "row_results", "errors")
    template = "web/imports/_progress.html" if request.htmx else "web/imports/import_detail.html"
    return render(request, template, {"job": job})


@login_required
@require_POST
def import_confirm(request, pk: int):
    _allowed(request)
    job = _job(request, pk)
    # Already confirmed, or not a finished dry run: the page shows where it stands.
    with contextlib.suppress(ValidationError):
        services.import_confirm(actor=request.user, job=job)
    return redirect("import-detail", pk=job.pk)


@login_required
def import_rejected_csv(request, pk: int):
    _allowed(request)
    job = _job(request, pk, "rejected_csv")
    if not job.rejected_csv:
        raise Http404("This import rejected no rows.")
    response = HttpResponse(job.rejected_csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
    return response


@login_required
def import_template(request, record_type: str):
    _allowed(request)
    if record_type not in SPECS:
        raise Http404("No such record type.")
    response = HttpResponse(template_csv(record_type), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{record_type}-template.csv"'
    return response
