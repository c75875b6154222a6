"""“My work”: what needs the signed-in person's attention, and their saved filters.

An account manager sees their projects stuck in a stage, delivered without measurements or still
without a realised benefit, and the client sign-offs they wait for (or that were declined); a
client's person sees the requests waiting for their decision. The lists come from
kpis.attention and projects.signoffs; this view only shapes them."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kpis import attention
from projects import access, signoffs
from projects.models import InnovationProject
from workspace.services import saved_filters

# Each list shows this many rows and says how many more there are.
SHOWN = 25


def _capped(queryset) -> dict:
    rows = list(queryset[: SHOWN + 1])
    return {"rows": rows[:SHOWN], "more": len(rows) > SHOWN}


@require_GET
@login_required
def my_work(request):
    user = request.user
    today = timezone.localdate()
    role = access.role_of(user)
    provider_side = role in (access.Role.ADMIN, access.Role.ACCOUNT_MANAGER)
    context = {
        "provider_side": provider_side,
        "client_side": role in access.CLIENT_SIDE_ROLES,
        "saved_filters": list(saved_filters(user=user)),
        "today": today,
        "stuck_after": {
            InnovationProject.Stage(stage).label: days for stage, days in attention.stuck_after_days().items()
        },
    }
    if context["client_side"]:
        context["to_decide"] = _capped(signoffs.awaiting_decision(user=user))
    if provider_side:
        stuck = _capped(attention.stuck_projects(user=user, today=today))
        for project in stuck["rows"]:
            project.days_in_stage = (today - project.in_stage_since).days
        context.update(
            stuck=stuck,
            unmeasured=_capped(attention.delivered_without_measurements(user=user)),
            benefit_missing=_capped(attention.realised_benefit_missing(user=user, today=today)),
            waiting=_capped(attention.signoffs_waiting_for_client(user=user)),
            declined=_capped(attention.signoffs_declined_recently(user=user)),
        )
        context["attention_count"] = sum(
            len(context[name]["rows"])
            for name in ("stuck", "unmeasured", "benefit_missing", "waiting", "declined")
        )
    return render(request, "web/my_work.html", context)
