from django.apps import AppConfig


class WebConfig(AppConfig):
    """The browser layer: pages, forms, template tags and their templates."""

    name = "web"
    verbose_name = "Browser pages"
