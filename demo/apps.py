from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo and benchmark data generators, reached only through their management commands."""

    name = "demo"
    verbose_name = "Demo data"
