"""Generating one sprite: the attempt loop over models, the shared pacer and the budgets.

The generation row exists before work starts (a crash leaves evidence) and is
finished once at the end (`finishing`: unless the reaper finished it first); one
attempt row per upstream call. Every decision is a pure function in `policy`
(`admission` before a call, `while_probing`, `next_step` after one,
`pause_after_rate_limit`); the loop's running totals are one `Tally`; what to
send each model and the call itself are in `providers`; the quota shared with
every other worker is in `pacing`.

Budgets (README, "How a request survives rate limits"): waits (backoff and pacer slots) stay within
MAX_WAIT, the whole request within its deadline, stored on its row at arrival
(TOTAL_TIMEOUT, or the body's shorter `timeout`); each call's timeout is cut to
what remains. No database connection is held across a wait or an upstream call
(docs/CAPACITY.md), so hundreds of requests in flight need only a few.
"""
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from . import finishing, policy
from .. import metrics, providers
from ..config import EffectiveSettings, effective_settings
from ..error_codes import message_of, retry_after_of, status_of
from ..models import GenerationAttempt, GenerationRequest
from ..quota import pacing
from ..quota.pacer import Claimant, Pacer, Queued, Slot
from ..sprites import make_sprite, png_bytes
from ..styles import STYLES
from .policy import Decision, Step
from .spec import SpriteSpec, spec_of

logger = logging.getLogger("generation")
Outcome = GenerationAttempt.Outcome
Status = GenerationRequest.Status

DEFER_AFTER = 5.0  # seconds: a deferrable request whose slot is further off gives its thread back
NO_ANSWER = {Outcome.TIMEOUT, Outcome.CONNECTION_ERROR}


def _log(level: int, event: str, row: GenerationRequest, **fields) -> None:
    logger.log(level, event, extra={"event": event, "request_id": str(row.id), **fields})


def release_db_connection() -> None:
    """Hand the connection back before a wait or an upstream call; the next query opens one.

    Inside a transaction (tests wrap each one in a transaction) the connection must stay.
    """
    if not connection.in_atomic_block:
        connection.close()


def deadline_of(*, arrival: datetime, config: EffectiveSettings, spec: SpriteSpec) -> datetime:
    """When a request taken at `arrival` must be answered: TOTAL_TIMEOUT, or the body's shorter `timeout`."""
    _, total = policy.request_budgets(max_wait=config.max_wait, total_timeout=config.total_timeout,
                                      requested_wait=spec.max_wait, requested_timeout=spec.timeout)
    return arrival + timedelta(seconds=total)


@dataclass(frozen=True)
class Booked:
    """The first pacer slot of a request that gave its worker thread back until then (`Deferred`).

    `at` is wall-clock epoch seconds, since the request may come back on another host (whose
    monotonic clock means nothing here): the call goes out then; `waited` seconds of MAX_WAIT
    are spent by then. The request's deadline is on its row."""

    at: float
    ticket: str
    waited: float


class Deferred(Exception):
    """A deferrable request's first slot is `delay` seconds ahead: run it again then, holding nothing."""

    def __init__(self, booked: Booked, delay: float):
        super().__init__(f"deferred for {delay:.3f} s")
        self.booked, self.delay = booked, delay


@dataclass
class Tally:
    """One request's running totals, on the generator's clock: all the loop counts, in one value.

    The row is written from it once, when the request is finished (`fields`)."""

    max_wait: float
    deadline: float
    waited: float = 0.0
    waited_at_last_call: float = 0.0
    attempts: int = 0
    model_used: str = ""
    fallback_used: bool = False
    cost_usd: Decimal | None = None
    called: set[str] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)  # each model's last outcome, admission refusals included
    soonest: float | None = None  # the earliest a client could come back, after rate limits
    claimant: Claimant | None = None  # the API token asking, for the fair share of each model's quota

    def wait_left(self) -> float:
        return max(self.max_wait - self.waited, 0.0)

    def could_return_in(self, seconds: float | None) -> None:
        if seconds is not None:
            self.soonest = seconds if self.soonest is None else min(self.soonest, seconds)

    def fields(self) -> dict:
        """The row's figures. `retries` in one place: every attempt after the first on each model called."""
        return {"attempts": self.attempts, "retries": max(self.attempts - len(self.called), 0),
                "wait_ms": policy.clamp_ms(self.waited), "model_used": self.model_used,
                "fallback_used": self.fallback_used, "cost_usd": self.cost_usd}


