"""Generating one sprite: the attempt loop over models, the shared pacer and the budgets.

The generation row exists before work starts (a crash leaves evidence) and is
completed at the end; one attempt row per upstream call. Every decision is a
pure function in `policy` (`admission` before a call, `next_step` after one);
what to send each model and the call itself are in `providers`; the quota
shared with every other worker is in `pacing`.

Budgets (CONTRACT.md §2): waits (backoff and pacer slots) stay within
MAX_WAIT, the whole request within TOTAL_TIMEOUT; each call's timeout is cut to
what remains. No database connection is held across a wait or an upstream call
(docs/CAPACITY.md), so hundreds of requests in flight need only a few.
"""
import logging
import random
import time
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from . import pacing, policy
from .. import metrics, providers
from ..config import EffectiveSettings, effective_settings
from ..error_codes import message_of, status_of
from ..models import GenerationAttempt, GenerationRequest
from ..sprites import make_sprite, png_bytes
from ..styles import STYLES
from .pacer import Slot
from .policy import Decision, Step
from .spec import SpriteSpec, spec_of

logger = logging.getLogger("generation")
Outcome = GenerationAttempt.Outcome
Status = GenerationRequest.Status

PROBE_POLL = 0.1  # seconds between looks at the pacer while another call learns a model's quota
NO_ANSWER = {Outcome.TIMEOUT, Outcome.CONNECTION_ERROR}


def _log(level: int, event: str, row: GenerationRequest, **fields) -> None:
    logger.log(level, event, extra={"event": event, "request_id": str(row.id), **fields})


def release_db_connection() -> None:
    """Hand the connection back before a wait or an upstream call; the next query opens one.

    Inside a transaction (tests wrap each one in a transaction) the connection must stay.
    """
    if not connection.in_atomic_block:
        connection.close()


