import django.db.models.deletion
from django.db import migrations, models

# The content type's own index duplicates the leading column of audit_object_idx; every audited
# write maintained both. Only the index goes: Django's AlterField would also drop and re-add the
# foreign key, which re-checks every audit row under a lock, for a constraint that does not change.
# The index name is Django's for this field (`sqlmigrate projects 0008` before this change showed it);
# SQLite names it the same.


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("projects", "0007_client_signoff"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="content_type",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="contenttypes.contenttype",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "projects_auditentry_content_type_id_fb342642"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "projects_auditentry_content_type_id_fb342642" '
                    'ON "projects_auditentry" ("content_type_id")',
                ),
            ],
        ),
    ]