class Generator:
    """Runs one generation through the models.

    Its collaborators are given, with real defaults, so that tests pass their own: the clock
    and sleep of its waits, jitter, the wall clock of its rows, the upstream call, and the
    pacer (None: the process's shared one, looked up per request).
    """

    def __init__(self, *, clock=time.monotonic, sleep=time.sleep, rand=random.random, now=timezone.now,
                 call_model=providers.call_model, pacer: Pacer | None = None) -> None:
        self.clock, self.sleep, self.rand, self.now = clock, sleep, rand, now
        self.call_model = call_model
        self.pacer = pacer

    def quota(self) -> Pacer:
        return self.pacer if self.pacer is not None else pacing.shared_pacer()

    def run(self, row: GenerationRequest, config: EffectiveSettings | None = None, *,
            deferrable: bool = False, booked: Booked | None = None) -> GenerationRequest:
        """Generate for `row` and finish it, unless someone else finished it first. Returns the row
        as it stands: this run's verdict, or the one that won.

        `deferrable`: when the first slot lies more than DEFER_AFTER ahead, raise Deferred (the row
        back to `queued`) instead of waiting; `booked`: the slot of such a request, now due."""
        config = config or effective_settings()
        spec = spec_of(row)
        if not finishing.claim(row, model_requested=config.model):
            return row
        started = self.clock()
        deadline = row.deadline or deadline_of(arrival=self.now(), config=config, spec=spec)
        max_wait, _ = policy.request_budgets(max_wait=config.max_wait, total_timeout=config.total_timeout,
                                             requested_wait=spec.max_wait, requested_timeout=spec.timeout)
        tally = Tally(max_wait=max_wait, deadline=started + (deadline - self.now()).total_seconds(),
                      claimant=pacing.claimant_of(row))
        if booked is not None:  # the wait budget it had spent when it gave its thread back
            tally.waited = booked.waited - max(booked.at - self.now().timestamp(), 0.0)  # the rest is waited below
        verdict: dict = {}
        deferred = False
        try:
            verdict = self._attempt_models(row, spec, config, tally, deferrable=deferrable, booked=booked)
        except Deferred:
            deferred = True
            GenerationRequest.objects.filter(pk=row.pk, status=Status.RUNNING).update(status=Status.QUEUED)
            row.status = Status.QUEUED
            raise
        except BaseException:
            verdict = {"status": Status.FAILED, "error_code": "internal_error",
                       "error_message": message_of("internal_error")}
            logger.exception("generation_crashed", extra={"event": "generation_crashed", "request_id": str(row.id)})
            raise
        finally:
            if not deferred:  # a deferred request is not finished
                latency_ms = policy.clamp_ms(self.clock() - started)
                won = finishing.finish(row, {**verdict, **tally.fields(), "latency_ms": latency_ms,
                                             "finished_at": self.now()}, by="generation")
                metrics.record_request(200 if row.status == Status.SUCCEEDED else status_of(row.error_code),
                                       row.error_code, latency_ms / 1000, (row.wait_ms or 0) / 1000)
        if not won:  # finishing logged it; the row holds the verdict that won
            return row
        if row.status == Status.SUCCEEDED:
            _log(logging.INFO, "generation_succeeded", row, model=row.model_used, attempts=row.attempts,
                 retries=row.retries, fallback_used=row.fallback_used, latency_ms=row.latency_ms)
        else:
            _log(logging.WARNING, "generation_failed", row, model=row.model_used or config.model,
                 error_code=row.error_code, attempts=row.attempts, latency_ms=row.latency_ms)
        return row

    def _attempt_models(self, row: GenerationRequest, spec: SpriteSpec, config: EffectiveSettings,
                        tally: Tally, *, deferrable: bool = False, booked: Booked | None = None) -> dict:
        """Try the models in order; the verdict to finish the row with."""
        max_retries = config.retries_per_model
        limits = pacing.admin_limits(config.models) if config.enabled else {}
        outcomes = tally.outcomes
        decision = Decision(Step.STOP)
        style = STYLES[spec.style]

        for index, model in enumerate(config.models):
            more = index < len(config.models) - 1
            if index:
                tally.fallback_used = True
                _log(logging.WARNING, "fallback_used", row, model=model, previous_model=config.models[index - 1],
                     reason=outcomes[config.models[index - 1]])
            request = providers.request_for(model, prompt=spec.prompt, size=spec.size, seed=spec.seed,
                                            transparent=spec.transparent, style=style)
            key = pacing.key_of(request) if config.enabled and pacing.paced(model) else None
            retry = 0
            while True:
                first = not index and not retry
                slot, decision = self._admit(row, model, key, limits.get(model), tally, config, more,
                                             defer=deferrable and first, booked=booked if first else None)
                if decision.step is not Step.CALL:
                    # Not called: a slot beyond the budgets is a rate limit; no time left is a timeout.
                    outcomes[model] = Outcome.RATE_LIMITED if decision.retry_after is not None else \
                        outcomes.get(model, Outcome.TIMEOUT)
                    break
                reply, hint = self._call(row, model, request, key, slot, tally, config)
                if reply.ok:
                    image = png_bytes(make_sprite(reply.image, size=spec.size, colors=spec.colors,
                                                  transparent=spec.transparent, outline=spec.outline))
                    return {"status": Status.SUCCEEDED, "error_code": "", "error_message": "", "image_png": image}
                outcomes[model] = reply.outcome
                decision = policy.next_step(
                    outcome=reply.outcome, retry=retry, max_retries=max_retries, retry_delay=config.retry_delay,
                    hint=hint, rand=self.rand(), wait_left=tally.wait_left(),
                    time_left=tally.deadline - self.clock(), more_models=more)
                if key and reply.outcome == Outcome.RATE_LIMITED:
                    pacer = self.quota()
                    pacer.pause(key, until=pacer.timer() + policy.pause_after_rate_limit(hint=hint, decision=decision))
                if decision.step is not Step.CALL:
                    if reply.outcome == Outcome.BAD_REQUEST:
                        # Our request was wrong, not the provider: someone must look.
                        logger.error("upstream_rejected_request", extra={
                            "event": "upstream_rejected_request", "request_id": str(row.id), "model": model,
                            "http_status": reply.http_status, "error_code": reply.code, "detail": reply.message})
                    break
                event = "rate_limited_retrying" if reply.outcome == Outcome.RATE_LIMITED else "upstream_failed_retrying"
                _log(logging.WARNING, event, row, model=model, attempt=tally.attempts, outcome=reply.outcome,
                     delay=f"{decision.delay:.3f}", hint=hint)
                self._wait(decision.delay, tally)
                retry += 1
            tally.could_return_in(decision.retry_after)
            if decision.step is Step.STOP:
                break
        return self._failure(row, decision, tally)

    def _admit(self, row, model, key, rpm, tally: Tally, config, more, *, defer: bool = False,
               booked: Booked | None = None) -> tuple[Slot | None, Decision]:
        """Book this model's next call with the pacer, within the budgets, or decide not to call it.

        `defer`: a slot further off than DEFER_AFTER raises Deferred; `booked`: that slot, now due."""
        if policy.call_timeout(timeout=config.timeout, time_left=tally.deadline - self.clock()) is None:
            return None, Decision(Step.STOP)  # no time left for any call
        if key is None:
            return None, Decision(Step.CALL)
        pacer = self.quota()
        ticket = None  # the request's place in the model's fair queue, once it has one
        while True:
            wait_left, time_left = tally.wait_left(), tally.deadline - self.clock()
            horizon = max(0.0, min(wait_left, time_left - policy.MIN_CALL))
            now = pacer.timer()
            if booked is not None and tally.claimant is None:  # back from the queue: its slot, as booked
                got, booked = Slot(at=now + booked.at - self.now().timestamp(), ticket=booked.ticket), None
            else:
                if booked is not None:  # back from the queue at its fair turn: ask again with its ticket
                    ticket, booked = booked.ticket, None
                got = pacer.acquire(key, now=now, deadline=now + horizon, rpm=rpm,
                                    lease=max(min(config.timeout, time_left), 1.0), claimant=tally.claimant,
                                    ticket=ticket, hold=not more)
            if isinstance(got, Queued):
                ticket = got.ticket
                if defer and got.seconds > DEFER_AFTER:  # an async request gives its thread back until then
                    raise Deferred(Booked(at=self.now().timestamp() + got.seconds, ticket=got.ticket,
                                          waited=tally.waited + got.seconds), delay=got.seconds)
                _log(logging.INFO, "pacer_wait", row, model=model, seconds=f"{got.seconds:.3f}", queued=True)
                self._wait(got.seconds, tally)  # then ask again: the slot may have moved (docs/FAIRNESS.md)
                continue
            if isinstance(got, Slot):
                wait = max(got.at - now, 0.0)
                if not wait:
                    return got, Decision(Step.CALL)
                if defer and wait > DEFER_AFTER and not got.probe:
                    raise Deferred(Booked(at=self.now().timestamp() + wait, ticket=got.ticket,
                                          waited=tally.waited + wait), delay=wait)
                _log(logging.INFO, "pacer_wait", row, model=model, seconds=f"{wait:.3f}")
                self._wait(wait, tally)
                if pacer.paused_until(key) <= pacer.timer():
                    return got, Decision(Step.CALL, delay=wait)
                pacer.release(key, got)  # a 429 paused the model while we waited: book again
                continue
            if got.reason == "probe":
                decision = policy.while_probing(got.seconds, wait_left=wait_left, time_left=time_left)
            else:
                decision = policy.admission(got.seconds, wait_left=wait_left, time_left=time_left, more_models=more)
                if decision.step is Step.CALL:  # a probe's lease that ends within the budgets: wait it out
                    decision = Decision(Step.ASK_AGAIN, delay=decision.delay)
            if decision.step is Step.ASK_AGAIN:
                self._wait(decision.delay, tally)
                continue
            if decision.step is Step.REJECT:
                _log(logging.WARNING, "admission_rejected", row, model=model, reason=got.reason,
                     retry_after=policy.retry_after_seconds(got.seconds))
            return None, decision

    def _wait(self, seconds: float, tally: Tally) -> None:
        if seconds <= 0:
            return
        release_db_connection()
        self.sleep(seconds)
        tally.waited += seconds

    def _call(self, row, model, request, key, slot, tally: Tally, config):
        """One upstream call, its attempt row, and what the pacer learns from it: (reply, wait hint)."""
        tally.attempts += 1
        tally.model_used = model
        tally.called.add(model)
        timeout = policy.call_timeout(timeout=config.timeout, time_left=tally.deadline - self.clock()) or policy.NO_TIME
        pacer = self.quota() if key else None
        started_at, t0, sent = self.now(), self.clock(), pacer.timer() if pacer else 0.0
        release_db_connection()
        reply = self.call_model(request, timeout=timeout)
        tally.cost_usd = providers.total_cost([tally.cost_usd, reply.cost_usd])
        duration = self.clock() - t0
        hint = pacing.believed(reply.signal.wait)  # the provider's own word (providers.signals), on a 429 or 503
        if pacer:
            answered = reply.outcome not in NO_ANSWER
            pacer.observe(key, reply.signal, status=reply.http_status if answered else None, slot=slot, sent_at=sent)
            if reply.signal.daily_quota:  # every worker moves on until the next probe the cap allows
                pacer.pause(key, until=pacer.timer() + pacing.DAILY_QUOTA_PAUSE)
        metrics.record_attempt(model, reply.outcome)
        GenerationAttempt.objects.create(
            request=row, number=tally.attempts, started_at=started_at, model=model, outcome=reply.outcome,
            http_status=reply.http_status, error_code=reply.code[:60], duration_ms=policy.clamp_ms(duration),
            wait_before_ms=policy.clamp_ms(tally.waited - tally.waited_at_last_call), hint_ms=policy.clamp_ms(hint),
            cost_usd=reply.cost_usd, message=reply.message[:300],  # scrubbed of secrets by providers.classify
        )
        tally.waited_at_last_call = tally.waited
        return reply, hint

    def _failure(self, row, decision: Decision, tally: Tally) -> dict:
        """The verdict when no model produced an image."""
        outcomes = tally.outcomes
        code = policy.final_error(outcomes.values()) if outcomes else "upstream_timeout"
        # Our own words only: a provider's message is hostile text (markup, another vendor's wording,
        # our request echoed back); it stays on the attempt row for the admin, escaped there.
        verdict = {"status": Status.FAILED, "error_code": code, "error_message": message_of(code)}
        if code == "upstream_unavailable":  # name the cause: the operator's to fix, not a wait
            verdict["error_message"] = f"{verdict['error_message']} {policy.unavailable_cause(outcomes)}."
        if code == "rate_limit_exceeded":
            verdict["retry_after"] = (policy.retry_after_seconds(tally.soonest) if tally.soonest is not None
                                     else None) or retry_after_of(code)
            if not decision.at_admission:  # else admission_rejected said it
                _log(logging.WARNING, "rate_limit_exceeded", row, model=tally.model_used, attempts=tally.attempts,
                     retry_after=verdict["retry_after"])
        return verdict


generator = Generator()
