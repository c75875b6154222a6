from django import forms

from outbox.catalogue import SUBSCRIBABLE
from projects.access import scope
from projects.models import Relationship


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="Where events are POSTed. In production: https on a public address.",
        widget=forms.URLInput(attrs={"placeholder": "https://erp.example.com/hooks/portfolio"}),
    )
    description = forms.CharField(max_length=200, required=False, help_text="What receives them, e.g. “ERP”.")
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in SUBSCRIBABLE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.",
    )
    relationship = forms.ModelChoiceField(
        queryset=Relationship.objects.none(),
        required=False,
        empty_label="Every relationship I can see",
        help_text="Only events of this relationship.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["relationship"].queryset = scope(
            user, Relationship.objects.filter(deleted_at__isnull=True)
        )


class ReplayForm(forms.Form):
    since = forms.DateTimeField(
        label="Replay everything since",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Your time zone's date and time.",
    )
