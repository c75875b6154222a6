import zoneinfo

from django import forms

from notifications.kinds import Kind


class PreferenceForm(forms.Form):
    in_app = forms.MultipleChoiceField(
        label="Show in the app", choices=Kind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    email = forms.MultipleChoiceField(
        label="Include in the e-mail digest",
        choices=Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    email_digest = forms.BooleanField(
        label="Send me a daily e-mail digest (only when there is something new)", required=False
    )
    digest_hour = forms.TypedChoiceField(
        label="Digest hour", coerce=int, choices=[(h, f"{h:02d}:00") for h in range(24)]
    )
    time_zone = forms.ChoiceField(label="Time zone", choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in sorted(zoneinfo.available_timezones())]

    @classmethod
    def initial_from(cls, preference) -> dict:
        return {
            "in_app": [k for k in Kind.values if preference.wants_in_app(k)],
            "email": [k for k in Kind.values if k not in preference.muted_email],
            "email_digest": preference.email_digest,
            "digest_hour": preference.digest_hour,
            "time_zone": preference.time_zone,
        }
