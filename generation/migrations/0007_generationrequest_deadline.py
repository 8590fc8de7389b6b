from datetime import timedelta

from django.db import migrations, models
from django.db.models import F

# Rows taken before deadlines were stored get the longest deadline any request could have had
# (TOTAL_TIMEOUT's upper bound), so that the reaper never finishes a live one early. A literal,
# not the tunables table: a migration must not change when that table does.
LONGEST_TOTAL_TIMEOUT = timedelta(seconds=900)


def backfill(apps, schema_editor):
    GenerationRequest = apps.get_model("generation", "GenerationRequest")
    GenerationRequest.objects.filter(deadline__isnull=True).update(deadline=F("created_at") + LONGEST_TOTAL_TIMEOUT)


class Migration(migrations.Migration):

    dependencies = [
        ("generation", "0006_model_rate_limit"),
    ]

    operations = [
        migrations.AddField(
            model_name="generationrequest",
            name="deadline",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
