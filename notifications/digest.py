"""The daily e-mail digest: at the hour each person chose, in their time zone, what is new for
them since the last one. Nothing new, no e-mail."""

import datetime as dt
import logging
import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import Notification, Preference

logger = logging.getLogger(__name__)


def local_now(preference: Preference, now: dt.datetime) -> dt.datetime:
    try:
        zone = zoneinfo.ZoneInfo(preference.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return now.astimezone(zone)


def is_due(preference: Preference, now: dt.datetime) -> bool:
    """Due once a day, from the chosen local hour on (a missed hour is caught up the same day)."""
    local = local_now(preference, now)
    return (
        preference.email_digest
        and local.hour >= preference.digest_hour
        and preference.last_digest_on != local.date()
    )


def send_digests(*, now: dt.datetime | None = None) -> int:
    """Send every digest that is due; returns the number of e-mails sent."""
    now = now or timezone.now()
    user_ids = set(
        Notification.objects.filter(email_pending=True, resolved_at__isnull=True).values_list(
            "recipient_id", flat=True
        )
    )
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True).exclude(email="")
    stored = {p.user_id: p for p in Preference.objects.filter(user_id__in=user_ids)}
    sent = 0
    for user in users:
        preference = stored.get(user.pk) or Preference(user=user)
        if is_due(preference, now) and send_digest(user, preference, now=now):
            sent += 1
    return sent


def send_digest(user, preference: Preference, *, now: dt.datetime) -> bool:
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update()
            .filter(recipient=user, email_pending=True, resolved_at__isnull=True)
            .order_by("created_at", "id")
        )
        if not pending:
            return False
        local = local_now(preference, now)
        context = {
            "user": user,
            "notifications": pending,
            "site_url": settings.SITE_URL.rstrip("/"),
            "day": local,
        }
        subject = f"BPO Innovation Portfolio: {len(pending)} new for you, {local:%-d %b}"
        send_mail(
            subject,
            render_to_string("notifications/digest.txt", context),
            None,
            [user.email],
            fail_silently=False,
        )
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(email_pending=False)
        if preference.pk is None:
            preference.save()
        Preference.objects.filter(pk=preference.pk).update(last_digest_on=local.date())
    return True
