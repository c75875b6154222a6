from django import forms

from imports.models import ImportJob


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Spreadsheet", help_text="CSV (UTF-8, comma or semicolon) or XLSX; the first sheet is read."
    )
    record_type = forms.ChoiceField(label="The rows are")
    mode = forms.ChoiceField(
        choices=ImportJob.Mode.choices,
        initial=ImportJob.Mode.ALL_OR_NOTHING,
        widget=forms.RadioSelect,
        help_text="All or nothing imports nothing while any row is invalid.",
    )

    def __init__(self, *args, record_types, **kwargs):
        super().__init__(*args, **kwargs)
        # Only what this person may import is offered (organisations and the catalogue: admins).
        self.fields["record_type"].choices = [(spec.key, spec.label) for spec in record_types]
