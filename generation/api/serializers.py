import base64

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from .. import providers
from ..models import GenerationRequest
from ..styles import DEFAULT_STYLE, STYLES
from ..tunables import BY_NAME, REQUEST_TIMEOUT_LOW


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: "yes" or 1 from a plugin is a bug worth a 400."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SecondsField(serializers.FloatField):
    """A finite number of seconds within a tunable's bounds: it can shorten a budget, never lengthen it.
    A JSON number only: `false` or "1.5" from a plugin is a bug worth a 400, not 0.0 or 1.5."""

    def __init__(self, tunable: str, *, low: float | None = None, **kwargs) -> None:
        super().__init__(min_value=BY_NAME[tunable].low if low is None else low, max_value=BY_NAME[tunable].high,
                         **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if value != value or value in (float("inf"), float("-inf")):
            self.fail("invalid")
        return value


# What the schema promises is exactly what validation accepts: a prompt with something besides
# white space (it is trimmed) and no NUL, and a style from the published list.
@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 1000, "pattern": r"^[^\x00]*\S[^\x00]*$"})
class PromptField(StrictCharField):
    pass


@extend_schema_field({"type": "string", "enum": list(STYLES), "default": DEFAULT_STYLE})
class StyleField(StrictCharField):
    pass


class GenerateSerializer(serializers.Serializer):
    prompt = PromptField(min_length=1, max_length=1000, trim_whitespace=True)
    style = StyleField(required=False, default=DEFAULT_STYLE)
    size = StrictIntegerField(required=False, default=64, min_value=8, max_value=256)
    transparent = StrictBooleanField(required=False)
    colors = StrictIntegerField(required=False, min_value=2, max_value=64)
    seed = StrictIntegerField(required=False, min_value=-(2**63), max_value=2**63 - 1)
    outline = StrictBooleanField(required=False)
    max_wait = SecondsField("max_wait", required=False)
    timeout = SecondsField("total_timeout", low=REQUEST_TIMEOUT_LOW, required=False)
    # `async` is a Python keyword; the JSON field keeps the contract's name.
    run_async = StrictBooleanField(required=False, default=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["async"] = fields.pop("run_async")
        return fields

    def validate_style(self, value: str) -> str:
        if value not in STYLES:
            raise serializers.ValidationError(f"unknown style {value!r}; valid styles: {', '.join(STYLES)}")
        return value

    def validate(self, attrs: dict) -> dict:
        style = STYLES[attrs["style"]]
        attrs.setdefault("transparent", style.transparent)
        attrs.setdefault("colors", style.colors)
        attrs.setdefault("outline", style.outline)
        return attrs


class GenerationSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_used")
    seed = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    images = serializers.SerializerMethodField()
    # A number, not DRF's decimal string; null when no attempt could be priced.
    cost_usd = serializers.FloatField(read_only=True)
    subject_matched = serializers.SerializerMethodField()

    class Meta:
        model = GenerationRequest
        fields = [
            "id", "status", "created_at", "finished_at", "prompt", "style", "size", "seed", "model",
            "model_requested", "attempts", "retries", "fallback_used", "wait_ms", "latency_ms", "cost_usd", "error", "images",
            "subject_matched",
        ]

    def get_seed(self, obj: GenerationRequest) -> int | None:
        return obj.options.get("seed")

    @extend_schema_field(serializers.BooleanField(allow_null=True, help_text=(
        "The built-in offline model only: false when it did not know what the prompt names and drew a "
        "creature in the prompt's colours instead (README: what the offline model draws). Null for any other "
        "model, and until the request succeeded.")))
    def get_subject_matched(self, obj: GenerationRequest) -> bool | None:
        if obj.status != GenerationRequest.Status.SUCCEEDED:
            return None
        return providers.subject_matched(obj.model_used, obj.prompt)

    @extend_schema_field(inline_serializer("GenerationError", fields={
        "code": serializers.CharField(), "message": serializers.CharField()}, allow_null=True))
    def get_error(self, obj: GenerationRequest):
        if not obj.error_code:
            return None
        error = {"code": obj.error_code, "message": obj.error_message}
        if obj.retry_after is not None:
            error["retry_after"] = obj.retry_after
        return error

    @extend_schema_field(inline_serializer("Image", many=True, fields={
        "b64_png": serializers.CharField(), "width": serializers.IntegerField(), "height": serializers.IntegerField()}))
    def get_images(self, obj: GenerationRequest) -> list:
        if not obj.image_png:
            return []
        return [{"b64_png": base64.b64encode(bytes(obj.image_png)).decode("ascii"), "width": obj.size, "height": obj.size}]
