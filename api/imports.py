"""Spreadsheet imports (`/api/v1/imports/`): upload a file (multipart) for a dry run or an import,
follow its progress, confirm a finished dry run. The work is `imports.services`'s, the same as the
browser's Imports page."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api.errors import PayloadTooLarge
from api.policies import PortfolioThrottle
from api.viewsets import HistoryPagination
from imports import selectors, services
from imports.models import ImportJob
from imports.records import RECORD_TYPE_CHOICES


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(
        help_text="The row number as the spreadsheet shows it (the header is row 1)."
    )
    column = serializers.CharField(help_text="The column (field name), or `row` for the row as a whole.")
    message = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    processed = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Data rows in the file (0 until it has been counted).")


class CountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()


class ImportSummarySerializer(serializers.ModelSerializer):
    """An import in the list: everything but its per-row errors (read one import for those)."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "record_type",
            "file_name",
            "file_size",
            "dry_run",
            "mode",
            "status",
            "message",
            "progress",
            "counts",
            "unknown_columns",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "confirmed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job) -> dict:
        return {"processed": job.processed, "total": job.total}

    @extend_schema_field(CountsSerializer)
    def get_counts(self, job) -> dict:
        return {
            "created": job.created,
            "updated": job.updated,
            "unchanged": job.unchanged,
            "rejected": job.rejected,
        }


class ImportJobSerializer(ImportSummarySerializer):
    errors = ImportErrorSerializer(
        many=True,
        read_only=True,
        help_text="Per-cell problems of rejected rows (the first 10,000; the rejected-rows file has all).",
    )

    class Meta(ImportSummarySerializer.Meta):
        fields = [*ImportSummarySerializer.Meta.fields, "errors"]
        read_only_fields = fields


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A CSV (UTF-8, `,` or `;`) or XLSX file; the first sheet is read.")
    record_type = serializers.ChoiceField(choices=RECORD_TYPE_CHOICES)
    dry_run = serializers.BooleanField(default=True, help_text="True (the default): report, write nothing.")
    mode = serializers.ChoiceField(choices=ImportJob.Mode.choices, default=ImportJob.Mode.ALL_OR_NOTHING)


class ImportAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField(help_text="Where to follow the import.")


class ImportPermission(IsAuthenticated):
    message = "Only admins and account managers import data."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and services.can_import(request.user)


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Imports you started (an admin sees everyone's), newest first."""

    permission_classes = [ImportPermission]
    throttle_classes = [PortfolioThrottle]
    throttle_scope = "bulk"
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]
    pagination_class = HistoryPagination
    serializer_class = ImportJobSerializer
    filter_backends = []
    lookup_value_regex = r"[0-9]{1,18}"

    def get_serializer_class(self):
        return ImportSummarySerializer if self.action == "list" else ImportJobSerializer

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.import_list(user=self.request.user).defer(None).defer("content", "rejected_csv")
        return selectors.import_list(user=self.request.user)

    def _accepted(self, job) -> Response:
        return Response(
            {"id": job.pk, "status": job.status, "url": f"/api/v1/imports/{job.pk}/"},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        summary="Upload a spreadsheet to dry-run or import",
        description=(
            "Multipart form: `file`, `record_type`, `dry_run` (default true), `mode` (`all_or_nothing`, "
            "the default, or `skip_invalid`). Answers 202 with the import's id; follow it at "
            "`GET /api/v1/imports/{id}/`. An empty file or one that is neither CSV nor XLSX is 400; a "
            "file over the size limit is 413 naming the limit."
        ),
        request={"multipart/form-data": ImportCreateSerializer},
        responses={202: ImportAcceptedSerializer},
    )
    def create(self, request, *args, **kwargs):
        upload = request.FILES.get("file")
        if upload is not None and upload.size > services.max_file_bytes():
            raise _too_large(services.FileTooLarge(upload.size, services.max_file_bytes()))
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        try:
            job = services.import_create(
                actor=request.user,
                file_name=upload.name,
                content=upload.read(),
                record_type=data.validated_data["record_type"],
                dry_run=data.validated_data["dry_run"],
                mode=data.validated_data["mode"],
            )
        except services.FileTooLarge as error:
            raise _too_large(error) from error
        except PermissionDenied as error:
            raise exceptions.PermissionDenied(str(error)) from error
        return self._accepted(job)

    @extend_schema(
        summary="Import the file of a finished dry run",
        description="The dry run's file is imported with its mode. 202 with the import's id (the same); "
        "400 when the import is not a finished dry run.",
        request=None,
        responses={202: ImportAcceptedSerializer},
    )
    @action(detail=True, methods=["post"], parser_classes=[parsers.JSONParser])
    def confirm(self, request, *args, **kwargs):
        job = self.get_object()
        return self._accepted(services.import_confirm(actor=request.user, job=job))


def _too_large(error: "services.FileTooLarge") -> PayloadTooLarge:
    problem = PayloadTooLarge(str(error))
    problem.max_body_bytes = error.limit
    return problem
