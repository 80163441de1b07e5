# Readers' story imports (issue 27): a novel's owner, visibility and source.
# Existing rows are the catalogue's: no owner, public, source "catalogue".

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('novels', '0002_ingestion_status_missing'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='novel',
            name='owner',
            field=models.ForeignKey(blank=True, help_text="The reader who imported it; empty for the catalogue's novels", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='novels', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='novel',
            name='visibility',
            field=models.CharField(choices=[('private', 'private'), ('unlisted', 'unlisted'), ('public', 'public')], db_index=True, default='public', max_length=10),
        ),
        migrations.AddField(
            model_name='novel',
            name='source',
            field=models.CharField(choices=[('catalogue', 'Catalogue'), ('upload', 'Upload'), ('url', 'Url')], default='catalogue', max_length=10),
        ),
        migrations.AddField(
            model_name='novel',
            name='source_url',
            field=models.CharField(blank=True, default='', max_length=2000),
        ),
        migrations.AddField(
            model_name='novel',
            name='source_bytes',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='novel',
            name='ingest_job_id',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AddIndex(
            model_name='novel',
            index=models.Index(fields=['owner', '-created_at'], name='novel_owner_recent'),
        ),
    ]
