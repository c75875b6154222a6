from django.apps import AppConfig


class PresentationConfig(AppConfig):
    """How figures read: the one formatting module and the `display` template library over it,
    shared by the pages, the API's documents and the PDF packs."""

    name = "presentation"
    verbose_name = "Presentation"
