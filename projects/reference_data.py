"""Rows the application cannot work without: the role groups, the process areas, the sync clock.

Created by migration 0002; `ensure_reference_data()` recreates them where a database was emptied
(transactional tests flush every table).
"""

from projects.access import Role

ROLES = [role.value for role in Role]

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


def ensure_reference_data(*, group_model=None, process_area_model=None, clock_model=None) -> None:
    """Idempotent; takes historical models when called from a migration."""
    if group_model is None:
        from django.contrib.auth.models import Group as group_model

        from projects.models import ProcessArea as process_area_model
        from projects.models import SyncClock as clock_model
    for name in ROLES:
        group_model.objects.get_or_create(name=name)
    for code, name in PROCESS_AREAS:
        process_area_model.objects.get_or_create(code=code, defaults={"name": name})
    clock_model.objects.get_or_create(id=1, defaults={"value": 0})
