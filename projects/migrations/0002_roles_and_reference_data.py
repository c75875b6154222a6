"""Roles (Django groups), the process areas a relationship can cover, and the sync clock row."""

from django.db import migrations

from projects.reference_data import PROCESS_AREAS, ROLES, ensure_reference_data


def create(apps, schema_editor):
    ensure_reference_data(
        group_model=apps.get_model("auth", "Group"),
        process_area_model=apps.get_model("projects", "ProcessArea"),
        clock_model=apps.get_model("projects", "SyncClock"),
    )


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()
    apps.get_model("projects", "ProcessArea").objects.filter(code__in=[c for c, _ in PROCESS_AREAS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, remove)]
