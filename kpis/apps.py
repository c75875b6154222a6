from django.apps import AppConfig


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = "KPIs and scores"

    def ready(self):
        # Listen to the projects layer: cascade deletions and schedule score recomputes.
        from kpis import bulk, receivers  # noqa: F401

        # The record types of bulk upserts and imports (projects.bulk) that live in this app.
        bulk.register()
