"""Forms for the project pages. They validate input and shape it for the services; the services
decide. A service's ValidationError is mapped back onto the form's fields (`add_service_errors`),
and every edit form carries the record's `version` so a concurrent change is refused, not lost."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q
from django.utils import timezone

from projects import access
from projects.access import Role
from projects.models import InnovationProject, validate_plausible_date
from projects.services import ProjectFields, dated_steps

Stage = InnovationProject.Stage


class PlausibleDateField(forms.DateField):
    """A date field with a calendar picker that refuses absurd years with a clear message."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m-%d", "%d/%m/%Y"])
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except (OverflowError, ValueError) as error:  # a year beyond what Python's dates hold
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error

    def validate(self, value):
        super().validate(value)
        validate_plausible_date(value)  # the model's rule: years 1950–2100


def constraint_messages(model, field_by_constraint: dict[str, str]) -> dict[str, str]:
    """{constraint's violation message: form field} for constraints that belong to one field."""
    return {
        str(constraint.violation_error_message): field_by_constraint[constraint.name]
        for constraint in model._meta.constraints
        if constraint.name in field_by_constraint and constraint.violation_error_message
    }


def add_service_errors(
    form: forms.BaseForm, error: ValidationError, message_fields: dict | None = None
) -> None:
    """Put a service's ValidationError on the form: on its field when the form has that field (or
    the message names a constraint of one field), otherwise at the top of the form."""
    message_fields = message_fields or {}
    error_dict = error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.error_list}
    for field, field_errors in error_dict.items():
        for field_error in field_errors:
            for message in field_error.messages if hasattr(field_error, "messages") else [field_error]:
                target = field if field in form.fields else message_fields.get(str(message))
                form.add_error(target if target in form.fields else None, message)


def conflict_differences(form: forms.BaseForm, current, fields) -> list[dict[str, Any]]:
    """The submitted values that differ from the record's current ones, for the conflict notice."""
    differences = []
    for name in fields:
        if name not in form.cleaned_data or name == "version":
            continue
        mine, theirs = form.cleaned_data[name], getattr(current, name)
        if _comparable(mine) != _comparable(theirs):
            differences.append(
                {
                    "label": form.fields[name].label,
                    "yours": _shown(form, name, mine),
                    "current": _shown(form, name, theirs),
                }
            )
    return differences


def _comparable(value):
    if value in ("", None):
        return None
    return getattr(value, "pk", value)


