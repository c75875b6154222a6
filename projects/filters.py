"""Filters for project and relationship lists, shared by the list pages, CSV export and the API."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from projects.models import InnovationProject, Organization, ProcessArea, Relationship


class DateRangeForm(forms.Form):
    """A filter form whose date ranges (`<name>_after` … `<name>_before`) must run forward: a
    reversed range matches nothing, so it is refused with a message rather than shown as empty."""

    def clean(self):
        data = super().clean()
        for name, start in list(data.items()):
            if not name.endswith("_after") or start is None:
                continue
            end_name = name.removesuffix("_after") + "_before"
            end = data.get(end_name)
            if end is not None and start > end:
                start_label, end_label = self.fields[name].label, self.fields[end_name].label
                self.add_error(
                    end_name,
                    f"“{end_label}” ({end:%-d %b %Y}) is before “{start_label}” ({start:%-d %b %Y}); "
                    "swap them or change one.",
                )
        return data


class ProjectFilterSet(django_filters.FilterSet):
    """The project list's filters. Querysets given to it are already scoped by the selectors, and
    choice fields take their options from the request user's scope (see `__init__`)."""

    q = django_filters.CharFilter(method="search", label="Search")
    relationship = django_filters.ModelChoiceFilter(queryset=Relationship.objects.none())
    client = django_filters.ModelChoiceFilter(
        field_name="relationship__client", queryset=Organization.objects.none(), label="Client"
    )
    provider = django_filters.ModelChoiceFilter(
        field_name="relationship__provider", queryset=Organization.objects.none(), label="Provider"
    )
    stage = django_filters.MultipleChoiceFilter(choices=InnovationProject.Stage.choices)
    level = django_filters.MultipleChoiceFilter(choices=InnovationProject.Level.choices)
    owner = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.none())
    delivered_after = django_filters.DateFilter(
        field_name="delivered_on", lookup_expr="gte", label="Delivered from"
    )
    delivered_before = django_filters.DateFilter(
        field_name="delivered_on", lookup_expr="lte", label="Delivered to"
    )

    class Meta:
        model = InnovationProject
        fields = ["q", "relationship", "client", "provider", "stage", "level", "owner"]
        form = DateRangeForm

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from projects import selectors

        if user is not None:
            relationships = selectors.relationship_list(user=user)
            self.filters["relationship"].queryset = relationships
            organizations = selectors.organization_list(user=user)
            self.filters["client"].queryset = organizations.filter(kind=Organization.Kind.CLIENT)
            self.filters["provider"].queryset = organizations.filter(kind=Organization.Kind.PROVIDER)
            self.filters["owner"].queryset = (
                get_user_model()
                .objects.filter(owned_projects__in=selectors.project_list(user=user))
                .distinct()
            )

    def search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))


class RelationshipFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    client = django_filters.ModelChoiceFilter(queryset=Organization.objects.none())
    provider = django_filters.ModelChoiceFilter(queryset=Organization.objects.none())
    process_area = django_filters.ModelChoiceFilter(
        field_name="process_areas", queryset=ProcessArea.objects.all(), to_field_name="code"
    )
    status = django_filters.MultipleChoiceFilter(choices=Relationship.Status.choices)

    class Meta:
        model = Relationship
        fields = ["q", "client", "provider", "process_area", "status"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from projects import selectors

        if user is not None:
            organizations = selectors.organization_list(user=user)
            self.filters["client"].queryset = organizations.filter(kind=Organization.Kind.CLIENT)
            self.filters["provider"].queryset = organizations.filter(kind=Organization.Kind.PROVIDER)

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(client__name__icontains=value) | Q(provider__name__icontains=value)
        )
