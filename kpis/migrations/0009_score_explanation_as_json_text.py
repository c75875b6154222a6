"""A score's explanation (`RelationshipScore.components`) stored as `json` text instead of `jsonb`.

It is only ever written whole (by the roll-up, as text) and read whole; building `jsonb` from the
6.3 MB a 1,000-relationship roll-up writes cost PostgreSQL about 90 ms (kpis.fields). The existing
rows keep their content; their text is jsonb's own rendering until they are next written.
"""

from django.db import migrations

import kpis.fields


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0008_latest_measurement"),
    ]

    operations = [
        migrations.AlterField(
            model_name="relationshipscore",
            name="components",
            field=kpis.fields.JSONObjectTextField(default=dict),
        ),
    ]
