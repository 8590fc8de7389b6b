"""The process's pacer, and what the generation loop and the admin ask of it."""
import functools
import threading
from dataclasses import dataclass

from django.conf import settings

from .. import providers
from ..models import ApiToken, GenerationRequest, ModelRateLimit
from ..styles import DEFAULT_STYLE, STYLES
from .pacer import Claimant, Pacer, State, key_for
from .scripts import CAP


_creating = threading.Lock()


@functools.cache
def _pacer_of(redis_url: str) -> Pacer:
    return Pacer(redis_url)


def shared_pacer() -> Pacer:
    """One per process: in Redis when REDIS_URL is set (shared by every worker and host).

    Exactly one, even when a burst's first requests ask at once (functools.cache alone may build
    one per thread): during an outage each would pace on its own store, spending its share twice.
    """
    with _creating:
        return _pacer_of(settings.REDIS_URL)


def believed(seconds: float | None) -> float | None:
    """A provider's wait, believed for at most the pacer's cap: a day's claim pauses an hour, then one
    call probes (a daily quota included: the next probe the cap allows)."""
    return None if seconds is None else min(seconds, CAP)


# How long a 429 that looks like a per-day quota holds the model off for every worker: no
# RetryInfo says when it ends (midnight Pacific time), so until the next probe the cap allows.
DAILY_QUOTA_PAUSE = CAP


def key_of(request: providers.ModelRequest) -> str:
    """The model and a fingerprint of the credentials and base URL its calls go out with."""
    params = request.params
    return key_for(request.model, api_key=str(params.get("api_key", "")), api_base=str(params.get("api_base", "")))


def pacer_key(model: str) -> str:
    """`key_of` a call to `model` (for the admin, which has no request at hand)."""
    return key_of(providers.request_for(model, prompt="", size=64, seed=None, transparent=False,
                                        style=STYLES[DEFAULT_STYLE]))


def claimant_of(row: GenerationRequest) -> Claimant:
    """The API token a request shares the quota as (its prefix; README "Fair share"). A row whose token was
    deleted shares as token "0"; a token set to weight 0 after its request was queued still gets
    the least share (1): its request was accepted."""
    token = row.token
    if token is None:
        return Claimant(token="0")
    return Claimant(token=token.prefix, weight=max(token.weight, 1))


def paced(model: str) -> bool:
    """The built-in offline model has no quota to share."""
    return providers.provider_of(model) != providers.OFFLINE_PROVIDER


def admin_limits(models) -> dict[str, int]:
    """The admin's requests per minute for each of `models` that has one (one query)."""
    return dict(ModelRateLimit.objects.filter(model__in=list(models)).values_list("model", "requests_per_minute"))


@dataclass(frozen=True)
class ModelPacing:
    """One row of the admin's pacer table."""

    model: str
    state: State


def model_states(models, *, pacer: Pacer | None = None) -> list[ModelPacing]:
    """The pacer state of each model, for the admin's settings page: limit and its source
    (admin or learned), remaining in the current window, paused until, and the last 429
    (wall-clock epoch seconds; None when unknown)."""
    pacer = pacer or shared_pacer()
    limits = admin_limits(models)
    return [ModelPacing(model=m, state=pacer.state(pacer_key(m), rpm=limits.get(m))) for m in models if paced(m)]


MAX_TOKENS_SHOWN = 50  # per model, the most active first: bounds the admin's table and /metrics' labels


@dataclass(frozen=True)
class TokenRow:
    """One token at one model: who (prefix, name, weight), waiting now, holds kept for clients told
    to come back, the oldest wait (seconds), calls in the last ten minutes and their share of them."""

    prefix: str
    name: str
    weight: int | None  # None: a deleted token
    waiting: int
    held: int
    oldest: float
    served: int
    share: float


@dataclass(frozen=True)
class ModelShares:
    model: str
    tokens: list[TokenRow]


def model_shares(models, *, pacer: Pacer | None = None) -> list[ModelShares]:
    """Per paced model, the tokens waiting or served in the last ten minutes (README "Fair share")."""
    pacer = pacer or shared_pacer()
    found = []
    for model in models:
        if not paced(model):
            continue
        _, rows = pacer.shares(pacer_key(model))
        rows = sorted(rows, key=lambda r: (-(r.waiting + r.held), -r.served, r.token))[:MAX_TOKENS_SHOWN]
        found.append((model, rows))
    prefixes = {r.token for _, rows in found for r in rows}
    tokens = ApiToken.objects.filter(prefix__in=prefixes).values_list("prefix", "name", "weight")
    known = {prefix: (name, weight) for prefix, name, weight in tokens}
    result = []
    for model, rows in found:
        total = sum(r.served for r in rows)
        result.append(ModelShares(model=model, tokens=[
            TokenRow(prefix=r.token, name=known.get(r.token, ("(deleted token)", None))[0],
                     weight=known.get(r.token, ("", None))[1], waiting=r.waiting, held=r.held, oldest=r.oldest,
                     served=r.served, share=r.served / total if total else 0.0) for r in rows]))
    return result


def forget(model: str | None = None, *, pacer: Pacer | None = None) -> int:
    """An operator's hand: clear what the pacer learned about `model` (None: every model). The next
    call to it probes the quota again. Returns how many stored keys went."""
    pacer = pacer or shared_pacer()
    return pacer.forget(None if model is None else pacer_key(model))
