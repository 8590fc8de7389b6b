"""Every row finishes: a request the server lost becomes failed `interrupted`, on read, on the
schedule, and from RQ's failure hooks. Killed processes (gunicorn, work-horse) are in
test_process_faults.py; here the lost rows are made the way a crash leaves them."""
import os
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from generation.engine import jobs, reaper
from generation.engine.jobs import JobState
from generation.engine.reaper import Reason, verdict
from generation.models import GenerationRequest
from tests.markers import needs_redis
from tests.test_resilience import events

Status = GenerationRequest.Status

Q, R, S, F = Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED
ALIVE, GONE, FAILED, UNKNOWN = JobState.ALIVE, JobState.GONE, JobState.FAILED, JobState.UNKNOWN


@pytest.mark.parametrize(("status", "age", "job", "expected"), [
    (R, 10, UNKNOWN, None),  # within deadline 60 + grace 30
    (R, 90, UNKNOWN, None),  # at the edge: not yet
    (R, 90.1, UNKNOWN, Reason.DEADLINE_PASSED),
    (Q, 91, ALIVE, Reason.QUEUED_PAST_DEADLINE),  # a job nobody took in time: a timeout, at once
    (Q, 60.1, ALIVE, Reason.QUEUED_PAST_DEADLINE),
    (Q, 60.1, UNKNOWN, Reason.QUEUED_PAST_DEADLINE),
    (R, 60.1, ALIVE, None),  # a running request finishes itself: the grace is its
    (R, 10, GONE, None),  # a sync request has no job
    (R, 10, FAILED, Reason.JOB_FAILED),
    (Q, 10, FAILED, Reason.JOB_FAILED),
    (Q, 10, GONE, Reason.JOB_LOST),
    (Q, 4, GONE, None),  # maybe a moment before its enqueue
    (Q, 10, UNKNOWN, None),  # Redis down: only the deadline can tell
    (Q, 10, ALIVE, None),
    (S, 1000, GONE, None),
    (F, 1000, FAILED, None),
])
def test_verdict(status, age, job, expected):
    # A row taken `age` seconds ago with a deadline 60 s after it.
    assert verdict(status=status, age=age, late=age - 60, grace=30, job=job, enqueue_grace=5) == expected


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


@pytest.mark.django_db
def test_the_reaper_is_on_rqs_cron_every_30_seconds():
    from rq import cron

    import generation.engine.cron  # noqa: F401  (registers on import)

    assert [(d["func"], d["interval"]) for d in cron._job_data_registry] == [(reaper.reap, 30)]
    cron._job_data_registry.clear()


@pytest.mark.django_db
def test_the_admin_filters_interrupted_rows(admin_client, user):
    interrupted, other = lost_row(user), lost_row(user, status=Status.SUCCEEDED)
    reaper.interrupt([interrupted.pk], Reason.WORKER_EXIT)

    page = admin_client.get("/admin/generation/generationrequest/").content.decode()
    filtered = admin_client.get("/admin/generation/generationrequest/?error_code=interrupted").content.decode()

    assert "?error_code=interrupted" in page
    assert str(interrupted.pk) in filtered and str(other.pk) not in filtered


# --- Async requests on real Redis, with no worker, or with one whose job fails ----------------

@pytest.fixture
def queue(settings, configure):
    import django_rq

    settings.REDIS_URL = os.environ["REDIS_URL"]
    queue = django_rq.get_queue("default")
    queue.empty()
    yield queue
    queue.empty()


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_an_async_job_nobody_takes_expires_and_its_row_is_interrupted(api, queue, configure, settings, monkeypatch,
                                                                      caplog):
    configure(total_timeout=7)  # the request's deadline, plus the grace: the job's time to live
    settings.SPRITE_INTERRUPT_GRACE = 3
    monkeypatch.setattr(reaper, "ENQUEUE_GRACE", 0.2)

    response = api.post("/v1/generate", {"prompt": "coin", "async": True}, format="json")

    assert response.status_code == 202
    row_id = response.json()["id"]
    job_key = f"rq:job:{jobs.job_id(row_id)}"
    assert 8 < queue.connection.ttl(job_key) <= 10
    time.sleep(0.3)
    assert api.get(response["Location"]).json()["status"] == "queued"  # its job waits in Redis
    queue.connection.pexpire(job_key, 1)  # the rest of the 10 s, in Redis's own time: nobody took it
    time.sleep(0.05)

    assert not queue.connection.exists(job_key)
    body = api.get(response["Location"]).json()
    assert (body["status"], body["error"]["code"]) == ("failed", "interrupted")
    assert [(f["request_id"], f["reason"]) for n, f in events(caplog) if n == "request_interrupted"] == [
        (row_id, "job_lost")]


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_job_that_fails_marks_its_row(api, queue, monkeypatch, caplog):
    import django_rq
    from rq.worker import SimpleWorker

    from generation.engine.generator import generator

    def crash(row, config=None):  # dies before the generator could record anything (a lost DB connection, say)
        raise RuntimeError("connection to the database lost")

    monkeypatch.setattr(generator, "run", crash)
    response = api.post("/v1/generate", {"prompt": "coin", "async": True}, format="json")

    django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)

    row = GenerationRequest.objects.get()
    assert (row.status, row.error_code, row.retry_after) == ("failed", "interrupted", 10)
    assert api.get(response["Location"]).json()["error"]["code"] == "interrupted"
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
