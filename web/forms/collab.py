"""Forms of the collaboration features: comments (and, later, contests and the pulse). They parse
input; the services decide."""

from django import forms

from collab.models import Visibility
from projects.models import Relationship
from web.forms.projects import VersionedForm


def party_names(relationship: Relationship, side: str | None) -> tuple[str, str]:
    """(my organisation, the other organisation) of a relationship, as its people read them."""
    if side == "provider":
        return relationship.provider.name, relationship.client.name
    return relationship.client.name, relationship.provider.name


class CommentForm(forms.Form):
    """A comment or a reply: its text, and whether both sides read it or only the author's."""

    body = forms.CharField(
        label="Comment",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Lists start with “- ” or “1. ”; [text](https://…) makes a link; @username mentions "
        "someone who can read the comment.",
    )
    visibility = forms.ChoiceField(
        label="Who reads it", widget=forms.RadioSelect, initial=Visibility.SHARED, choices=Visibility.choices
    )
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, relationship: Relationship, side: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        mine, other = party_names(relationship, side)
        self.fields["visibility"].choices = [
            (Visibility.SHARED, f"Shared — {mine} and {other}"),
            (Visibility.INTERNAL, f"Internal — {mine} only"),
        ]


class CommentEditForm(VersionedForm):
    body = forms.CharField(label="Comment", max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class ContestForm(forms.Form):
    """Contest a figure: why it is wrong and, if known, what it should be."""

    reason = forms.CharField(
        label="Why is the figure wrong?", max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    proposed_value = forms.CharField(label="What should it be? (optional)", max_length=100, required=False)


class ContestAnswerForm(VersionedForm):
    answer = forms.CharField(label="Your answer", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class ContestResolveForm(VersionedForm):
    """Accept (with the corrected figure, applied through the normal services) or reject (why)."""

    outcome = forms.ChoiceField(
        label="Outcome",
        widget=forms.RadioSelect,
        choices=[("accepted", "Accept — correct the figure"), ("rejected", "Reject — the figure stands")],
    )
    corrected_value = forms.CharField(
        label="Corrected figure", max_length=100, required=False, help_text="Needed to accept."
    )
    resolution = forms.CharField(
        label="Note (needed to reject: why the figure stands)",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ContestWithdrawForm(VersionedForm):
    pass


SCALE_CHOICES = [
    (1, "1 — disagree"),
    (2, "2"),
    (3, "3 — neither"),
    (4, "4"),
    (5, "5 — agree"),
]


class PulseForm(forms.Form):
    """The quarter's four statements, each 1 (disagree) to 5 (agree), and an optional comment."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
    comment = forms.CharField(
        label="Anything to add? (optional; shown to both sides, without your name, once 5 or more of "
        "your side have answered)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        from collab.pulse import QUESTIONS

        super().__init__(*args, **kwargs)
        statements = {}
        for name, statement in QUESTIONS:
            statements[name] = forms.TypedChoiceField(
                label=statement, choices=SCALE_CHOICES, coerce=int, widget=forms.RadioSelect
            )
        self.fields = {**statements, "comment": self.fields["comment"], "version": self.fields["version"]}

    def statements(self):
        from collab.pulse import QUESTIONS

        return [self[name] for name, _ in QUESTIONS]
