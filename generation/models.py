import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from .tunables import BY_NAME

WEIGHT_DEFAULT, WEIGHT_MAX = 1, 100  # an API token's fair-share weight


def _bounded(name: str) -> dict:
    """A bounded field's validators and help text, from its row in the tunables table."""
    tunable = BY_NAME[name]
    return {"validators": [MinValueValidator(tunable.low), MaxValueValidator(tunable.high)],
            "help_text": tunable.help_text}


class GenerationSettings(models.Model):
    """The one row of admin overrides. A blank field follows the environment.

    Never `default=env(...)` here: a migration would freeze the value.
    """

    enabled = models.BooleanField(null=True, blank=True, help_text=BY_NAME["enabled"].help_text)
    model = models.CharField(max_length=200, blank=True, help_text=BY_NAME["model"].help_text)
    max_retries = models.PositiveSmallIntegerField(null=True, blank=True, **_bounded("max_retries"))
    retry_delay = models.FloatField(null=True, blank=True, **_bounded("retry_delay"))
    fallback_models = models.CharField(max_length=1000, blank=True, help_text=BY_NAME["fallback_models"].help_text)
    max_wait = models.FloatField(null=True, blank=True, **_bounded("max_wait"))
    timeout = models.FloatField(null=True, blank=True, **_bounded("timeout"))
    total_timeout = models.FloatField(null=True, blank=True, **_bounded("total_timeout"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "generation settings"
        permissions = [("change_generation_settings", "Can change generation settings")]

    def __str__(self) -> str:
        return "Generation settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1  # a singleton: every save writes the same row
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "GenerationSettings":
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class ApiTokenManager(BaseAPIKeyManager):
    def get_usable_keys(self):
        return super().get_usable_keys().select_related("user")


class ApiToken(AbstractAPIKey):
    """A plugin's bearer token: stored as a SHA-512 hash, shown once, revocable."""

    objects = ApiTokenManager()

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Its share of a scarce model quota against the other tokens waiting (README "Fair share"):
    # weight 2 gets twice the calls of weight 1 while both wait; 0 refuses the token's requests.
    weight = models.PositiveSmallIntegerField(
        default=WEIGHT_DEFAULT, validators=[MaxValueValidator(WEIGHT_MAX)],
        help_text=f"Share of a busy model's quota against other waiting tokens (0..{WEIGHT_MAX}; "
                  "2 gets twice the calls of 1). 0 refuses this token's requests.")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API token"
        verbose_name_plural = "API tokens"


class GenerationRequest(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Arrival + TOTAL_TIMEOUT (shortened by the body's `timeout`), fixed when the request is taken:
    # the loop, the job and the reaper all measure from it. Blank only on rows made outside the API.
    deadline = models.DateTimeField(null=True, blank=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generation_requests")
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # SHA-256 (hex) of the client's full Idempotency-Key: exact, whatever its length, and not the key itself.
    idempotency_key = models.CharField(max_length=200, blank=True)
    # SHA-256 (hex) of what was asked: a repeat of the key with a different body is refused.
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    # "host:pid" of the process working on it, so that its death finishes the row at once.
    worker = models.CharField(max_length=100, blank=True, editable=False)

    prompt = models.TextField()
    style = models.CharField(max_length=40)
    size = models.PositiveSmallIntegerField()
    options = models.JSONField(default=dict, blank=True, help_text="transparent, colors, seed, outline, max_wait, timeout")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    model_requested = models.CharField(max_length=200, blank=True)
    model_used = models.CharField(max_length=200, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    retries = models.PositiveSmallIntegerField(default=0)
    fallback_used = models.BooleanField(default=False)
    wait_ms = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True, db_index=True)
    error_message = models.TextField(blank=True)
    retry_after = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True,
        help_text="Sum of the attempts' known costs in USD; blank when no attempt could be priced.")
    image_png = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Covers the admin's statistics scans, so they skip the stored PNGs (bench/admin_stats.py).
            models.Index(fields=["created_at", "status", "model_used", "error_code", "retries", "latency_ms", "wait_ms",
                                 "attempts", "fallback_used", "id", "cost_usd"], name="generation_req_stats_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["token", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="unique_idempotency_key_per_token",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"


class GenerationAttempt(models.Model):
    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        RATE_LIMITED = "rate_limited"
        QUOTA_EXHAUSTED = "quota_exhausted"
        SERVER_ERROR = "server_error"
        TIMEOUT = "timeout"
        CONNECTION_ERROR = "connection_error"
        MALFORMED = "malformed"
        MODEL_NOT_FOUND = "model_not_found"
        AUTH_FAILED = "auth_failed"
        CONTENT_POLICY = "content_policy"
        BAD_REQUEST = "bad_request"
        # LiteLLM refused the model before any call: it cannot route it, or rejects its parameters.
        MODEL_UNSUPPORTED = "model_unsupported"

    request = models.ForeignKey(GenerationRequest, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField(help_text="1-based, across all models of the request")
    started_at = models.DateTimeField()
    model = models.CharField(max_length=200)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    duration_ms = models.PositiveIntegerField()
    wait_before_ms = models.PositiveIntegerField(default=0)
    hint_ms = models.PositiveIntegerField(null=True, blank=True, help_text="the upstream's rate-limit hint")
    message = models.CharField(max_length=300, blank=True, help_text="the provider's message, truncated, secrets removed")
    cost_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True,
        help_text="USD from LiteLLM's cost map; 0 when the provider refused the call; blank when unknown.")

    class Meta:
        ordering = ["request", "number"]
        constraints = [models.UniqueConstraint(fields=["request", "number"], name="unique_attempt_number")]

    def __str__(self) -> str:
        return f"#{self.number} {self.model} {self.outcome}"


class ModelRateLimit(models.Model):
    """A model's known request limit, recorded by an admin. The pacer uses it instead of
    learning the limit from the provider's headers; without a row, it learns."""

    model = models.CharField(max_length=200, unique=True, help_text="A LiteLLM model string, e.g. openai/gpt-image-2.")
    requests_per_minute = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="The provider's limit for this model, requests per minute (1-1,000,000).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]
        verbose_name = "model rate limit"

    def __str__(self) -> str:
        return f"{self.model}: {self.requests_per_minute}/min"
