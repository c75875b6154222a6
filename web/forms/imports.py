from django import forms

from imports.models import ImportJob
from imports.records import RECORD_TYPE_CHOICES


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Spreadsheet", help_text="CSV (UTF-8, comma or semicolon) or XLSX; the first sheet is read."
    )
    record_type = forms.ChoiceField(label="The rows are", choices=RECORD_TYPE_CHOICES)
    mode = forms.ChoiceField(
        choices=ImportJob.Mode.choices,
        initial=ImportJob.Mode.ALL_OR_NOTHING,
        widget=forms.RadioSelect,
        help_text="All or nothing imports nothing while any row is invalid.",
    )