def _shown(form, name, value) -> str:
    if value in ("", None):
        return "—"
    field = form.fields[name]
    if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
        return str(dict(field.choices).get(value, value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


class VersionedForm(forms.Form):
    """An edit form: carries the version the user started from."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


# --- Projects ---------------------------------------------------------------------------------

_PROJECT_FIELDS = [
    "relationship",
    "title",
    "description",
    "level",
    "originator",
    "owner",
    "funding",
    "proposed_on",
    "started_on",
    "delivered_on",
    "investment",
    "expected_annual_benefit",
    "realised_annual_benefit",
    "gain_share_pct",
    "gain_share_baseline",
    "outcome",
    "cancellation_reason",
]

_PROJECT_CONSTRAINT_FIELDS = {
    "project_investment_non_negative": "investment",
    "project_expected_benefit_non_negative": "expected_annual_benefit",
    "project_realised_benefit_non_negative": "realised_annual_benefit",
    "project_gain_share_pct_range": "gain_share_pct",
    "project_gain_share_baseline_non_negative": "gain_share_baseline",
    "project_started_after_proposed": "started_on",
    "project_delivered_after_started": "delivered_on",
    "project_delivered_has_date": "delivered_on",
}


def _date_field(model_field_name: str, help_text: str = "") -> PlausibleDateField:
    label = InnovationProject._meta.get_field(model_field_name).verbose_name
    return PlausibleDateField(required=False, label=label[:1].upper() + label[1:], help_text=help_text)


def owner_choices():
    """People who may own a project: admins and account managers."""
    roles = [Role.ADMIN.value, Role.ACCOUNT_MANAGER.value]
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=roles))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.get_username()


class RelationshipChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, relationship):
        return f"{relationship.name} ({relationship.client.name} ↔ {relationship.provider.name})"


class ProjectForm(forms.Form):
    """Create (with an initial stage) or edit (with the version) an innovation project."""

    message_fields = constraint_messages(InnovationProject, _PROJECT_CONSTRAINT_FIELDS)

    def __init__(self, *args, user, project: InnovationProject | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.project = project
        model_fields = forms.fields_for_model(
            InnovationProject,
            fields=[
                "title",
                "description",
                "level",
                "originator",
                "funding",
                "investment",
                "expected_annual_benefit",
                "realised_annual_benefit",
                "gain_share_pct",
                "gain_share_baseline",
            ],
        )
        relationships = (
            access.writable_relationships(user)
            .filter(deleted_at__isnull=True)
            .select_related("client", "provider")
            .order_by("name", "id")
        )
        self.fields["relationship"] = RelationshipChoiceField(
            queryset=relationships, empty_label="Choose a relationship…"
        )
        self.fields.update(model_fields)
        self.fields["description"].widget.attrs["rows"] = 3
        self.fields["owner"] = UserChoiceField(queryset=owner_choices(), required=False, empty_label="—")
        if project is None:
            self.fields["stage"] = forms.ChoiceField(
                choices=Stage.choices,
                initial=Stage.IDEA,
                help_text=(
                    "Usually Idea. Choose a later stage to record a project already under way or delivered."
                ),
            )
        self.fields["proposed_on"] = _date_field("proposed_on")
        self.fields["started_on"] = _date_field("started_on")
        self.fields["delivered_on"] = _date_field(
            "delivered_on", help_text="Only for a delivered project." if project is None else ""
        )
        for name in (
            "investment",
            "expected_annual_benefit",
            "realised_annual_benefit",
            "gain_share_baseline",
        ):
            self.fields[name].widget.attrs.update({"min": "0", "step": "0.01", "inputmode": "decimal"})
        self.fields["gain_share_pct"].widget.attrs.update({"min": "0", "max": "100", "step": "0.01"})
        for name, field in model_fields.items():
            # Range validators live on the model field (run by full_clean in the service); the form
            # runs them too, so every invalid field is reported at once, not only the first.
            field.validators.extend(
                validator
                for validator in InnovationProject._meta.get_field(name).validators
                if isinstance(validator, (MinValueValidator, MaxValueValidator))
            )
        self.fields["gain_share_pct"].label = "Gain-share %"
        self.fields["gain_share_baseline"].label = "Gain-share baseline"
        if project is not None:
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
            # A project stays in the relationship it was created in (see project_update).
            self.fields["relationship"].disabled = True
            self.fields["relationship"].initial = project.relationship_id
            self.fields["relationship"].help_text = "A project stays in the relationship it was created in."
            # What the stage dialog asked for stays correctable where it applies.
            if project.stage == Stage.DELIVERED:
                self.fields["outcome"] = forms.CharField(
                    required=False, max_length=200, label="Outcome in one line"
                )
            if project.stage == Stage.CANCELLED:
                self.fields["cancellation_reason"] = forms.CharField(
                    max_length=500, label="Why it was cancelled", widget=forms.Textarea(attrs={"rows": 3})
                )
        order = ["relationship", "title", "description", "level", "stage", *_PROJECT_FIELDS[4:]]
        self.order_fields(order)

    def clean(self):
        cleaned = super().clean()
        stage = cleaned.get("stage") or (self.project.stage if self.project else Stage.IDEA)
        proposed, started, delivered = (cleaned.get(f) for f in ("proposed_on", "started_on", "delivered_on"))
        if proposed and started and started < proposed:
            self.add_error("started_on", "A project cannot start before it was proposed.")
        if started and delivered and delivered < started:
            self.add_error("delivered_on", "A project cannot be delivered before it started.")
        if "delivered_on" in cleaned:
            if stage == Stage.DELIVERED and not delivered:
                self.add_error("delivered_on", "A delivered project needs a delivered date.")
            elif stage != Stage.DELIVERED and delivered:
                self.add_error(
                    "delivered_on",
                    "Only a delivered project has a delivered date; "
                    "move it to Delivered with the stage actions.",
                )
        return cleaned

    def service_fields(self) -> ProjectFields:
        return ProjectFields.of(
            {name: value for name, value in self.cleaned_data.items() if name != "version"}
        )

    @staticmethod
    def initial_from(project: InnovationProject) -> dict[str, Any]:
        initial = {name: getattr(project, name) for name in _PROJECT_FIELDS}
        initial["relationship"] = project.relationship_id
        initial["owner"] = project.owner_id
        initial["version"] = project.version
        return initial

    def conflict_differences(self, current: InnovationProject) -> list[dict[str, Any]]:
        return conflict_differences(self, current, _PROJECT_FIELDS)


class StageForm(VersionedForm):
    """The stage dialog: the date of each step a move takes (a skip asks for every skipped date),
    and what the move means — on delivery the realised benefit so far and an outcome, on
    cancelling the reason. The date rules (never in the future, never before the step before)
    live in projects.services.project_advance; the form only parses."""

    DATE_LABELS = {"proposed_on": "Proposed on", "started_on": "Started on", "delivered_on": "Delivered on"}
    message_fields = constraint_messages(InnovationProject, _PROJECT_CONSTRAINT_FIELDS)

    to_stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)

    def __init__(
        self, data=None, *, project: InnovationProject, to_stage: str, signoff_active: bool = False, **kwargs
    ):
        kwargs.setdefault("initial", {})
        kwargs["initial"] = {"to_stage": to_stage, "version": project.version, **kwargs["initial"]}
        super().__init__(data, **kwargs)
        self.project = project
        self.to_stage = to_stage
        # With client sign-off, Approved is asked of the client (the dialog files the request) and
        # a delivery's realised benefit waits for the client's confirmation.
        self.signoff_active = signoff_active
        self.requests_approval = signoff_active and to_stage == Stage.APPROVED
        client = project.relationship.client.name
        today = timezone.localdate()
        for name in dated_steps(project.stage, to_stage):
            # Empty means today, as the dialog pre-fills; the service applies the date rules.
            field = PlausibleDateField(label=self.DATE_LABELS[name], initial=today, required=False)
            field.widget = forms.DateInput(
                attrs={"type": "date", "max": today.isoformat()}, format="%Y-%m-%d"
            )
            self.fields[name] = field
        if to_stage == Stage.DELIVERED:
            currency = project.relationship.currency
            self.fields["realised_annual_benefit"] = forms.DecimalField(
                required=False,
                min_value=0,
                max_digits=16,
                decimal_places=2,
                label=f"Realised annual benefit so far ({currency})",
                help_text=(
                    f"Optional: {client} confirms it; it is recorded when they approve."
                    if signoff_active
                    else "Optional: leave empty until it is measured."
                ),
                widget=forms.NumberInput(attrs={"min": "0", "step": "0.01", "inputmode": "decimal"}),
            )
            self.fields["outcome"] = forms.CharField(
                required=False,
                max_length=200,
                label="Outcome in one line",
                help_text="What the delivery achieved, e.g. “Order fill rate up from 60 % to 85 %”.",
            )
        if to_stage == Stage.CANCELLED:
            self.fields["cancellation_reason"] = forms.CharField(
                max_length=500,
                label="Why is it cancelled?",
                widget=forms.Textarea(attrs={"rows": 3}),
                error_messages={
                    "required": "Say why the project is cancelled; the reason is kept and shown."
                },
            )

        if self.requests_approval or (signoff_active and to_stage == Stage.DELIVERED):
            self.fields["note"] = forms.CharField(
                required=False,
                max_length=500,
                label=f"Note to {client}",
                help_text="Optional: what they should know to decide.",
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    @property
    def date_fields(self) -> list:
        return [self[name] for name in self.DATE_LABELS if name in self.fields]

    @property
    def detail_fields(self) -> list:
        names = ("realised_annual_benefit", "outcome", "cancellation_reason", "note")
        return [self[name] for name in names if name in self.fields]

    def advance_arguments(self) -> dict[str, Any]:
        """Keyword arguments for projects.signoffs.project_move (projects.services.project_advance
        with client sign-off where it applies)."""
        data = self.cleaned_data
        arguments: dict[str, Any] = {
            "to_stage": self.to_stage,
            "dates": {name: data.get(name) for name in self.DATE_LABELS if name in self.fields},
            "expected_version": data["version"],
        }
        for name in ("realised_annual_benefit", "outcome", "cancellation_reason", "note"):
            if name in self.fields:
                arguments[name] = data.get(name)
        if arguments.get("realised_annual_benefit") is None:
            arguments.pop("realised_annual_benefit", None)  # empty: keep what is recorded
        return arguments


class DeleteForm(VersionedForm):
    pass


# --- Relationships ----------------------------------------------------------------------------


class LeadershipForm(forms.Form):
    """Hand a relationship to a new leadership pair; the current pair's term ends the day before."""

    client_leader = forms.CharField(max_length=200, label="Client-side leader")
    provider_leader = forms.CharField(max_length=200, label="Provider-side leader")
    # The date rules (not in the future, after the current pair) live in
    # projects.services.relationship_set_leadership.
    started_on = PlausibleDateField(label="In the role from")


# --- Client sign-off ----------------------------------------------------------------------------


class SignOffDecisionForm(VersionedForm):
    """The client's decision on a request: a note with an approval, the reason of a decline."""

    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("decline", "Decline")], widget=forms.HiddenInput
    )
    note = forms.CharField(
        required=False,
        max_length=500,
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "decline" and not (data.get("note") or "").strip():
            self.add_error("note", "Say why it is declined; the reason is kept and shown.")
        return data


class BenefitSignOffForm(VersionedForm):
    """The provider asks the client to confirm a delivered project's realised benefit."""

    realised_annual_benefit = forms.DecimalField(
        min_value=0,
        max_digits=16,
        decimal_places=2,
        label="Realised annual benefit",
        widget=forms.NumberInput(attrs={"min": "0", "step": "0.01", "inputmode": "decimal"}),
    )
    note = forms.CharField(
        required=False, max_length=500, label="Note to the client", widget=forms.Textarea(attrs={"rows": 2})
    )
