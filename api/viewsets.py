"""The behaviour every resource shares: scoped reads, ETags and If-Match, service writes, audit
history, bulk upsert, sync cursors. Concrete viewsets are configuration (see api.views)."""

from django.contrib.contenttypes.models import ContentType
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from api.conditional import if_none_match_hits, list_etag, not_modified
from api.errors import Conflict, RecordErrors
from api.filters import PortfolioFilterBackend, StableOrderingFilter
from api.pagination import SYNC_PARAM, StrictPageSizeMixin, SyncPagination
from api.params import CheckedQueryParamsMixin
from api.policies import LimitedJSONParser, PortfolioPermission, PortfolioThrottle
from api.renderers import PortfolioJSONRenderer
from api.rows import plan_for
from projects import bulk, sync
from projects.models import AuditEntry
from projects.records import VersionConflict

BULK_LIMIT = bulk.BULK_LIMIT


def etag(obj) -> str:
    """The strong ETag of a record: its version (scores, which have none: when computed)."""
    version = getattr(obj, "version", None)
    if version is None:
        return f'"{sync._micros(obj.computed_at)}"'
    return f'"{version}"'


# The API resource an audit entry's record belongs to, by its model (the content type's name).
AUDITED_RESOURCES = {
    "organization": "organizations",
    "relationship": "relationships",
    "innovationproject": "projects",
    "kpi": "kpis",
    "projectkpi": "project-kpis",
    "measurement": "measurements",
    "signoff": "sign-offs",
}


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    resource = serializers.SerializerMethodField(
        help_text="The resource of the record changed: a project's history also holds its KPIs' "
        "(`project-kpis`) and their measurements' (`measurements`) entries."
    )
    record_id = serializers.IntegerField(source="object_id", read_only=True, help_text="The record's id.")
    changes = serializers.DictField(
        child=serializers.DictField(), help_text='{"field": {"before": …, "after": …}}', read_only=True
    )

    class Meta:
        model = AuditEntry
        fields = ["at", "action", "actor", "resource", "record_id", "version", "changes"]
        read_only_fields = fields

    def get_resource(self, entry) -> str:
        return AUDITED_RESOURCES.get(entry.content_type.model, entry.content_type.model)


