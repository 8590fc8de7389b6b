"""Every row finishes: a request the server lost becomes failed `interrupted`, on read, on the
schedule, and when the job queue redelivers the message of a dead worker. Killed processes
(gunicorn, the job worker) are in test_process_faults.py and test_worker_processes.py; here the
lost rows are made the way a crash leaves them."""
import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from generation.engine import heartbeats, jobs, reaper
from generation.engine.reaper import Reason, verdict
from generation.models import GenerationRequest
from tests.markers import needs_redis
from tests.test_resilience import events

Status = GenerationRequest.Status

Q, R, S, F = Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED
LIVE, DEAD, WEB = "async:host:1", "async:host:2", "host:3"


@pytest.mark.parametrize(("status", "age", "worker", "alive", "expected"), [
    (R, 10, WEB, None, None),  # within deadline 60 + grace 30
    (R, 90, WEB, None, None),  # at the edge: not yet
    (R, 90.1, WEB, None, Reason.DEADLINE_PASSED),
    (R, 60.1, LIVE, {LIVE}, None),  # a running request finishes itself: the grace is its
    (Q, 60.1, "", {LIVE}, Reason.QUEUED_PAST_DEADLINE),  # a message nobody took in time: a timeout, at once
    (Q, 91, "", None, Reason.QUEUED_PAST_DEADLINE),
    (R, 10, LIVE, {LIVE}, None),
    (R, 10, DEAD, {LIVE}, Reason.WORKER_DIED),  # its worker's heartbeat is gone
    (R, 10, DEAD, None, None),  # Redis cannot say: only the deadline can tell
    (R, 10, WEB, set(), None),  # a web process sends no heartbeat: its master finishes its rows
    (Q, 10, DEAD, set(), None),  # deferred by a worker since gone: its message waits in Redis
    (S, 1000, DEAD, set(), None),
    (F, 1000, DEAD, set(), None),
])
def test_verdict(status, age, worker, alive, expected):
    # A row taken `age` seconds ago with a deadline 60 s after it.
    assert verdict(status=status, age=age, late=age - 60, grace=30, worker=worker, alive=alive) == expected


@pytest.fixture
def short_deadline(configure, settings):
    """Deadline 5 s (the shortest TOTAL_TIMEOUT), no grace."""
    configure(total_timeout=5)
    settings.SPRITE_INTERRUPT_GRACE = 0
    settings.REDIS_URL = ""


def lost_row(user, *, status=Status.RUNNING, age: float = 10.0, deadline: float = 5.0) -> GenerationRequest:
    """A row as a killed worker leaves it: unfinished, taken `age` seconds ago with a deadline
    `deadline` seconds after that."""
    taken = timezone.now() - timedelta(seconds=age)
    row = GenerationRequest.objects.create(user=user, prompt="ghost", style="pixel", size=16, status=status,
                                           options={"transparent": True, "colors": 8, "outline": True})
    GenerationRequest.objects.filter(pk=row.pk).update(created_at=taken, deadline=taken + timedelta(seconds=deadline))
    return row


@pytest.mark.django_db
def test_reading_a_row_past_its_deadline_finishes_it_as_interrupted(api, user, short_deadline, caplog):
    row = lost_row(user)

    response = api.get(f"/v1/generations/{row.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"] == {"code": "interrupted", "retry_after": 10,
                             "message": "The server stopped while working on this request; retrying is safe."}
    row.refresh_from_db()
    assert (row.status, row.error_code, row.retry_after) == ("failed", "interrupted", 10)
    assert row.finished_at is not None
    assert [(n, f["request_id"], f["reason"]) for n, f in events(caplog) if n == "request_interrupted"] == [
        ("request_interrupted", str(row.pk), "deadline_passed")]


@pytest.mark.django_db
def test_reading_a_row_within_its_deadline_leaves_it_running(api, user, configure, settings, caplog):
    configure(total_timeout=5)  # the row's own deadline counts, not today's setting
    settings.SPRITE_INTERRUPT_GRACE = 0
    row = lost_row(user, age=30, deadline=60)

    assert api.get(f"/v1/generations/{row.pk}").json()["status"] == "running"
    row.refresh_from_db()
    assert row.status == "running"
    assert "request_interrupted" not in [n for n, _ in events(caplog)]


