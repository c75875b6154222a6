from django.contrib import admin

from projects.admin_tools import ReadOnlyAdmin
from webhooks.models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdmin):
    """Endpoints are managed on the Webhooks pages (and the API), where URLs are checked and the
    secret is shown once; here they are only looked at."""

    list_display = ("url", "owner", "description", "is_active", "failing_since", "disabled_reason")
    list_filter = ("is_active",)
    search_fields = ("url", "description", "owner__username")
    exclude = ("secret", "previous_secret", "lease_token")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("endpoint", "event_type", "kind", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("endpoint",)
