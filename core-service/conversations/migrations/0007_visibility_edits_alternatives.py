from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0006_memory"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="visibility",
            field=models.CharField(
                choices=[("private", "Private"), ("unlisted", "Unlisted"), ("public", "Public")],
                db_default="public",
                default="public",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="edited_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="deleted",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="message",
            name="stale",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="message",
            name="alternatives",
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
        migrations.AddField(
            model_name="message",
            name="chosen",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
    ]
