from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0003_message_grounded"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="citations",
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
    ]