@pytest.mark.django_db
def test_each_row_stores_its_deadline_from_arrival(api, configure):
    configure(total_timeout=42, timeout=10, max_retries=2)
    before = timezone.now()

    default = api.post("/v1/generate", {"prompt": "a", "size": 8}, format="json").json()["id"]
    shorter = api.post("/v1/generate", {"prompt": "b", "size": 8, "timeout": 1.5}, format="json").json()["id"]
    longer = api.post("/v1/generate", {"prompt": "c", "size": 8, "timeout": 900}, format="json").json()["id"]

    after = timezone.now()
    for pk, seconds in ((default, 42), (shorter, 1.5), (longer, 42)):  # the body's timeout never lengthens it
        row = GenerationRequest.objects.get(pk=pk)
        assert before + timedelta(seconds=seconds) <= row.deadline <= after + timedelta(seconds=seconds)
        assert row.deadline - row.created_at == pytest.approx(timedelta(seconds=seconds), abs=timedelta(seconds=1))


@pytest.mark.django_db
def test_a_row_without_a_stored_deadline_gets_the_longest_one(user, settings):
    settings.SPRITE_INTERRUPT_GRACE = 0
    row = lost_row(user, age=899)
    GenerationRequest.objects.filter(pk=row.pk).update(deadline=None)

    assert reaper.reap() == []
    GenerationRequest.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(seconds=901))
    assert reaper.reap() == [str(row.pk)]


@pytest.mark.django_db
def test_reap_generations_finishes_only_lost_rows(user, short_deadline, capsys, caplog):
    lost_running, lost_queued = lost_row(user), lost_row(user, status=Status.QUEUED)
    fresh = lost_row(user, age=0)
    done = lost_row(user, status=Status.SUCCEEDED)

    call_command("reap_generations")

    assert capsys.readouterr().out.strip() == "2 finished"
    states = dict(GenerationRequest.objects.values_list("pk", "error_code"))
    # A queued row past its deadline was not lost: it timed out waiting, and says so.
    assert states == {lost_running.pk: "interrupted", lost_queued.pk: "upstream_timeout", fresh.pk: "", done.pk: ""}
    assert GenerationRequest.objects.get(pk=fresh.pk).status == "running"
    assert [f["request_id"] for n, f in events(caplog) if n == "request_interrupted"] == [str(lost_running.pk)]
    assert [(f["request_id"], f["reason"]) for n, f in events(caplog) if n == "generation_failed"] == [
        (str(lost_queued.pk), "queued_past_deadline")]


@pytest.mark.django_db
def test_interrupt_leaves_a_row_that_finished_meanwhile(user):
    row = lost_row(user, status=Status.SUCCEEDED)

    assert reaper.interrupt([row.pk], Reason.DEADLINE_PASSED) == []
    row.refresh_from_db()
    assert (row.status, row.error_code) == ("succeeded", "")


def test_the_periodic_reaper_refuses_an_interval_out_of_bounds():
    with pytest.raises(CommandError, match="--every=0.0 is outside 1..3600"):
        call_command("reap_generations", "--every", "0")


@pytest.mark.django_db
def test_the_admin_filters_interrupted_rows(admin_client, user):
    interrupted, other = lost_row(user), lost_row(user, status=Status.SUCCEEDED)
    reaper.interrupt([interrupted.pk], Reason.WORKER_EXIT)

    page = admin_client.get("/admin/generation/generationrequest/").content.decode()
    filtered = admin_client.get("/admin/generation/generationrequest/?error_code=interrupted").content.decode()

    assert "?error_code=interrupted" in page
    assert str(interrupted.pk) in filtered and str(other.pk) not in filtered


# --- Messages the job queue delivers late, twice, or to a job that fails ----------------------

