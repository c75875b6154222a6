from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    """Quarterly business review packs: one PDF per relationship and quarter, stored with its checksum."""

    name = "reviews"
    verbose_name = "Quarterly business reviews"

    def ready(self) -> None:
        from reviews import two_sides

        two_sides.register()
