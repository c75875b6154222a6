"""Roles (Django groups), the process areas a relationship can cover, and the sync clock row."""

from django.db import migrations

ROLES = ["admin", "executive", "account_manager", "client_viewer"]

PROCESS_AREAS = [
    ("finance_accounting", "Finance and accounting"),
    ("human_resources", "Human resources"),
    ("procurement", "Procurement"),
    ("claims", "Claims processing"),
    ("supply_chain", "Supply chain"),
    ("customer_service", "Customer service"),
    ("it_services", "IT services"),
    ("logistics", "Logistics"),
    ("vendor_management", "Vendor management"),
    ("analytics", "Analytics"),
]


def create(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    ProcessArea = apps.get_model("projects", "ProcessArea")
    SyncClock = apps.get_model("projects", "SyncClock")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    for code, name in PROCESS_AREAS:
        ProcessArea.objects.get_or_create(code=code, defaults={"name": name})
    SyncClock.objects.get_or_create(id=1, defaults={"value": 0})


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()
    apps.get_model("projects", "ProcessArea").objects.filter(code__in=[c for c, _ in PROCESS_AREAS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, remove)]