@pytest.fixture
def redis_heartbeats(settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    heartbeats.link.client().delete(*heartbeats.link.client().keys(heartbeats.KEY_PREFIX + "*") or ["-"])
    yield
    heartbeats.link.client().delete(*heartbeats.link.client().keys(heartbeats.KEY_PREFIX + "*") or ["-"])


@needs_redis
@pytest.mark.django_db
def test_a_redelivered_message_finishes_a_row_whose_worker_died_and_never_runs_it_again(user, redis_heartbeats,
                                                                                          caplog):
    heartbeats.beat(LIVE, threads=1, started=0)
    dead, live = lost_row(user, age=1), lost_row(user, age=1)
    GenerationRequest.objects.filter(pk=dead.pk).update(worker=DEAD)
    GenerationRequest.objects.filter(pk=live.pk).update(worker=LIVE)
    done = lost_row(user, status=Status.SUCCEEDED, age=1)

    for row in (dead, live, done):
        jobs.run_generation(str(row.pk))

    assert dict(GenerationRequest.objects.values_list("pk", "status")) == {
        dead.pk: "failed", live.pk: "running", done.pk: "succeeded"}
    assert GenerationRequest.objects.filter(attempts__gt=0).count() == 0  # none of them generated
    assert [(f["request_id"], f["reason"]) for n, f in events(caplog) if n == "request_interrupted"] == [
        (str(dead.pk), "worker_died")]
    assert [f["request_id"] for n, f in events(caplog) if n == "job_redelivered_skipped"] == [str(live.pk)]


@needs_redis
@pytest.mark.django_db
def test_the_reaper_finishes_the_rows_of_a_worker_whose_heartbeat_stopped(user, redis_heartbeats, configure,
                                                                          capsys):
    configure(total_timeout=600)
    heartbeats.beat(LIVE, threads=1, started=0)
    dead, live, web = lost_row(user, age=1), lost_row(user, age=1), lost_row(user, age=1)
    deferred = lost_row(user, status=Status.QUEUED, age=1)
    GenerationRequest.objects.filter(pk__in=[dead.pk, deferred.pk]).update(worker=DEAD)
    GenerationRequest.objects.filter(pk=live.pk).update(worker=LIVE)
    GenerationRequest.objects.filter(pk=web.pk).update(worker=WEB)

    call_command("reap_generations")

    assert capsys.readouterr().out.strip() == "1 finished"
    assert GenerationRequest.objects.get(pk=dead.pk).error_code == "interrupted"
    assert set(GenerationRequest.objects.exclude(pk=dead.pk).values_list("status", flat=True)) == {"running", "queued"}


@pytest.mark.django_db
def test_a_job_that_fails_before_the_loop_records_anything_marks_its_row(user, monkeypatch, caplog, settings):
    from generation.engine.generator import generator

    def crash(row, config=None, **kwargs):  # a lost database connection, say
        raise RuntimeError("connection to the database lost")

    settings.REDIS_URL = ""
    monkeypatch.setattr(generator, "run", crash)
    row = lost_row(user, status=Status.QUEUED, age=0)

    jobs.run_generation(str(row.pk))

    row.refresh_from_db()
    assert (row.status, row.error_code, row.retry_after) == ("failed", "interrupted", 10)
    assert [(f["reason"], f["error"]) for n, f in events(caplog) if n == "request_interrupted"] == [
        ("job_failed", "RuntimeError")]


@pytest.mark.django_db
def test_a_dead_processes_unfinished_rows_are_finished_and_no_others(user, caplog):
    mine, queued_mine = lost_row(user, age=0), lost_row(user, status=Status.QUEUED, age=0)
    others, done = lost_row(user, age=0), lost_row(user, status=Status.SUCCEEDED, age=0)
    GenerationRequest.objects.filter(pk__in=[mine.pk, queued_mine.pk, done.pk]).update(worker="web-1:42")
    GenerationRequest.objects.filter(pk=others.pk).update(worker="web-1:43")

    finished = reaper.interrupt_held_by("web-1:42")

    assert sorted(finished) == sorted([str(mine.pk), str(queued_mine.pk)])
    assert dict(GenerationRequest.objects.values_list("pk", "status")) == {
        mine.pk: "failed", queued_mine.pk: "failed", others.pk: "running", done.pk: "succeeded"}
    assert {f["reason"] for n, f in events(caplog) if n == "request_interrupted"} == {"worker_died"}


@pytest.mark.django_db
def test_a_row_names_the_process_that_works_on_it(api):
    from generation.engine import inflight

    api.post("/v1/generate", {"prompt": "coin", "size": 16}, format="json")

    assert GenerationRequest.objects.get().worker == inflight.ident()
