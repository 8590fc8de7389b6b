"""Generating one sprite: the attempt loop over models, retries and the wait budget.

The request row is written when work starts (a crash leaves evidence) and
completed at the end; one attempt row per upstream call. Pure decisions live
in `policy`; the upstream call in `providers`.
"""
import logging
import random
import time
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import policy
from .. import providers
from ..config import EffectiveSettings, effective_settings
from ..models import ApiToken, GenerationAttempt, GenerationRequest
from ..sprites import make_sprite, png_bytes
from ..styles import STYLES

logger = logging.getLogger("generation")
Outcome = GenerationAttempt.Outcome
Status = GenerationRequest.Status


@dataclass(frozen=True)
class SpriteSpec:
    prompt: str
    style: str
    size: int
    transparent: bool
    colors: int
    outline: bool
    seed: int | None = None
    max_wait: float | None = None


def _log(level: int, event: str, request: GenerationRequest, **fields) -> None:
    logger.log(level, event, extra={"event": event, "request_id": str(request.id), **fields})


def create_request(*, token: ApiToken, spec: SpriteSpec, idempotency_key: str = "",
                   status: str = Status.RUNNING) -> tuple[GenerationRequest, bool]:
    """The request row, or the earlier one with the same Idempotency-Key: (row, created)."""
    options = {"transparent": spec.transparent, "colors": spec.colors, "outline": spec.outline, "seed": spec.seed,
               "max_wait": spec.max_wait}
    if idempotency_key:
        earlier = GenerationRequest.objects.filter(token=token, idempotency_key=idempotency_key).first()
        if earlier:
            return earlier, False
    try:
        with transaction.atomic():
            row = GenerationRequest.objects.create(
                user=token.user, token=token, idempotency_key=idempotency_key, prompt=spec.prompt, style=spec.style,
                size=spec.size, options=options, status=status,
            )
    except IntegrityError:  # the same key raced in from a second connection
        return GenerationRequest.objects.get(token=token, idempotency_key=idempotency_key), False
    return row, True


def spec_of(request: GenerationRequest) -> SpriteSpec:
    o = request.options
    return SpriteSpec(prompt=request.prompt, style=request.style, size=request.size, transparent=o["transparent"],
                      colors=o["colors"], outline=o["outline"], seed=o.get("seed"), max_wait=o.get("max_wait"))