@dataclass
class Budgets:
    """One request's running totals, on the generator's clock."""

    max_wait: float
    deadline: float
    waited: float = 0.0
    waited_at_last_call: float = 0.0

    def wait_left(self) -> float:
        return max(self.max_wait - self.waited, 0.0)


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
            self._attempt_models(row, spec, config, started)
        except BaseException:
            row.status, row.error_code = Status.FAILED, "internal_error"
            row.error_message = message_of("internal_error")
            logger.exception("generation_crashed", extra={"event": "generation_crashed", "request_id": str(row.id)})
            raise
        finally:
            row.latency_ms = policy.clamp_ms(self.clock() - started)
            row.finished_at = self.now()
            row.save()
            metrics.record_request(200 if row.status == Status.SUCCEEDED else status_of(row.error_code), row.error_code,
                                   row.latency_ms / 1000, (row.wait_ms or 0) / 1000)
        if row.status == Status.SUCCEEDED:
            _log(logging.INFO, "generation_succeeded", row, model=row.model_used, attempts=row.attempts,
                 retries=row.retries, fallback_used=row.fallback_used, latency_ms=row.latency_ms)
        else:
            _log(logging.WARNING, "generation_failed", row, model=row.model_used or config.model,
                 error_code=row.error_code, attempts=row.attempts, latency_ms=row.latency_ms)
        return row

    def _attempt_models(self, row: GenerationRequest, spec: SpriteSpec, config: EffectiveSettings,
                        started: float) -> None:
        total = config.total_timeout if spec.timeout is None else min(config.total_timeout, spec.timeout)
        budgets = Budgets(max_wait=config.max_wait if spec.max_wait is None else min(config.max_wait, spec.max_wait),
                          deadline=started + total)
        max_retries = config.retries_per_model
        limits = pacing.admin_limits(config.models) if config.enabled else {}
        outcomes: dict[str, str] = {}  # the last outcome of each model tried (admission refusals included)
        soonest: float | None = None  # the earliest a client could come back, after rate limits
        decision, last_reply, called = Decision(Step.STOP), None, set()
        style = STYLES[spec.style]

        for index, model in enumerate(config.models):
            more = index < len(config.models) - 1
            if index:
                row.fallback_used = True
                _log(logging.WARNING, "fallback_used", row, model=model, previous_model=config.models[index - 1],
                     reason=outcomes[config.models[index - 1]])
            request = providers.request_for(model, prompt=spec.prompt, size=spec.size, seed=spec.seed,
                                            transparent=spec.transparent, style=style)
            key = pacing.key_of(request) if config.enabled and pacing.paced(model) else None
            retry = 0
            while True:
                slot, decision = self._admit(row, model, key, limits.get(model), budgets, config, more)
                if decision.step is not Step.CALL:
                    # Not called: a slot beyond the budgets is a rate limit; no time left is a timeout.
                    outcomes[model] = Outcome.RATE_LIMITED if decision.retry_after is not None else \
                        outcomes.get(model, Outcome.TIMEOUT)
                    break
                reply, hint = self._call(row, model, request, key, slot, budgets, config)
                last_reply = reply
                called.add(model)
                if reply.ok:
                    row.image_png = png_bytes(make_sprite(reply.image, size=spec.size, colors=spec.colors,
                                                          transparent=spec.transparent, outline=spec.outline))
                    row.status, row.error_code, row.error_message = Status.SUCCEEDED, "", ""
                    self._totals(row, budgets, called)
                    return
                outcomes[model] = reply.outcome
                decision = policy.next_step(
                    outcome=reply.outcome, retry=retry, max_retries=max_retries, retry_delay=config.retry_delay,
                    hint=hint, rand=self.rand(), wait_left=budgets.wait_left(),
                    time_left=budgets.deadline - self.clock(), more_models=more)
                if key and reply.outcome == Outcome.RATE_LIMITED:
                    # Everyone holds off until the hint passes; without one, for as long as we back off.
                    pause = hint if hint is not None else decision.delay or decision.retry_after or 0.0
                    pacing.shared_pacer().pause(key, until=pacing.shared_pacer().timer() + pause)
                if decision.step is not Step.CALL:
                    if reply.outcome == Outcome.BAD_REQUEST:
                        # Our request was wrong, not the provider: someone must look.
                        logger.error("upstream_rejected_request", extra={
                            "event": "upstream_rejected_request", "request_id": str(row.id), "model": model,
                            "http_status": reply.http_status, "error_code": reply.code, "detail": reply.message})
                    break
                event = "rate_limited_retrying" if reply.outcome == Outcome.RATE_LIMITED else "upstream_failed_retrying"
                _log(logging.WARNING, event, row, model=model, attempt=row.attempts, outcome=reply.outcome,
                     delay=f"{decision.delay:.3f}", hint=hint)
                self._wait(decision.delay, budgets)
                retry += 1
            if decision.retry_after is not None:
                soonest = decision.retry_after if soonest is None else min(soonest, decision.retry_after)
            if decision.step is Step.STOP:
                break
        detail = last_reply.message if last_reply is not None and decision.step is Step.STOP else ""
        self._fail(row, outcomes, decision, soonest, budgets, called, detail=detail)

    def _admit(self, row, model, key, rpm, budgets, config, more) -> tuple[Slot | None, Decision]:
        """Book this model's next call with the pacer, within the budgets, or decide not to call it."""
        if budgets.deadline - self.clock() < policy.MIN_CALL:  # no time left for any call
            return None, Decision(Step.STOP)
        if key is None:
            return None, Decision(Step.CALL)
        pacer = pacing.shared_pacer()
        while True:
            wait_left, time_left = budgets.wait_left(), budgets.deadline - self.clock()
            horizon = max(0.0, min(wait_left, time_left - policy.MIN_CALL))
            now = pacer.timer()
            got = pacer.acquire(key, now=now, deadline=now + horizon, rpm=rpm,
                                lease=max(min(config.timeout, time_left), 1.0))
            if isinstance(got, Slot):
                wait = max(got.at - now, 0.0)
                if not wait:
                    return got, Decision(Step.CALL)
                _log(logging.INFO, "pacer_wait", row, model=model, seconds=f"{wait:.3f}")
                self._wait(wait, budgets)
                if pacer.paused_until(key) <= pacer.timer():
                    return got, Decision(Step.CALL, delay=wait)
                pacer.release(key, got)  # a 429 paused the model while we waited: book again
                continue
            if got.reason == "probe":
                if policy.fits(PROBE_POLL, wait_left=wait_left, time_left=time_left):
                    self._wait(min(PROBE_POLL, got.seconds), budgets)
                    continue
                # Another call is learning the quota and this request has no budget to wait for its
                # answer: the probe tells nothing about when a slot comes, so go out unbooked.
                return None, Decision(Step.CALL)
            decision = policy.admission(got.seconds, wait_left=wait_left, time_left=time_left, more_models=more)
            if decision.step is Step.CALL:  # a probe's lease that ends within the budgets: wait it out, ask again
                self._wait(decision.delay, budgets)
                continue
            if decision.step is Step.REJECT:
                _log(logging.WARNING, "admission_rejected", row, model=model, reason=got.reason,
                     retry_after=policy.retry_after_seconds(got.seconds))
            return None, decision

    def _wait(self, seconds: float, budgets: Budgets) -> None:
        if seconds <= 0:
            return
        release_db_connection()
        self.sleep(seconds)
        budgets.waited += seconds

    def _call(self, row, model, request, key, slot, budgets, config):
        """One upstream call, its attempt row, and what the pacer learns from it: (reply, wait hint)."""
        row.attempts += 1
        row.model_used = model
        timeout = min(config.timeout, max(budgets.deadline - self.clock(), 0.1))
        pacer = pacing.shared_pacer() if key else None
        started_at, t0, sent = self.now(), self.clock(), pacer.timer() if pacer else 0.0
        release_db_connection()
        reply = self.call_model(request, timeout=timeout)
        row.cost_usd = providers.total_cost([row.cost_usd, reply.cost_usd])
        duration = self.clock() - t0
        hint = reply.signal.wait  # the provider's own word (providers.signals), on a 429 or 503
        if pacer:
            answered = reply.outcome not in NO_ANSWER
            pacer.observe(key, reply.headers, status=reply.http_status if answered else None, slot=slot, sent_at=sent)
        metrics.record_attempt(model, reply.outcome)
        GenerationAttempt.objects.create(
            request=row, number=row.attempts, started_at=started_at, model=model, outcome=reply.outcome,
            http_status=reply.http_status, error_code=reply.code[:60], duration_ms=policy.clamp_ms(duration),
            wait_before_ms=policy.clamp_ms(budgets.waited - budgets.waited_at_last_call), hint_ms=policy.clamp_ms(hint),
            cost_usd=reply.cost_usd, message=reply.message[:300],  # scrubbed of secrets by providers.classify
        )
        budgets.waited_at_last_call = budgets.waited
        return reply, hint

    @staticmethod
    def _totals(row: GenerationRequest, budgets: Budgets, called: set[str]) -> None:
        """`retries` in one place: every attempt after the first on each model called."""
        row.retries = max(row.attempts - len(called), 0)
        row.wait_ms = policy.clamp_ms(budgets.waited)

    def _fail(self, row, outcomes, decision, soonest, budgets, called, *, detail: str) -> None:
        code = policy.final_error(outcomes.values()) if outcomes else "upstream_timeout"
        row.status, row.error_code = Status.FAILED, code
        # The provider's reason helps the user rephrase a refused prompt; other details are ours to read.
        said = f" Provider said: {detail}" if detail and code == "content_policy_violation" else ""
        row.error_message = message_of(code) + said
        if code == "upstream_unavailable":  # name the cause: the operator's to fix, not a wait
            row.error_message = f"{row.error_message} {policy.unavailable_cause(outcomes)}."
        if code == "rate_limit_exceeded":
            row.retry_after = policy.retry_after_seconds(soonest if soonest is not None else 1.0)
            if not decision.at_admission:  # else admission_rejected said it
                _log(logging.WARNING, "rate_limit_exceeded", row, model=row.model_used, attempts=row.attempts,
                     retry_after=row.retry_after)
        self._totals(row, budgets, called)


generator = Generator()
