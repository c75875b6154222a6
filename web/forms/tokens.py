from django import forms
from django.conf import settings


def lifetime_choices():
    limits = settings.API_TOKENS
    days = sorted({30, limits["DEFAULT_DAYS"], 180, limits["MAX_DAYS"]} - {0})
    choices = [(d, f"{d} days") for d in days if d <= limits["MAX_DAYS"]]
    if limits["ALLOW_NEVER_EXPIRES"]:
        choices.append((0, "Never expires"))
    return choices


class NewTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “ERP nightly sync”.")
    expires_in_days = forms.TypedChoiceField(label="Expires after", coerce=int, choices=lifetime_choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expires_in_days"].initial = settings.API_TOKENS["DEFAULT_DAYS"]
