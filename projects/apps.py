from django.apps import AppConfig
from django.db.models.signals import post_migrate


def grant_admin_group_permissions(sender, using="default", **kwargs):
    """The admin role may use every part of the Django admin (permissions exist only after migrate)."""
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.using(using).filter(name="admin").first()
    if group is not None:
        group.permissions.set(Permission.objects.using(using).all())


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Relationships and projects"

    def ready(self):
        post_migrate.connect(
            grant_admin_group_permissions, sender=self, dispatch_uid="grant_admin_group_permissions"
        )
