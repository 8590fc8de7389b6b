import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("generation", "0007_generationrequest_deadline"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="weight",
            field=models.PositiveSmallIntegerField(
                default=1,
                help_text="Share of a busy model's quota against other waiting tokens (0..100; 2 gets twice the "
                          "calls of 1). 0 refuses this token's requests.",
                validators=[django.core.validators.MaxValueValidator(100)]),
        ),
    ]
