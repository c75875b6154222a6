"""The signed-in person's own API tokens: list, add (the key shown once), revoke."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import services as tokens
from web.forms.tokens import NewTokenForm


@login_required
def api_tokens(request):
    form = NewTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = tokens.issue_token(
                request.user,
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            form = NewTokenForm()  # the key is on this page only: it is not stored, not redirected
    status = 400 if request.method == "POST" and form.errors else 200
    return render(
        request,
        "web/api_tokens.html",
        {"form": form, "tokens": tokens.tokens_of(request.user), "new_key": new_key},
        status=status,
    )


@login_required
@require_POST
def api_token_revoke(request, pk: int):
    if tokens.revoke_token(request.user, pk):
        messages.success(request, "Token revoked: requests sent with it are refused from now on.")
    else:
        messages.error(request, "No such token (already revoked?).")
    return redirect("api-tokens")
