"""Reading a person's notifications (the centre shows open ones; resolved reminders drop out)."""

from django.db.models import QuerySet

from notifications.models import Notification


def notifications_for(user, *, unread_only: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(recipient=user, in_app=True, resolved_at__isnull=True)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def unread_count(user) -> int:
    return notifications_for(user, unread_only=True).count()
