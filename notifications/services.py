"""Notifying people: the one function every feature calls (`notify`), and marking read."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from notifications.models import Notification, Preference


def preferences_of(users: Iterable) -> dict[int, Preference]:
    """Each user's preferences (defaults for those who never chose), in one query."""
    users = list(users)
    stored = {p.user_id: p for p in Preference.objects.filter(user__in=[u.pk for u in users])}
    return {user.pk: stored.get(user.pk) or Preference(user=user) for user in users}


@transaction.atomic
def notify(
    *,
    recipients: Iterable,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    relationship_id: int | None = None,
    reminder_key: str | None = None,
) -> int:
    """Tell these people something (comments, approvals, contests, reminders all come through here).

    Respects each person's preferences: a kind muted both in the app and by e-mail is not stored;
    an inactive user gets nothing. With `reminder_key`, an open reminder of that key is written
    once per person however often this is called (a unique constraint, not a check). Returns the
    number of notifications written.
    """
    people = {user.pk: user for user in recipients if user is not None and user.is_active}
    if not people:
        return 0
    preferences = preferences_of(people.values())
    rows = []
    for user_id in sorted(people):
        preference = preferences[user_id]
        in_app, email = preference.wants_in_app(kind), preference.wants_email(kind)
        if not (in_app or email):
            continue
        rows.append(
            Notification(
                recipient_id=user_id,
                kind=kind,
                title=title[:200],
                body=body[:500],
                url=url[:300],
                relationship_id=relationship_id,
                reminder_key=reminder_key,
                in_app=in_app,
                email_pending=email,
            )
        )
    if not rows:
        return 0
    if reminder_key is None:
        return len(Notification.objects.bulk_create(rows))
    before = Notification.objects.filter(reminder_key=reminder_key, resolved_at__isnull=True).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return Notification.objects.filter(reminder_key=reminder_key, resolved_at__isnull=True).count() - before


def mark_read(*, user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when no ids are given)."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


@transaction.atomic
def preferences_update(
    *, user, in_app: Iterable[str], email: Iterable[str], email_digest: bool, digest_hour: int, time_zone: str
) -> Preference:
    """Store a person's choices: the kinds to show and to e-mail, and the digest's hour and zone."""
    from django.core.exceptions import ValidationError

    from notifications.kinds import Kind

    preference, _ = Preference.objects.get_or_create(user=user)
    preference.muted_in_app = sorted(set(Kind.values) - set(in_app))
    preference.muted_email = sorted(set(Kind.values) - set(email))
    preference.email_digest = email_digest
    preference.digest_hour = digest_hour
    preference.time_zone = time_zone
    try:
        preference.full_clean()
    except ValidationError:
        raise
    preference.save()
    return preference
