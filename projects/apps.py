from django.apps import AppConfig
from django.db.models.signals import post_migrate

# Machinery a business admin has no reason to touch: the scheduler's internals, Django's
# bookkeeping tables, the emptied table of pre-hashing API tokens. Superusers still see them.
SUPERUSER_ONLY_APPS = ("django_celery_beat", "contenttypes", "sessions", "authtoken", "admin")


def grant_admin_group_permissions(sender, using="default", **kwargs):
    """The admin role may use the business parts of the Django admin (permissions exist only after
    migrate)."""
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.using(using).filter(name="admin").first()
    if group is not None:
        group.permissions.set(
            Permission.objects.using(using).exclude(content_type__app_label__in=SUPERUSER_ONLY_APPS)
        )


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Relationships and projects"

    def ready(self):
        from projects import bulk

        bulk.register_projects()
        post_migrate.connect(
            grant_admin_group_permissions, sender=self, dispatch_uid="grant_admin_group_permissions"
        )