class HistoryPagination(StrictPageSizeMixin, PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class BulkUpsertSerializer(serializers.Serializer):
    records = serializers.ListField(
        child=serializers.DictField(),
        max_length=BULK_LIMIT,
        help_text=f"Up to {BULK_LIMIT} records keyed by external_id.",
    )


class BulkRecordResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField()
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class BulkUpsertResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    results = BulkRecordResultSerializer(many=True)


# Per viewset class: whether its serializer's row plan reads its queryset's columns (a field whose
# source is a model property cannot be read as a value). Fixed by the code, so decided once.
_READS_COLUMNS: dict[type, bool] = {}


def if_match_version(request, instance) -> int | None:
    """The version a request's If-Match names (None without the header or with `*`); a version
    other than the record's raises VersionConflict (412)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):  # proxies weaken ETags; the version is what counts
            tag = tag[2:]
        if (
            len(tag) >= 2
            and tag[0] == tag[-1] == '"'
            and tag[1:-1].isascii()
            and tag[1:-1].isdigit()
            and len(tag) < 20
        ):
            versions.add(int(tag[1:-1]))
    if instance.version not in versions:
        raise VersionConflict(instance)
    # The service re-checks this version under a row lock: check and write are one step.
    return instance.version


class PortfolioReadViewSet(
    CheckedQueryParamsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Scoped lists and objects with ETags and sync cursors."""

    model = None
    scoped = True  # False for reference data every signed-in user reads (the KPI catalogue)
    permission_classes = [PortfolioPermission]
    throttle_classes = [PortfolioThrottle]
    parser_classes = [LimitedJSONParser]
    renderer_classes = [PortfolioJSONRenderer]
    pagination_class = SyncPagination
    filter_backends = [PortfolioFilterBackend, StableOrderingFilter]
    ordering_fields = ["id", "created_at", "updated_at"]
    ordering = ["id"]
    # Any path segment routes here, so that a malformed id answers the JSON 404 (see get_object).
    lookup_value_regex = r"[^/]+"

    # --- reads --------------------------------------------------------------------------------

    def base_queryset(self, *, user, include_deleted: bool):
        raise NotImplementedError

    def is_sync_request(self) -> bool:
        params = self.request.query_params
        return SYNC_PARAM in params or "updated_since" in params

    def get_queryset(self):
        # Object routes and sync see tombstones; a plain list shows live records.
        include_deleted = self.action != "list" or self.is_sync_request()
        return self.base_queryset(user=self.request.user, include_deleted=include_deleted)

    def sync_source(self):
        return sync.StampSyncSource()

    def sync_scope(self) -> str:
        return sync.scope_fingerprint(self.request.user, scoped=self.scoped)

    def throttle_scope_for(self, request) -> str:
        if self.action == "bulk":
            return "bulk"
        if self.action == "list" and (
            SYNC_PARAM in request.query_params or "updated_since" in request.query_params
        ):
            return "sync"
        return "api"

    def get_object(self):
        value = str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, ""))
        if not (value.isascii() and value.isdigit() and 0 < int(value) < 2**63):
            raise exceptions.NotFound()
        return super().get_object()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            self.action == "list"
            and request.method == "GET"
            and response.status_code == 200
            and isinstance(response.data, dict)
        ):
            tag = list_etag(response.data)
            if if_none_match_hits(request, tag):
                return super().finalize_response(request, not_modified(tag), *args, **kwargs)
            response["ETag"] = tag
        return response

    # Lists and objects of this resource are read as rows (api.rows): set where a test compares
    # both outputs (tests/api/test_row_reads.py), since method fields may read anything a record has.
    row_reads = False
    # Set while a list or object is read as rows: base_queryset may leave out what only records
    # read (a prefetch).
    reading_rows = False

    # Lists and objects are read as rows and shown through the serializer's row plan (api.rows)
    # where the plan can be derived; the serializer stays the definition (and the schema).
    def row_plan(self):
        serializer_class = self.get_serializer_class()
        if (
            not self.row_reads
            or serializer_class is not self.serializer_class
            or _READS_COLUMNS.get(type(self)) is False
        ):
            return None
        return plan_for(serializer_class)

    def plan_reads(self, plan, queryset) -> bool:
        """Whether the plan reads this resource's queryset (known after the first read)."""
        reads = _READS_COLUMNS.get(type(self))
        if reads is None:
            reads = _READS_COLUMNS[type(self)] = plan.reads_columns_of(queryset)
        return reads

    def row_lookups(self) -> tuple[str, ...]:
        """What the serializer's method fields read besides its fields (`values()` lookups)."""
        return ()

    def attach_to_rows(self, rows: list) -> None:
        """Add to each row what the method fields read that no lookup gives (the projects' KPIs)."""

    def represent_rows(self, plan, rows: list) -> list[dict]:
        self.attach_to_rows(rows)
        return plan.represent(rows, context=self.get_serializer_context())

    def read_rows(self, plan, queryset):
        lookups = self.row_lookups()
        if self.is_sync_request():
            lookups = (*lookups, self.sync_source().field)  # the cursor reads the row's stamp
        return plan.rows(queryset, *lookups)

    def list(self, request, *args, **kwargs):
        plan = self.row_plan()
        self.reading_rows = plan is not None
        queryset = self.filter_queryset(self.get_queryset())
        if plan is not None and not self.plan_reads(plan, queryset):
            plan, self.reading_rows = None, False
            queryset = self.filter_queryset(self.get_queryset())
        if plan is None:
            page = self.paginate_queryset(queryset)
            if page is None:
                return Response(self.get_serializer(queryset, many=True).data)
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        rows = self.read_rows(plan, queryset)
        page = self.paginate_queryset(rows)
        if page is None:
            return Response(self.represent_rows(plan, list(rows)))
        return self.get_paginated_response(self.represent_rows(plan, list(page)))

    def get_row(self, plan):
        """`get_object` as a row: the same lookup checks, scope, filters and object permissions
        (None where the plan cannot read this queryset's columns)."""
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        value = str(self.kwargs.get(lookup_url_kwarg, ""))
        if not (value.isascii() and value.isdigit() and 0 < int(value) < 2**63):
            raise exceptions.NotFound()
        self.reading_rows = True
        queryset = self.filter_queryset(self.get_queryset())
        if not self.plan_reads(plan, queryset):
            self.reading_rows = False
            return None
        rows = self.read_rows(plan, queryset)
        try:
            row = rows.get(**{self.lookup_field: int(value)})
        except rows.model.DoesNotExist:
            raise Http404 from None
        self.check_object_permissions(self.request, row)
        return row

    def retrieve(self, request, *args, **kwargs):
        plan = self.row_plan()
        obj = self.get_row(plan) if plan is not None else None
        if obj is None:
            plan, obj = None, self.get_object()
        if if_none_match_hits(request, etag(obj)):
            return not_modified(etag(obj))
        if plan is None:
            return self.object_response(obj)
        return Response(self.represent_rows(plan, [obj])[0], headers={"ETag": etag(obj)})

    def object_response(self, obj, *, status_code=status.HTTP_200_OK, headers=None):
        data = self.get_serializer(obj).data
        return Response(data, status=status_code, headers={"ETag": etag(obj), **(headers or {})})


class PortfolioViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, PortfolioReadViewSet
):
    """Read and write: every write through the app's services, with If-Match checks."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    # The record type's create/update/delete services (a projects.records.RecordServices).
    services = None

    # --- writes ---------------------------------------------------------------------------------

    def reload(self, obj):
        """The object as a response shows it (annotations and computed values included)."""
        return self.base_queryset(user=self.request.user, include_deleted=True).get(pk=obj.pk)

    def expected_version(self, instance) -> int | None:
        return if_match_version(self.request, instance)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self.services.create_from(actor=request.user, values=serializer.validated_data)
        obj = self.reload(obj)
        location = request.build_absolute_uri(f"{obj.pk}/")
        return self.object_response(obj, status_code=status.HTTP_201_CREATED, headers={"Location": location})

    def update(self, request, *args, partial=False, **kwargs):
        instance = self.get_object()
        if instance.deleted_at is not None:
            raise Conflict("This record has been deleted; it can no longer change.")
        # The body is checked first: a malformed request is a 400 whatever the ETag it names.
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        expected = self.expected_version(instance)
        obj = self.services.update_from(
            actor=request.user,
            instance=instance,
            values=serializer.validated_data,
            expected_version=expected,
        )
        return self.object_response(self.reload(obj))

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        expected = self.expected_version(instance)
        self.services.delete_record(actor=request.user, instance=instance, expected_version=expected)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- history --------------------------------------------------------------------------------

    @extend_schema(
        summary="Audit history of the record",
        description="Who changed what and when, newest first, with values before and after. A "
        "project's history also holds the entries of its tracked KPIs and their measurements, as "
        "the project page shows it.",
        responses=AuditEntrySerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"], pagination_class=HistoryPagination, filter_backends=[])
    def history(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.history_entries(self.get_object()))
        return self.get_paginated_response(AuditEntrySerializer(page, many=True).data)

    def history_entries(self, obj):
        """The record's own audit entries, newest first (a project's viewset adds its children's)."""
        return (
            AuditEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(self.model, for_concrete_model=True),
                object_id=obj.pk,
            )
            .select_related("actor", "content_type")
            .order_by("-at", "-id")
        )

    # --- bulk upsert ----------------------------------------------------------------------------

    @extend_schema(
        summary="Create or update up to 1,000 records by external_id, all or nothing",
        description=(
            "Each record is keyed by its `external_id`: an existing record (in your scope) is updated "
            "with the fields given, a new key creates a record. Related records may be named by id "
            "(number) or external_id (string). Either every record is written or none: invalid records, "
            "duplicate keys or more than 1,000 records answer 4xx naming each offending record. "
            "Replaying a batch changes nothing (`unchanged`, no new version, no audit entry)."
        ),
        request=BulkUpsertSerializer,
        responses={200: BulkUpsertResultSerializer},
        filters=False,
    )
    @action(detail=False, methods=["post"], url_path="bulk", pagination_class=None, filter_backends=[])
    def bulk(self, request, *args, **kwargs):
        records = request.data.get("records") if isinstance(request.data, dict) else None
        if not isinstance(records, list):
            raise serializers.ValidationError({"records": ['Send {"records": [...]}, a list of records.']})
        unknown = sorted(str(key) for key in request.data if key != "records")
        if unknown:  # a misspelt option must not be ignored silently
            raise serializers.ValidationError(
                {key: ['Unknown field; send only {"records": [...]}.'] for key in unknown}
            )
        if len(records) > BULK_LIMIT:
            raise RecordErrors(
                [
                    _record_error(
                        index, record, {"non_field_errors": [f"Over the limit of {BULK_LIMIT} records."]}
                    )
                    for index, record in enumerate(records)
                    if index >= BULK_LIMIT
                ],
                status_code=413,
                detail=f"At most {BULK_LIMIT} records per request; this one has {len(records)}.",
                code="too_many_records",
            )
        spec = bulk.spec_of_model(self.model)
        if spec is None:  # a resource whose records have no bulk record type
            raise exceptions.MethodNotAllowed(request.method)
        return self._bulk_upsert(spec, records)

    def _bulk_upsert(self, spec, records):
        """The set-based write path shared with imports (projects.bulk); this only shapes the answer."""
        outcome = bulk.upsert(actor=self.request.user, record_type=spec.record_type, records=records)
        if outcome.problems:
            errors = [
                _record_error(index, records[index], problems)
                for index, problems in sorted(outcome.problems.items())
            ]
            if outcome.key_problems:
                raise RecordErrors(
                    errors,
                    detail=f"{len(errors)} of {len(records)} records have a missing or duplicate key; "
                    "nothing was written.",
                )
            only_conflicts = set(outcome.problems) <= outcome.conflicts
            raise RecordErrors(
                errors,
                status_code=409 if only_conflicts else 400,
                detail=f"{len(errors)} of {len(records)} records cannot be written; nothing written.",
                code="conflict" if only_conflicts else "invalid_records",
            )
        return Response({**outcome.counts, "results": outcome.results})


def _record_error(index: int, record, errors: dict) -> dict:
    key = record.get("external_id") if isinstance(record, dict) else None
    return {"index": index, "external_id": key if isinstance(key, str) else None, "errors": errors}
