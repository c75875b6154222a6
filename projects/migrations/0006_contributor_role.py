"""The contributor role (client- or provider-side staff who comment, contest and answer the pulse)."""

from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="contributor")


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="contributor").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0005_project_outcome_and_cancellation_reason"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, remove)]
