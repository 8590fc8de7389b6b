"""The reaper's schedule, for RQ's own cron: `manage.py rqcron generation.engine.cron`.

Every 30 s, so that with SPRITE_INTERRUPT_GRACE (30 s) a lost row is finished
within a minute of its deadline even if nobody reads it.
"""
from rq import cron

from .reaper import reap

REAP_INTERVAL = 30  # seconds

# A run nobody takes (no worker) expires instead of piling up behind the next ones.
cron.register(reap, "default", interval=REAP_INTERVAL, ttl=REAP_INTERVAL, result_ttl=REAP_INTERVAL * 4)
