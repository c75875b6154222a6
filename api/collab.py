"""The API of the two sides at the table: comments, contested figures, one's own pulse answers, the
published pulse results (aggregates only) and the contributors named on projects. Scoped, versioned
and synced like the other resources (api.viewsets); every write goes through collab's services."""

import datetime as dt

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination

from api.errors import ErrorSerializer
from api.fields import RecordField, StrictCharField
from api.filters import IdFilter, PortfolioFilterBackend, SyncedFilterSet
from api.pagination import SYNC_PARAM, StrictPageSizeMixin
from api.params import CheckedQueryParamsMixin
from api.policies import LimitedJSONParser, PortfolioThrottle
from api.serializers import SERVER_MANAGED, SYNC_FIELDS, SyncedSerializer
from api.viewsets import PortfolioViewSet
from collab import markup, pulse
from collab import selectors as collab_selectors
from collab import services as collab_services
from collab.calendar import parse_quarter, quarter_end, quarter_key
from collab.models import Comment, Contest, ProjectContributor, PulseResponse, Visibility
from kpis import selectors as kpi_selectors
from projects import access
from projects import selectors as project_selectors
from projects.models import Relationship
from projects.records import RecordServices


class ParticipantPermission(permissions.BasePermission):
    """Any signed-in person with a role may try a write here: a client viewer comments and answers
    the pulse, a contributor contests. The services decide (403 with the reason), after the object
    was found in the caller's scope (404 otherwise)."""

    message = "Your role may not do this."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or access.role_of(request.user) is not None

    def has_object_permission(self, request, view, obj):
        return True


class CollabViewSet(PortfolioViewSet):
    """Collaboration records: written by the people of both sides, not only by the writer roles."""

    permission_classes = [ParticipantPermission]
    bulk = None  # no bulk upsert: these records are written by people, one at a time


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


# --- Comments ---------------------------------------------------------------------------------


def _visible_relationships(user):
    return project_selectors.relationship_list(user=user)


def _visible_projects(user):
    return project_selectors.project_list(user=user)


def _visible_comments(user):
    return collab_selectors.comment_list(user=user)


