from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API layer: serializers, viewsets, pagination, errors, schema and routes."""

    name = "api"
    verbose_name = "REST API"
