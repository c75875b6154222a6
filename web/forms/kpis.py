"""Inline forms of the project page: track a KPI, edit its baseline/target, record and edit
measurements. Same contract as web.forms.projects: validate, then let the service decide."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from kpis.models import KPI, Measurement, ProjectKPI, Unit
from kpis.services import MeasurementFields, ProjectKPIFields, check_measured_on
from web.forms.projects import PlausibleDateField, VersionedForm, conflict_differences, constraint_messages

VALUE_FIELD = ProjectKPI._meta.get_field("baseline_value")


def value_field(label: str, *, required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=VALUE_FIELD.max_digits,
        decimal_places=VALUE_FIELD.decimal_places,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


def plain(value):
    """A stored value as the user typed it, for a form's initial value: 80.0000 → "80"."""
    return f"{value.normalize():f}" if isinstance(value, Decimal) else value


def check_percent(form: forms.Form, unit: str, *names: str) -> None:
    """Percent KPIs take values within 0–100 (the database enforces the same)."""
    if unit != Unit.PERCENT:
        return
    for name in names:
        value = form.cleaned_data.get(name)
        if value is not None and not Decimal(0) <= value <= Decimal(100):
            form.add_error(name, "A percentage must be between 0 and 100.")


class KPIChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, kpi):
        return f"{kpi.name} ({kpi.get_unit_display()}, {kpi.get_direction_display().lower()})"


class ProjectKPIAddForm(forms.Form):
    """Pick a catalogue KPI and give its baseline (value and date) and an optional target."""

    message_fields = constraint_messages(
        ProjectKPI, {"project_kpi_unique": "kpi", "project_kpi_percent_range": "baseline_value"}
    )

    kpi = KPIChoiceField(queryset=KPI.objects.none(), label="KPI", empty_label="Choose a KPI…")
    baseline_value = value_field("Baseline value")
    baseline_date = PlausibleDateField(label="Baseline date")
    target_value = value_field("Target value", required=False)

    def __init__(self, *args, catalogue, tracked_kpi_ids=(), **kwargs):
        kwargs.setdefault("prefix", "add-kpi")
        super().__init__(*args, **kwargs)
        self.fields["kpi"].queryset = catalogue
        self.tracked_kpi_ids = set(tracked_kpi_ids)

    def clean(self):
        cleaned = super().clean()
        kpi = cleaned.get("kpi")
        if kpi is not None:
            if kpi.pk in self.tracked_kpi_ids:
                self.add_error("kpi", "This KPI is already tracked on this project.")
            check_percent(self, kpi.unit, "baseline_value", "target_value")
        return cleaned


class ProjectKPIEditForm(VersionedForm):
    """Correct a tracked KPI's baseline or target."""

    message_fields = constraint_messages(ProjectKPI, {"project_kpi_percent_range": "baseline_value"})
    FIELDS = ("baseline_value", "baseline_date", "target_value")

    baseline_value = value_field("Baseline value")
    baseline_date = PlausibleDateField(label="Baseline date")
    target_value = value_field("Target value", required=False)

    def __init__(self, *args, project_kpi: ProjectKPI, **kwargs):
        kwargs.setdefault("prefix", f"kpi-{project_kpi.pk}")
        super().__init__(*args, **kwargs)
        self.project_kpi = project_kpi

    def clean(self):
        cleaned = super().clean()
        check_percent(self, self.project_kpi.unit, "baseline_value", "target_value")
        return cleaned

    def service_fields(self) -> ProjectKPIFields:
        return ProjectKPIFields(**{name: self.cleaned_data[name] for name in self.FIELDS})

    @classmethod
    def initial_from(cls, project_kpi: ProjectKPI) -> dict:
        return {
            **{name: plain(getattr(project_kpi, name)) for name in cls.FIELDS},
            "version": project_kpi.version,
        }

    def conflict_differences(self, current):
        return conflict_differences(self, current, self.FIELDS)


def _check_measured_on(form: forms.Form, project_kpi: ProjectKPI | None) -> None:
    """The service's rule for measurement dates, reported as a field error of the form."""
    try:
        check_measured_on(project_kpi, form.cleaned_data.get("measured_on"))
    except ValidationError as error:
        for message in error.message_dict["measured_on"]:
            form.add_error("measured_on", message)


class MeasurementForm(forms.Form):
    """Record a dated value of one of the project's KPIs."""

    message_fields = constraint_messages(
        Measurement, {"measurement_one_per_date": "measured_on", "measurement_percent_range": "value"}
    )

    project_kpi = forms.TypedChoiceField(coerce=int, label="KPI")
    measured_on = PlausibleDateField(label="Measured on")
    value = value_field("Value")

    def __init__(self, *args, project_kpis, **kwargs):
        kwargs.setdefault("prefix", "measure")
        super().__init__(*args, **kwargs)
        # Choices are the page's own (already loaded) KPIs: choosing one costs no query, and a KPI
        # of another project cannot be chosen.
        self.project_kpis = {project_kpi.pk: project_kpi for project_kpi in project_kpis}
        self.fields["project_kpi"].choices = [
            (project_kpi.pk, f"{project_kpi.kpi.name} ({project_kpi.kpi.get_unit_display()})")
            for project_kpi in project_kpis
        ]
        if not self.is_bound:
            self.fields["measured_on"].initial = timezone.localdate()

    def clean_project_kpi(self):
        return self.project_kpis[self.cleaned_data["project_kpi"]]

    def clean(self):
        cleaned = super().clean()
        project_kpi = cleaned.get("project_kpi")
        _check_measured_on(self, project_kpi)
        if project_kpi is not None:
            check_percent(self, project_kpi.unit, "value")
        return cleaned


class MeasurementEditForm(VersionedForm):
    """Correct a measurement's date or value."""

    message_fields = MeasurementForm.message_fields
    FIELDS = ("measured_on", "value")

    measured_on = PlausibleDateField(label="Measured on")
    value = value_field("Value")

    def __init__(self, *args, measurement: Measurement, project_kpi: ProjectKPI, **kwargs):
        kwargs.setdefault("prefix", f"measurement-{measurement.pk}")
        super().__init__(*args, **kwargs)
        self.measurement = measurement
        self.project_kpi = project_kpi

    def clean(self):
        cleaned = super().clean()
        _check_measured_on(self, self.project_kpi)
        check_percent(self, self.project_kpi.unit, "value")
        return cleaned

    def service_fields(self) -> MeasurementFields:
        return MeasurementFields(**{name: self.cleaned_data[name] for name in self.FIELDS})

    @classmethod
    def initial_from(cls, measurement: Measurement) -> dict:
        return {
            **{name: plain(getattr(measurement, name)) for name in cls.FIELDS},
            "version": measurement.version,
        }

    def conflict_differences(self, current):
        return conflict_differences(self, current, self.FIELDS)
