"""Generating one sprite: the attempt loop over models, retries and the wait budget.

The generation row exists before work starts (a crash leaves evidence) and is
completed at the end; one attempt row per upstream call. Pure decisions live
in `policy`; what to send each model and the call itself in `providers`.
"""
import logging
import random
import time

from django.utils import timezone

from . import policy
from .. import providers
from ..config import EffectiveSettings, effective_settings
from ..error_codes import message_of
from ..models import GenerationAttempt, GenerationRequest
from ..sprites import make_sprite, png_bytes
from ..styles import STYLES
from .spec import SpriteSpec, spec_of

logger = logging.getLogger("generation")
Outcome = GenerationAttempt.Outcome
Status = GenerationRequest.Status


def _log(level: int, event: str, row: GenerationRequest, **fields) -> None:
    logger.log(level, event, extra={"event": event, "request_id": str(row.id), **fields})


class Generator:
    """Runs one generation through the models. Clock, sleep and jitter are swappable for tests."""

    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)
    rand = staticmethod(random.random)
    now = staticmethod(timezone.now)
    call_model = staticmethod(providers.call_model)

    def run(self, row: GenerationRequest, config: EffectiveSettings | None = None) -> GenerationRequest:
        config = config or effective_settings()
        spec = spec_of(row)
        started = self.clock()
        row.status = Status.RUNNING
        row.model_requested = config.model
        row.save(update_fields=["status", "model_requested"])
        try:
            self._attempt_models(row, spec, config)
        except BaseException:
            row.status, row.error_code = Status.FAILED, "internal_error"
            row.error_message = message_of("internal_error")
            logger.exception("generation_crashed", extra={"event": "generation_crashed", "request_id": str(row.id)})
            raise
        finally:
            row.latency_ms = round((self.clock() - started) * 1000)
            row.finished_at = self.now()
            row.save()
        if row.status == Status.SUCCEEDED:
            _log(logging.INFO, "generation_succeeded", row, model=row.model_used, attempts=row.attempts,
                 retries=row.retries, fallback_used=row.fallback_used, latency_ms=row.latency_ms)
        else:
            _log(logging.WARNING, "generation_failed", row, model=row.model_used or config.model,
                 error_code=row.error_code, attempts=row.attempts, latency_ms=row.latency_ms)
        return row

    def _attempt_models(self, row: GenerationRequest, spec: SpriteSpec, config: EffectiveSettings) -> None:
        budget = config.max_wait if spec.max_wait is None else min(config.max_wait, spec.max_wait)
        max_retries = config.max_retries if config.enabled else 0
        waited = 0.0
        wait_before = 0.0
        needed_wait = 0.0  # what a client should wait before trying again, after a rate limit
        last_outcomes: dict[str, str] = {}
        style = STYLES[spec.style]

        for index, model in enumerate(config.models):
            if index:
                row.fallback_used = True
                _log(logging.WARNING, "fallback_used", row, model=model, previous_model=config.models[index - 1],
                     reason=last_outcomes[config.models[index - 1]])
            for retry in range(max_retries + 1):
                row.attempts += 1
                row.model_used = model
                failure, image, hint = self._call(row, model, spec, style, config, wait_before)
                wait_before = 0.0
                if failure is None:
                    row.image_png = png_bytes(make_sprite(
                        image, size=spec.size, colors=spec.colors, transparent=spec.transparent, outline=spec.outline))
                    row.status, row.error_code, row.error_message = Status.SUCCEEDED, "", ""
                    row.retries = row.attempts - index - 1
                    row.wait_ms = round(waited * 1000)
                    return
                last_outcomes[model] = failure.outcome
                action = policy.action_for(failure.outcome)
                if action is policy.Action.STOP:
                    if failure.outcome == Outcome.BAD_REQUEST:
                        # Our row was wrong, not the provider: someone must look.
                        logger.error("upstream_rejected_request", extra={
                            "event": "upstream_rejected_request", "request_id": str(row.id), "model": model,
                            "http_status": failure.http_status, "error_code": failure.code, "detail": failure.message})
                    self._fail(row, policy.final_error([failure.outcome]), failure.message, index, waited)
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
                _log(logging.WARNING, event, row, model=model, attempt=row.attempts, outcome=failure.outcome,
                     delay=f"{delay:.3f}", hint=hint)
                self.sleep(delay)
                waited += delay
                wait_before = delay

        code = policy.final_error(last_outcomes.values())
        if code == "rate_limit_exceeded":
            row.retry_after = policy.retry_after_seconds(needed_wait)
            _log(logging.WARNING, "rate_limit_exceeded", row, model=row.model_used, attempts=row.attempts,
                 retry_after=row.retry_after)
        self._fail(row, code, "", len(config.models) - 1, waited)
        if code == "upstream_unavailable":  # name the cause: the operator's to fix, not a wait
            row.error_message = f"{row.error_message} {policy.unavailable_cause(last_outcomes)}."

    def _call(self, row, model, spec, style, config, wait_before):
        upstream_request = providers.request_for(model, prompt=spec.prompt, size=spec.size, seed=spec.seed,
                                                 transparent=spec.transparent, style=style)
        started_at, t0 = self.now(), self.clock()
        failure, image, headers = None, None, None
        try:
            answer = self.call_model(upstream_request, timeout=config.timeout)
            image, cost = answer.image, answer.cost_usd
        except providers.UpstreamFailure as exc:
            failure, headers, cost = exc, exc.headers, exc.cost_usd
        row.cost_usd = providers.total_cost([row.cost_usd, cost])
        duration = self.clock() - t0
        hint = policy.rate_limit_hint(headers, now=self.now()) if failure else None
        GenerationAttempt.objects.create(
            request=row, number=row.attempts, started_at=started_at, model=model,
            outcome=failure.outcome if failure else Outcome.SUCCEEDED,
            http_status=failure.http_status if failure else 200, error_code=failure.code[:60] if failure else "",
            duration_ms=round(duration * 1000), wait_before_ms=round(wait_before * 1000),
            hint_ms=None if hint is None else round(hint * 1000), cost_usd=cost,
            message=failure.message[:300] if failure else "",  # scrubbed of secrets by providers.classify
        )
        return failure, image, hint

    @staticmethod
    def _fail(row, code: str, detail: str, last_index: int, waited: float) -> None:
        row.status, row.error_code = Status.FAILED, code
        # The provider's reason helps the user rephrase a refused prompt; other details are ours to read.
        said = f" Provider said: {detail}" if detail and code == "content_policy_violation" else ""
        row.error_message = message_of(code) + said
        row.retries = max(row.attempts - last_index - 1, 0)
        row.wait_ms = round(waited * 1000)


generator = Generator()
