from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    """The project itself: connects metrics to the signals of Celery and of the roll-up."""

    name = "bpo_portfolio"
    verbose_name = "BPO Innovation Portfolio"

    def ready(self):
        from bpo_portfolio import metrics

        metrics.connect()