class Generator:
    """Runs one request through the models. Clock, sleep and jitter are swappable for tests."""

    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)
    rand = staticmethod(random.random)
    now = staticmethod(timezone.now)
    call_model = staticmethod(providers.call_model)

    def run(self, request: GenerationRequest, config: EffectiveSettings | None = None) -> GenerationRequest:
        config = config or effective_settings()
        spec = spec_of(request)
        started = self.clock()
        request.status = Status.RUNNING
        request.model_requested = config.model
        request.save(update_fields=["status", "model_requested"])
        try:
            self._attempt_models(request, spec, config)
        except BaseException:
            request.status, request.error_code = Status.FAILED, "internal_error"
            request.error_message = "The service failed while generating; it has been logged."
            logger.exception("generation_crashed", extra={"event": "generation_crashed", "request_id": str(request.id)})
            raise
        finally:
            request.latency_ms = round((self.clock() - started) * 1000)
            request.finished_at = self.now()
            request.save()
        if request.status == Status.SUCCEEDED:
            _log(logging.INFO, "generation_succeeded", request, model=request.model_used, attempts=request.attempts,
                 retries=request.retries, fallback_used=request.fallback_used, latency_ms=request.latency_ms)
        else:
            _log(logging.WARNING, "generation_failed", request, model=request.model_used or config.model,
                 error_code=request.error_code, attempts=request.attempts, latency_ms=request.latency_ms)
        return request

    def _attempt_models(self, request: GenerationRequest, spec: SpriteSpec, config: EffectiveSettings) -> None:
        budget = config.max_wait if spec.max_wait is None else min(config.max_wait, spec.max_wait)
        max_retries = config.max_retries if config.enabled else 0
        waited = 0.0
        wait_before = 0.0
        needed_wait = 0.0  # what a client should wait before trying again, after a rate limit
        last_outcomes: dict[str, str] = {}
        style = STYLES[spec.style]

        for index, model in enumerate(config.models):
            if index:
                request.fallback_used = True
                _log(logging.WARNING, "fallback_used", request, model=model, previous_model=config.models[index - 1],
                     reason=last_outcomes[config.models[index - 1]])
            for retry in range(max_retries + 1):
                request.attempts += 1
                request.model_used = model
                failure, image, hint = self._call(request, model, spec, style, config, wait_before)
                wait_before = 0.0
                if failure is None:
                    request.image_png = png_bytes(make_sprite(
                        image, size=spec.size, colors=spec.colors, transparent=spec.transparent, outline=spec.outline))
                    request.status, request.error_code, request.error_message = Status.SUCCEEDED, "", ""
                    request.retries = request.attempts - index - 1
                    request.wait_ms = round(waited * 1000)
                    return
                last_outcomes[model] = failure.outcome
                action = policy.action_for(failure.outcome)
                if action is policy.Action.STOP:
                    if failure.outcome == Outcome.BAD_REQUEST:
                        # Our request was wrong, not the provider: someone must look.
                        logger.error("upstream_rejected_request", extra={
                            "event": "upstream_rejected_request", "request_id": str(request.id), "model": model,
                            "http_status": failure.http_status, "error_code": failure.code, "detail": failure.message})
                    self._fail(request, policy.final_error([failure.outcome]), failure.message, index, waited)
                    return
                delay = None
                if action is policy.Action.RETRY and retry < max_retries:
                    delay = policy.backoff_delay(retry, config.retry_delay, hint=hint, rand=self.rand())
                    if waited + delay > budget:
                        delay = None  # sleeping past the budget would hang the plugin: move on now
                if delay is None:
                    if failure.outcome == Outcome.RATE_LIMITED:
                        needed_wait = hint if hint is not None else policy.backoff_cap(retry, config.retry_delay)
                    break
                event = "rate_limited_retrying" if failure.outcome == Outcome.RATE_LIMITED else "upstream_failed_retrying"
                _log(logging.WARNING, event, request, model=model, attempt=request.attempts, outcome=failure.outcome,
                     delay=f"{delay:.3f}", hint=hint)
                self.sleep(delay)
                waited += delay
                wait_before = delay

        status, code = policy.final_error(last_outcomes.values())
        if code == "rate_limit_exceeded":
            request.retry_after = policy.retry_after_seconds(needed_wait)
            _log(logging.WARNING, "rate_limit_exceeded", request, model=request.model_used, attempts=request.attempts,
                 retry_after=request.retry_after)
        self._fail(request, (status, code), "", len(config.models) - 1, waited)

    def _call(self, request, model, spec, style, config, wait_before):
        prompt = spec.prompt if providers.is_offline(model) else f"{spec.prompt}. {style.prompt_suffix}"
        params = providers.image_params(model, size=spec.size, seed=spec.seed, transparent=spec.transparent,
                                        style_params=style.model_params)
        started_at, t0 = self.now(), self.clock()
        failure, image, headers = None, None, None
        try:
            result = self.call_model(model=model, prompt=prompt, params=params, timeout=config.timeout)
            image = result.image
        except providers.UpstreamFailure as exc:
            failure, headers = exc, exc.headers
        duration = self.clock() - t0
        hint = policy.rate_limit_hint(headers, now=self.now()) if failure else None
        GenerationAttempt.objects.create(
            request=request, number=request.attempts, started_at=started_at, model=model,
            outcome=failure.outcome if failure else Outcome.SUCCEEDED,
            http_status=failure.http_status if failure else 200, error_code=failure.code[:60] if failure else "",
            duration_ms=round(duration * 1000), wait_before_ms=round(wait_before * 1000),
            hint_ms=None if hint is None else round(hint * 1000),
        )
        return failure, image, hint

    @staticmethod
    def _fail(request, status_code: tuple[int, str], detail: str, last_index: int, waited: float) -> None:
        status, code = status_code
        request.status, request.error_code = Status.FAILED, code
        request.error_message = MESSAGES[code] + (f" Provider said: {detail}" if detail and status == 422 else "")
        request.retries = max(request.attempts - last_index - 1, 0)
        request.wait_ms = round(waited * 1000)


MESSAGES = {
    "rate_limit_exceeded": "The image provider is rate-limiting us; retries, fallbacks and the wait budget ran out.",
    "upstream_timeout": "The image provider did not answer in time.",
    "upstream_error": "The image provider failed.",
    "upstream_unavailable": "No image model is available (out of quota, retired, or credentials rejected).",
    "content_policy_violation": "The provider refused this prompt.",
}

generator = Generator()