class CommentSerializer(SyncedSerializer):
    relationship = RecordField(
        queryset_for=_visible_relationships,
        required=False,
        help_text="The relationship (id or external_id); given by the project or the thread otherwise. "
        "Needed for a comment on a month's score.",
    )
    project = RecordField(
        queryset_for=_visible_projects,
        required=False,
        allow_null=True,
        help_text="The project discussed (id or external_id), or null for a comment on a month's score.",
    )
    period = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="The month of the score discussed (any day of it), or null for a project comment.",
    )
    parent = RecordField(
        queryset_for=_visible_comments,
        required=False,
        allow_null=True,
        help_text="The comment replied to (id or external_id): the reply joins its thread.",
    )
    visibility = serializers.ChoiceField(
        choices=Visibility.choices,
        required=False,
        help_text="shared: both organisations read it; internal: only the author's side does. Fixed once "
        "posted; a reply to an internal comment is internal.",
    )
    body = StrictCharField(
        max_length=5000,
        help_text="Markdown-lite: paragraphs, lists (`- `, `1. `), links, `@username` mentions of people "
        "who can read the comment. Editable by its author for 15 minutes. Empty once deleted.",
    )
    author = serializers.SerializerMethodField(help_text="The author's username.")
    author_side = serializers.ChoiceField(choices=access.Side.choices, read_only=True)
    author_organization = serializers.SerializerMethodField(
        help_text="The organisation of the author's side."
    )
    mentions = serializers.SerializerMethodField(help_text="Usernames of the people mentioned.")
    body_html = serializers.SerializerMethodField(
        help_text="The text as safe HTML (everything else escaped)."
    )
    editable_until = serializers.SerializerMethodField(help_text="Until when its author may edit it.")

    class Meta(SyncedSerializer.Meta):
        model = Comment
        fields = [
            *SYNC_FIELDS,
            "relationship",
            "project",
            "period",
            "parent",
            "visibility",
            "author",
            "author_side",
            "author_organization",
            "body",
            "body_html",
            "mentions",
            "edited_at",
            "editable_until",
        ]
        read_only_fields = [*SERVER_MANAGED, "author_side", "edited_at"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_author(self, comment) -> str | None:
        return _username(comment.author)

    def get_author_organization(self, comment) -> str:
        relationship = comment.relationship
        return (
            relationship.client if comment.author_side == access.Side.CLIENT else relationship.provider
        ).name

    def get_mentions(self, comment) -> list[str]:
        if comment.deleted_at is not None:
            return []
        return sorted(person.get_username() for person in comment.mentions.all())

    def get_body_html(self, comment) -> str:
        if comment.deleted_at is not None:
            return ""
        return markup.render(comment.body, mentions=set(self.get_mentions(comment)))

    def get_editable_until(self, comment) -> dt.datetime:
        return collab_services.comment_editable_until(comment)

    def to_representation(self, comment):
        data = super().to_representation(comment)
        if comment.deleted_at is not None:
            data["body"] = ""  # a deleted comment's text is gone for everyone
        return data


class CommentFilterSet(SyncedFilterSet):
    relationship = IdFilter(field_name="relationship_id")
    project = IdFilter(field_name="project_id")
    parent = IdFilter(field_name="parent_id")
    period = django_filters.DateFilter(
        field_name="period", label="Comments on the score of this month (first day)"
    )
    on = django_filters.ChoiceFilter(
        method="filter_on",
        choices=[("project", "project"), ("score", "score")],
        label="What the comments are on",
    )
    visibility = django_filters.ChoiceFilter(choices=Visibility.choices)

    class Meta:
        model = Comment
        fields = [
            "relationship",
            "project",
            "parent",
            "period",
            "on",
            "visibility",
            "external_id",
            "updated_since",
        ]

    def filter_on(self, queryset, name, value):
        return queryset.filter(project__isnull=value != "project") if value else queryset


class CommentViewSet(CollabViewSet):
    """Comments on projects and monthly scores: the shared ones of the relationships you see and the
    internal ones of your side — never the other side's, in lists, objects or sync."""

    model = Comment
    services = collab_services.COMMENT
    serializer_class = CommentSerializer
    filterset_class = CommentFilterSet
    ordering_fields = ["id", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return collab_selectors.comment_list(user=user, include_deleted=include_deleted)


# --- Contested figures ----------------------------------------------------------------------


def _visible_project_kpis(user):
    return kpi_selectors.project_kpi_list(user=user)


def _visible_measurements(user):
    return kpi_selectors.measurement_list(user=user)


class ContestSerializer(SyncedSerializer):
    kind = serializers.ChoiceField(
        choices=Contest.Kind.choices,
        help_text="baseline (name project_kpi), measurement (measurement), delivery_date or "
        "realised_benefit (project), score (relationship and period).",
    )
    relationship = RecordField(queryset_for=_visible_relationships, required=False, help_text="For a score.")
    project = RecordField(queryset_for=_visible_projects, required=False, allow_null=True)
    project_kpi = RecordField(queryset_for=_visible_project_kpis, required=False, allow_null=True)
    measurement = RecordField(queryset_for=_visible_measurements, required=False, allow_null=True)
    period = serializers.DateField(
        required=False, allow_null=True, help_text="The month of a contested score."
    )
    reason = StrictCharField(max_length=2000, help_text="Why the figure is wrong.")
    proposed_value = StrictCharField(
        max_length=100, required=False, allow_blank=True, help_text="What it should be, if known."
    )
    raised_by = serializers.SerializerMethodField()
    answered_by = serializers.SerializerMethodField()
    resolved_by = serializers.SerializerMethodField()
    correction = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The audit entry of the figure's correction (an accepted contest of a project's figure); "
        "it is in the project's history.",
    )
    escalates_on = serializers.SerializerMethodField(
        help_text="The day an unresolved contest goes to the executives (null once resolved)."
    )

    class Meta(SyncedSerializer.Meta):
        model = Contest
        fields = [
            *SYNC_FIELDS,
            "kind",
            "relationship",
            "project",
            "project_kpi",
            "measurement",
            "period",
            "contested_value",
            "proposed_value",
            "reason",
            "raised_by",
            "raised_side",
            "status",
            "answer",
            "answered_by",
            "answered_at",
            "outcome",
            "resolution",
            "resolved_by",
            "resolved_at",
            "corrected_value",
            "correction",
            "escalated_at",
            "escalates_on",
        ]
        read_only_fields = [
            *SERVER_MANAGED,
            "contested_value",
            "raised_side",
            "status",
            "answer",
            "answered_at",
            "outcome",
            "resolution",
            "resolved_at",
            "corrected_value",
            "escalated_at",
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_raised_by(self, contest) -> str | None:
        return _username(contest.raised_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_answered_by(self, contest) -> str | None:
        return _username(contest.answered_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_resolved_by(self, contest) -> str | None:
        return _username(contest.resolved_by)

    @extend_schema_field(OpenApiTypes.DATE)
    def get_escalates_on(self, contest) -> dt.date | None:
        return collab_services.contest_due(contest) if contest.is_unresolved else None


class ContestAnswerSerializer(serializers.Serializer):
    answer = StrictCharField(max_length=2000)


class ContestResolveSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[("accepted", "accepted"), ("rejected", "rejected")])
    corrected_value = StrictCharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Accepting a project's figure: the corrected value (a number; a date YYYY-MM-DD for a "
        "delivery date), applied through the figure's own service.",
    )
    resolution = StrictCharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Why the figure stands (needed to reject).",
    )


