from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0001_events"),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="relationship_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
