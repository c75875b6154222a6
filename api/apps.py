from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API layer: serializers, viewsets, pagination, errors, schema and routes."""

    name = "api"
    verbose_name = "REST API"

    def ready(self):
        # Webhooks carry records as this API shows them; the webhooks app cannot import the API.
        from api import webhook_payloads

        webhook_payloads.register()