class EmptySerializer(serializers.Serializer):
    pass


class ContestFilterSet(SyncedFilterSet):
    relationship = IdFilter(field_name="relationship_id")
    project = IdFilter(field_name="project_id")
    kind = django_filters.MultipleChoiceFilter(choices=Contest.Kind.choices)
    status = django_filters.MultipleChoiceFilter(choices=Contest.Status.choices)

    class Meta:
        model = Contest
        fields = ["relationship", "project", "kind", "status", "external_id", "updated_since"]


def _refused(**kwargs):
    raise exceptions.MethodNotAllowed("PATCH")


CONTEST = RecordServices(
    fields=collab_services.ContestFields,
    instance="contest",
    create=collab_services.contest_raise,
    update=_refused,
    delete=_refused,
)


def _step_schema(summary: str, request) -> dict:
    return {
        "summary": summary,
        "request": request,
        "responses": {
            200: ContestSerializer,
            412: OpenApiResponse(
                ErrorSerializer,
                description="If-Match no longer matches: the contest changed since you read it.",
            ),
        },
        "parameters": [
            OpenApiParameter(
                "If-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description='The ETag you read (e.g. `"2"`). A stale one answers 412 and writes nothing.',
            ),
            OpenApiParameter(
                "ETag",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=["200"],
                description="The contest's version after the step; send it back in If-Match.",
            ),
        ],
        "filters": False,
    }


class ContestViewSet(CollabViewSet):
    """Contested figures: raise one (POST), then its steps — answer, resolve, withdraw — each with
    If-Match. A contest never changes otherwise and is never deleted: its whole history is kept."""

    http_method_names = ["get", "post", "head", "options"]
    model = Contest
    services = CONTEST
    serializer_class = ContestSerializer
    filterset_class = ContestFilterSet
    ordering_fields = ["id", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return collab_selectors.contest_list(user=user, include_deleted=include_deleted)

    def _step(self, request, serializer_class, run):
        contest = self.get_object()
        if contest.deleted_at is not None:
            raise exceptions.NotFound()
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        expected = self.expected_version(contest)
        contest = run(contest, body.validated_data, expected)
        return self.object_response(self.reload(contest))

    @extend_schema(
        **_step_schema(
            "Answer an open contest (the other side, or the account managers)", ContestAnswerSerializer
        )
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def answer(self, request, *args, **kwargs):
        return self._step(
            request,
            ContestAnswerSerializer,
            lambda contest, data, expected: collab_services.contest_answer(
                actor=request.user, contest=contest, answer=data["answer"], expected_version=expected
            ),
        )

    @extend_schema(
        **_step_schema(
            "Accept (correcting the figure through its service) or reject (with the reason) a contest",
            ContestResolveSerializer,
        )
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def resolve(self, request, *args, **kwargs):
        return self._step(
            request,
            ContestResolveSerializer,
            lambda contest, data, expected: collab_services.contest_resolve(
                actor=request.user,
                contest=contest,
                outcome=data["outcome"],
                resolution=data.get("resolution", ""),
                corrected_value=data.get("corrected_value") or None,
                expected_version=expected,
            ),
        )

    @extend_schema(**_step_schema("Withdraw a contest you raised", EmptySerializer))
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def withdraw(self, request, *args, **kwargs):
        return self._step(
            request,
            EmptySerializer,
            lambda contest, data, expected: collab_services.contest_withdraw(
                actor=request.user, contest=contest, expected_version=expected
            ),
        )


# --- The pulse: one's own answers -------------------------------------------------------------


class PulseAnswerSerializer(SyncedSerializer):
    relationship = RecordField(
        queryset_for=_visible_relationships, help_text="The relationship (id or external_id)."
    )
    quarter = serializers.SerializerMethodField(
        help_text='The quarter answered, e.g. "2026-Q3": always the current one.'
    )
    side = serializers.ChoiceField(choices=access.Side.choices, read_only=True)
    ideas = serializers.IntegerField(
        min_value=1, max_value=5, help_text="The other side brings us ideas we would not have had (1–5)."
    )
    openness = serializers.IntegerField(
        min_value=1, max_value=5, help_text="We can raise a problem openly and it gets solved (1–5)."
    )
    sponsorship = serializers.IntegerField(
        min_value=1, max_value=5, help_text="Leadership on both sides actively sponsors innovation (1–5)."
    )
    trust = serializers.IntegerField(
        min_value=1, max_value=5, help_text="I trust the other side to act in our joint interest (1–5)."
    )
    comment = StrictCharField(max_length=1000, required=False, allow_blank=True)
    editable_until = serializers.SerializerMethodField(help_text="The last day the answers may change.")

    class Meta(SyncedSerializer.Meta):
        model = PulseResponse
        fields = [
            *SYNC_FIELDS,
            "relationship",
            "quarter",
            "side",
            "ideas",
            "openness",
            "sponsorship",
            "trust",
            "comment",
            "editable_until",
        ]
        read_only_fields = [*SERVER_MANAGED, "side"]

    def get_quarter(self, response) -> str:
        return quarter_key(response.quarter)

    def get_editable_until(self, response) -> dt.date:
        return quarter_end(response.quarter)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            for name in PulseResponse.ANSWERS:
                if isinstance(data.get(name), bool | float | str):
                    raise serializers.ValidationError({name: ["A whole number from 1 to 5."]})
        return super().to_internal_value(data)


class PulseAnswerFilterSet(SyncedFilterSet):
    relationship = IdFilter(field_name="relationship_id")

    class Meta:
        model = PulseResponse
        fields = ["relationship", "external_id", "updated_since"]


PULSE = RecordServices(
    fields=collab_services.PulseFields,
    instance="response",
    create=collab_services.pulse_answer,
    update=collab_services.pulse_change,
    delete=_refused,
)


class PulseAnswerViewSet(CollabViewSet):
    """Your own answers to the relationship pulse (nobody reads another person's, an admin included):
    answer this quarter's once per relationship, change them until the quarter closes."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    model = PulseResponse
    services = PULSE
    serializer_class = PulseAnswerSerializer
    filterset_class = PulseAnswerFilterSet
    ordering_fields = ["id", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return collab_selectors.my_pulse_responses(user=user, include_deleted=include_deleted)


# --- The pulse: published results (aggregates) -------------------------------------------------


class PulseSideSerializer(serializers.Serializer):
    shown = serializers.BooleanField(help_text="False below 3 answers: nothing of the side is shown then.")
    responses = serializers.IntegerField(allow_null=True)
    means = serializers.DictField(
        child=serializers.DecimalField(max_digits=3, decimal_places=2),
        allow_null=True,
        help_text="Each statement's mean (ideas, openness, sponsorship, trust), 1–5.",
    )
    trust_index = serializers.DecimalField(
        max_digits=4, decimal_places=1, allow_null=True, help_text="0–100."
    )
    band = serializers.ChoiceField(choices=list(pulse.BAND_LABELS.items()), allow_null=True)
    comments = serializers.ListField(
        child=serializers.CharField(), allow_null=True, help_text="Free texts, without names, from 5 answers."
    )


class PulseOverallSerializer(serializers.Serializer):
    trust_index = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    band = serializers.ChoiceField(choices=list(pulse.BAND_LABELS.items()), allow_null=True)
    gap = serializers.DecimalField(
        max_digits=4, decimal_places=1, allow_null=True, help_text="The client's index − the provider's."
    )


class PulseResultSerializer(serializers.Serializer):
    relationship = serializers.IntegerField()
    quarter = serializers.CharField(help_text='e.g. "2026-Q3".')
    published = serializers.BooleanField(help_text="Results show once the quarter has closed.")
    closes_on = serializers.DateField()
    client = PulseSideSerializer()
    provider = PulseSideSerializer()
    overall = PulseOverallSerializer()

    def to_representation(self, result):
        def side(result_side):
            return {
                "shown": result_side.shown,
                "responses": result_side.responses,
                "means": {k: str(v) for k, v in result_side.means.items()} if result_side.means else None,
                "trust_index": _decimal(result_side.trust_index),
                "band": result_side.band,
                "comments": list(result_side.comments) if result_side.comments is not None else None,
            }

        return {
            "relationship": result.relationship_id,
            "quarter": quarter_key(result.quarter),
            "published": result.published,
            "closes_on": result.closes_on.isoformat(),
            "client": side(result.client),
            "provider": side(result.provider),
            "overall": {
                "trust_index": _decimal(result.overall.trust_index),
                "band": result.overall.band,
                "gap": _decimal(result.overall.gap),
            },
        }


def _decimal(value) -> str | None:
    return None if value is None else str(value)


class PulseResultFilterSet(django_filters.FilterSet):
    relationship = IdFilter(field_name="pk", label="Relationship id")
    quarter = django_filters.CharFilter(
        method="keep", label='The quarter, e.g. "2026-Q3" (default: the last closed one)'
    )

    class Meta:
        model = Relationship
        fields = ["relationship", "quarter"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

    def keep(self, queryset, name, value):
        return queryset


class ResultPagination(StrictPageSizeMixin, PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class PulseResultViewSet(CheckedQueryParamsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The relationship pulse's published results, per relationship you see and side: counts, means,
    trust index and band from 3 answers (free text from 5), the joint index and the gap. Aggregates
    only; a quarter's results are published once it has closed."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [PortfolioThrottle]
    parser_classes = [LimitedJSONParser]
    pagination_class = ResultPagination
    filter_backends = [PortfolioFilterBackend]
    filterset_class = PulseResultFilterSet
    serializer_class = PulseResultSerializer

    def get_queryset(self):
        return project_selectors.relationship_list(user=self.request.user).order_by("name", "id")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "quarter",
                {"type": "string", "pattern": r"^\d{4}-[Qq][1-4]$"},
                description='The quarter, e.g. "2026-Q3" (default: the last closed one).',
            )
        ]
    )
    def list(self, request, *args, **kwargs):
        if SYNC_PARAM in request.query_params:
            raise exceptions.ValidationError(
                {SYNC_PARAM: ["Pulse results are aggregates; they are not synced."]}
            )
        text = request.query_params.get("quarter")
        try:
            quarter = parse_quarter(text) if text else collab_selectors.latest_pulse_quarter()
        except ValueError as error:
            raise exceptions.ValidationError({"quarter": [str(error)]}) from error
        relationships = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(relationships)
        results = collab_selectors.pulse_results_of(relationship_ids=[r.pk for r in page], quarter=quarter)
        data = [PulseResultSerializer(results[r.pk]).data for r in page]
        return self.get_paginated_response(data)


# --- Contributors -----------------------------------------------------------------------------


def _people(user):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True)


class ContributorSerializer(SyncedSerializer):
    project = RecordField(queryset_for=_visible_projects, help_text="The project (id or external_id).")
    person = serializers.SlugRelatedField(
        slug_field="username",
        queryset=_people(None),
        help_text="The person's username: someone of either side of the project's relationship.",
    )
    side = serializers.ChoiceField(choices=access.Side.choices, read_only=True)
    organization = serializers.PrimaryKeyRelatedField(read_only=True)
    organization_name = serializers.CharField(source="organization.name", read_only=True)
    contribution = StrictCharField(
        max_length=200, required=False, allow_blank=True, help_text="What they did."
    )

    class Meta(SyncedSerializer.Meta):
        model = ProjectContributor
        fields = [
            *SYNC_FIELDS,
            "project",
            "person",
            "side",
            "organization",
            "organization_name",
            "contribution",
        ]
        read_only_fields = [*SERVER_MANAGED, "side"]


class ContributorFilterSet(SyncedFilterSet):
    project = IdFilter(field_name="project_id")
    relationship = IdFilter(field_name="project__relationship_id")
    person = django_filters.CharFilter(field_name="person__username", max_length=150, label="Username")

    class Meta:
        model = ProjectContributor
        fields = ["project", "relationship", "person", "external_id", "updated_since"]


class ContributorViewSet(CollabViewSet):
    """The people of both sides named on projects for their part (recognition). The project's
    writers name them."""

    model = ProjectContributor
    services = collab_services.CONTRIBUTOR
    serializer_class = ContributorSerializer
    filterset_class = ContributorFilterSet
    ordering_fields = ["id", "created_at", "updated_at"]

    def base_queryset(self, *, user, include_deleted):
        return collab_selectors.contributor_list(user=user, include_deleted=include_deleted)
