"""The job lifecycle on its queue (arq) against a real Redis and RunPod's HTTP API (scripted fake cloud on loopback).

Each test runs one or more real Lifecycle instances (each one a bot process's queue worker) until no job is open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.jobs import JobRecord, JobRequest, Kind, request_fields
from bot.keys import Keys, Step
from bot.ledger import Ledger
from bot.lifecycle import Lifecycle
from bot.logs import json_formatter
from bot.runpod_client import RunPodClient, RunPodSettings
from bot.settings import BotSettings
from bot.stages import IllegalTransition, Stage, check
from tests.bot.fake_runpod import HOLD, FakeRunPod, completed_image, failed, queued, running, serve_fake_runpod
from tests.bot.waiting import eventually
from workflows.contract import RETRYABLE, ErrorCode, ErrorInfo, JobOutput


class RecordingNotifier:
    """The user's side of the lifecycle, recorded (the Telegram implementation is tested in test_app)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.deliver_ok = True
        self.deliver_gate: asyncio.Event | None = None  # when set, deliveries wait for it (mid-upload)

    async def progress(
        self,
        job: JobRecord,
        phase: str,
        *,
        position: int = 0,
        percent: float | None = None,
        preview: str | None = None,
    ) -> None:
        self.events.append(("progress", (phase, position, percent)))
        if preview is not None:
            self.events.append(("preview", preview))

    async def deliver(self, job: JobRecord, output: JobOutput) -> bool:
        self.events.append(("deliver_started", job.id))
        if self.deliver_gate is not None:
            await self.deliver_gate.wait()
        self.events.append(("deliver", job.id))
        return self.deliver_ok

    async def settled(self, job: JobRecord, *, charged: bool, error: ErrorInfo | None) -> None:
        self.events.append(("settled", (charged, error.code if error else None, (error.details if error else {}))))

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]


def settings(**overrides: Any) -> BotSettings:
    base: dict[str, Any] = dict(
        poll_min_s=0.01,
        poll_max_s=0.03,
        poll_webhook_s=1,
        queue_poll_s=0.01,
        sweep_interval_s=1,
        step_timeout_s=2,
        stop_grace_s=0,
        free_credits=10,
        max_retries=1,
        redis_prefix="t:",
    )
    return BotSettings(**(base | overrides))


async def build_input(job: JobRecord) -> dict[str, Any]:
    return {"preset": "sdxl", "params": {"prompt": f"{job.request.prompt} #{job.id}"}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeRunPod]:
    async with serve_fake_runpod(FakeRunPod()) as server:
        yield server


@pytest.fixture
async def client(fake: FakeRunPod) -> AsyncIterator[RunPodClient]:
    settings = RunPodSettings(
        base_url=fake.base_url, endpoint_id=fake.endpoint_id, api_key=fake.api_key, backoff_base_s=0.01, max_attempts=2
    )
    async with RunPodClient(settings) as c:
        yield c


def make_lifecycle(ledger: Ledger, client: RunPodClient, notifier: RecordingNotifier, **overrides: Any) -> Lifecycle:
    return Lifecycle(ledger, client, notifier, build_input, settings(**overrides))


@asynccontextmanager
async def queue_worker(
    ledger: Ledger, client: RunPodClient, notifier: RecordingNotifier, **overrides: Any
) -> AsyncIterator[Lifecycle]:
    lc = make_lifecycle(ledger, client, notifier, **overrides)
    await lc.start()
    try:
        yield lc
    finally:
        await lc.stop()


async def new_job(ledger: Ledger, job_id: str = "job1", uid: int = 1, deadline_s: float = 30, cost: int = 2) -> None:
    await ledger.register(uid, free_credits=10)
    req = JobRequest(kind=Kind.IMAGE, prompt="a red fox")
    out = await ledger.reserve(
        uid, job_id, cost, deadline_s=deadline_s, max_active=10, fields=request_fields(req, chat_id=uid, lang="en")
    )
    assert out.ok


async def no_open_jobs(ledger: Ledger) -> bool:
    return not await ledger.open_jobs()


async def run_to_end(
    ledger: Ledger, client: RunPodClient, notifier: RecordingNotifier, job_id: str = "job1", **overrides: Any
) -> None:
    async with queue_worker(ledger, client, notifier, **overrides) as lc:
        await lc.start_job(job_id)
        await eventually(lambda: no_open_jobs(ledger), 10)
        await lc.wait_idle()


async def test_completed_job_is_delivered_and_charged(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert fake.runs[0]["input"] == {"preset": "sdxl", "params": {"prompt": "a red fox #job1"}}
    assert fake.runs[0]["policy"]["executionTimeout"] > 0
    phases = [p[0] for p in notifier.of("progress")]
    assert phases[0] == "queued" and "running" in phases and phases[-1] == "delivering"
    assert (("running", 0, 40.0)) in notifier.of("progress")
    assert notifier.of("settled") == [(True, None, {})]
    assert await ledger.balance(1) == 8
    assert await ledger.user_lock(1) is None and await ledger.open_jobs() == []


async def test_the_workers_live_preview_reaches_the_user_while_it_runs(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    sampling = {"status": "IN_PROGRESS", "output": {"node": "3", "percent": 40.0, "preview": "/9j/AAAA"}}
    fake.script = lambda _: [queued(), sampling, running(80), completed_image()]
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert notifier.of("preview") == ["/9j/AAAA"]  # only the update that carried one
    assert notifier.of("settled") == [(True, None, {})]


class FormattedLines(logging.Handler):
    """Formats each record as production does, when it is emitted (in the step's task, with its context)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(json_formatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_every_log_line_of_a_step_carries_the_job_id(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    class LoggingNotifier(RecordingNotifier):
        async def deliver(self, job: JobRecord, output: JobOutput) -> bool:
            logging.getLogger("tests.notifier").info("sending")  # no job id given: the step's context has it
            return await super().deliver(job, output)

    capture, logger = FormattedLines(), logging.getLogger("tests.notifier")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    try:
        await new_job(ledger, job_id="jobA")
        await run_to_end(ledger, client, LoggingNotifier(), job_id="jobA")
    finally:
        logger.removeHandler(capture)
    assert [(line["msg"], line["job_id"]) for line in capture.lines] == [("sending", "jobA")]


@pytest.mark.parametrize("code", [c for c in ErrorCode if not RETRYABLE[c]])
async def test_permanent_failure_refunds_once(
    code: ErrorCode, ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [queued(), failed(code)]
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert len(fake.runs) == 1
    assert notifier.of("settled") == [(False, code, {})]
    assert await ledger.balance(1) == 10
    refunds = [e for e in await ledger.history() if e.reason == "refund"]
    assert len(refunds) == 1 and refunds[0].delta == 2


@pytest.mark.parametrize("code", [c for c in ErrorCode if RETRYABLE[c] and c != ErrorCode.TIMEOUT])
async def test_retryable_failure_is_resubmitted_once_then_refunded(
    code: ErrorCode, ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [running(10), failed(code)]
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert len(fake.runs) == 2
    assert notifier.of("settled") == [(False, code, {})]
    assert await ledger.balance(1) == 10


async def test_retry_that_succeeds_charges_once(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    scripts = [[failed(ErrorCode.OUT_OF_MEMORY)], [running(50), completed_image()]]
    fake.script = lambda _: scripts.pop(0)
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert len(fake.runs) == 2
    assert notifier.of("deliver") == ["job1"] and notifier.of("settled") == [(True, None, {})]
    assert await ledger.balance(1) == 8


async def test_retries_are_configurable(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.script = lambda _: [failed(ErrorCode.INTERNAL)]
    await new_job(ledger)
    await run_to_end(ledger, client, RecordingNotifier(), max_retries=0)
    assert len(fake.runs) == 1 and await ledger.balance(1) == 10


@pytest.mark.parametrize(("state", "code"), [("CANCELLED", ErrorCode.CANCELLED), ("TIMED_OUT", ErrorCode.TIMEOUT)])
async def test_endpoint_cancelled_or_timed_out_is_refunded(
    state: str, code: ErrorCode, ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [queued(), {"status": state}]
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert len(fake.runs) == 1
    assert notifier.of("settled") == [(False, code, {})]
    assert await ledger.balance(1) == 10


@pytest.mark.parametrize("output", [{"outputs": [], "timings": {}}, {"unexpected": True}, None])
async def test_completed_without_usable_output_is_refunded(
    output: Any, ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [{"status": "COMPLETED", "output": output}]
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert notifier.of("deliver") == []
    assert notifier.of("settled") == [(False, ErrorCode.INTERNAL, {"bot_code": "NO_OUTPUT"})]
    assert await ledger.balance(1) == 10


async def test_undelivered_result_is_refunded(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    notifier = RecordingNotifier()
    notifier.deliver_ok = False
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert notifier.of("settled") == [(False, ErrorCode.INTERNAL, {"bot_code": "DELIVERY_FAILED"})]
    assert await ledger.balance(1) == 10


async def test_user_cancel_mid_run(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.script = lambda _: [running(20), HOLD]
    notifier = RecordingNotifier()
    await new_job(ledger)
    async with queue_worker(ledger, client, notifier) as lc:
        await lc.start_job("job1")
        await eventually(lambda: ("running", 0, 20.0) in notifier.of("progress"))
        assert await lc.request_cancel("job1")
        await eventually(lambda: no_open_jobs(ledger))
        assert not await lc.request_cancel("job1")  # already settled: nothing to cancel
    assert fake.cancels == list(fake.jobs)
    assert notifier.of("settled") == [(False, ErrorCode.CANCELLED, {})]
    assert await ledger.balance(1) == 10


async def test_cancel_user_jobs_refunds_with_the_reason(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.script = lambda _: [running(20), HOLD]
    notifier = RecordingNotifier()
    await new_job(ledger)
    async with queue_worker(ledger, client, notifier) as lc:
        await lc.start_job("job1")
        await eventually(lambda: len(fake.jobs) == 1)
        assert await lc.cancel_user_jobs(1, "BLOCKED") == ["job1"]
        await eventually(lambda: no_open_jobs(ledger))
        assert await lc.cancel_user_jobs(1, "BLOCKED") == []
    assert fake.cancels == list(fake.jobs)
    assert notifier.of("settled") == [(False, ErrorCode.INTERNAL, {"bot_code": "BLOCKED"})]
    assert await ledger.balance(1) == 10


async def test_local_deadline_cancels_on_the_endpoint_and_refunds(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [HOLD]
    notifier = RecordingNotifier()
    await new_job(ledger, deadline_s=0.3)
    await run_to_end(ledger, client, notifier)
    assert len(fake.cancels) == 1
    assert notifier.of("settled") == [(False, ErrorCode.TIMEOUT, {})]
    assert await ledger.balance(1) == 10


@pytest.mark.parametrize("fault", ["5xx", "lost_answer"])
async def test_a_run_that_may_have_arrived_is_never_resent(
    fault: str, ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    """No webhook to name the job: refunded at once, /run sent exactly once."""
    if fault == "5xx":
        fake.fail_runs = 5
    else:
        fake.lose_run_answers = 5
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert client.requests_made["run"] == 1
    assert not fake.duplicate_runs
    assert notifier.of("settled") == [(False, ErrorCode.INTERNAL, {"bot_code": "SUBMIT_UNCERTAIN"})]
    assert await ledger.balance(1) == 10


async def test_a_run_refused_with_429_is_sent_again(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    """A 429 means RunPod took nothing: sending /run again cannot make a second job."""
    fake.throttle_runs = 2
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)
    assert client.requests_made["run"] == 3 and len(fake.runs) == 1
    assert notifier.of("settled") == [(True, None, {})]


async def test_a_lost_run_answer_is_resolved_by_runpods_webhook(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.lose_run_answers = 1
    fake.script = lambda _: [running(50), completed_image()]
    notifier = RecordingNotifier()
    await new_job(ledger)
    hooked = {"public_url": "https://bot.example", "runpod_webhook_secret": "s3cret", "poll_webhook_s": 0.05}
    async with queue_worker(ledger, client, notifier, **hooked) as lc:
        await lc.start_job("job1")
        await eventually(lambda: len(fake.jobs) == 1)
        (rp_job,) = fake.jobs.values()
        assert rp_job.body["webhook"] == "https://bot.example/runpod/s3cret/job1"  # our id is in the URL
        job = await lc.load("job1")
        assert job is not None and job.stage is Stage.SUBMITTING and job.is_open
        await lc.on_webhook("job1", {"id": rp_job.id, "status": "COMPLETED"})  # RunPod names the job
        await eventually(lambda: no_open_jobs(ledger))
    assert client.requests_made["run"] == 1 and not fake.duplicate_runs
    assert notifier.of("deliver") == ["job1"] and notifier.of("settled") == [(True, None, {})]


async def test_an_orphan_that_surfaces_is_cancelled(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.lose_run_answers = 1
    fake.script = lambda _: [HOLD]
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(ledger, client, notifier)  # refunded: the answer was lost and no webhook could name it
    (orphan,) = fake.jobs.values()
    fake.jobs[orphan.id].advance()
    lc = make_lifecycle(ledger, client, notifier)
    await lc.on_webhook("job1", {"id": orphan.id, "status": "IN_PROGRESS"})
    assert fake.cancels == [orphan.id]
    assert (await ledger.stats())["orphans_cancelled"] == 1
    assert await ledger.balance(1) == 10


async def test_a_stop_mid_delivery_hands_the_step_back_and_the_next_process_delivers(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    first = RecordingNotifier()
    first.deliver_gate = asyncio.Event()  # the upload never finishes in this process
    await new_job(ledger)
    async with queue_worker(ledger, client, first) as lc:
        await lc.start_job("job1")
        await eventually(lambda: first.of("deliver_started") == ["job1"])
    # Stopped mid-upload (SIGTERM): nothing settled, the result is kept.
    job = await make_lifecycle(ledger, client, first).load("job1")
    assert job is not None and job.is_open and job.stage is Stage.DELIVERING
    assert first.of("settled") == [] and await ledger.balance(1) == 8
    second = RecordingNotifier()
    async with queue_worker(ledger, client, second):
        await eventually(lambda: no_open_jobs(ledger))
    assert second.of("deliver") == ["job1"] and second.of("settled") == [(True, None, {})]
    assert ("delivering", 0, None) in second.of("progress")  # the status message is updated again
    assert len(fake.runs) == 1 and await ledger.balance(1) == 8


async def test_restart_picks_up_jobs_in_flight(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.script = lambda _: [running(30), HOLD]
    first = RecordingNotifier()
    await new_job(ledger, "a", uid=1)
    await new_job(ledger, "b", uid=2)
    async with queue_worker(ledger, client, first) as old:
        await old.start_job("a")
        await old.start_job("b")
        await eventually(lambda: len(fake.jobs) == 2 and all(job.current.get("hold") for job in fake.jobs.values()))
    fake.finish_held(completed_image())  # the process went away with both jobs running on the endpoint
    second = RecordingNotifier()
    async with queue_worker(ledger, client, second):
        await eventually(lambda: no_open_jobs(ledger))
    assert len(fake.runs) == 2  # picked up, not resubmitted
    assert sorted(second.of("deliver")) == ["a", "b"]
    assert await ledger.balance(1) == 8 and await ledger.balance(2) == 8


async def test_a_dead_process_step_is_taken_over_when_its_in_progress_key_expires(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    await new_job(ledger)
    keys = Keys("t:")
    lc = make_lifecycle(ledger, client, RecordingNotifier())
    await lc.start_job("job1")
    step = keys.step("job1", Step.SUBMIT)
    await ledger.redis.set(keys.in_progress(step), b"1", px=1500)  # a process died while running the step
    notifier = RecordingNotifier()
    async with queue_worker(ledger, client, notifier):
        await asyncio.sleep(0.2)
        assert not fake.runs  # still held by the dead process
        await eventually(lambda: no_open_jobs(ledger))
    assert notifier.of("settled") == [(True, None, {})] and len(fake.runs) == 1


async def test_two_bot_processes_never_handle_the_same_job(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [queued(), running(50), completed_image()]
    for i in range(6):
        await new_job(ledger, f"j{i}", uid=i + 1)
    notifiers = [RecordingNotifier(), RecordingNotifier()]
    async with queue_worker(ledger, client, notifiers[0]) as one, queue_worker(ledger, client, notifiers[1]) as two:
        for i in range(6):
            await (one if i % 2 else two).start_job(f"j{i}")
            await one.start_job(f"j{i}")  # enqueued twice: one step id, run once
        await eventually(lambda: no_open_jobs(ledger))
    delivered = notifiers[0].of("deliver") + notifiers[1].of("deliver")
    assert sorted(delivered) == [f"j{i}" for i in range(6)]
    assert len(fake.runs) == 6 and not fake.duplicate_runs


async def test_a_job_the_endpoint_forgot_is_resubmitted(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    scripts = [[HOLD], [completed_image()]]
    fake.script = lambda _: scripts.pop(0)
    notifier = RecordingNotifier()
    await new_job(ledger)
    async with queue_worker(ledger, client, notifier) as lc:
        await lc.start_job("job1")
        await eventually(lambda: len(fake.jobs) == 1)
        fake.forget(next(iter(fake.jobs)))  # its ttl passed: /status answers 404
        await eventually(lambda: no_open_jobs(ledger))
    assert len(fake.runs) == 2 and not fake.duplicate_runs
    assert notifier.of("settled") == [(True, None, {})]


async def test_a_job_reserved_by_a_process_that_died_before_queueing_is_run(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    await new_job(ledger)  # reserved, never queued: the process died right after reserving
    notifier = RecordingNotifier()
    async with queue_worker(ledger, client, notifier):  # its sweep (at start, then every SWEEP_INTERVAL_S) queues it
        await eventually(lambda: no_open_jobs(ledger))
    assert len(fake.runs) == 1 and notifier.of("settled") == [(True, None, {})]


def test_incoherent_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="VIDEO_COSTS"):
        settings(video_costs={10: 1})


def test_the_transition_table_refuses_what_it_does_not_list() -> None:
    check(Stage.RESERVED, Stage.SUBMITTING)
    check(Stage.SUBMITTING, Stage.QUEUED)
    for current, target in [
        (Stage.SUBMITTING, Stage.SUBMITTING),  # /run is never sent twice
        (Stage.DELIVERING, Stage.RESERVED),  # a finished result is never run again
        (Stage.CHARGED, Stage.RESERVED),
        (Stage.RESERVED, Stage.DELIVERING),
    ]:
        with pytest.raises(IllegalTransition):
            check(current, target)


async def test_a_cancel_received_by_another_process_reaches_the_running_step(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [running(10), HOLD]
    await new_job(ledger)
    slow = {"poll_min_s": 60, "poll_max_s": 60, "poll_webhook_s": 60}
    notifier = RecordingNotifier()
    async with queue_worker(ledger, client, notifier, **slow) as one:
        await one.start_job("job1")
        await eventually(lambda: len(fake.jobs) == 1 and notifier.of("progress"))  # submitted; next poll in 60 s
        other = make_lifecycle(ledger, client, notifier, **slow)  # the user's /cancel landed on another process
        assert await other.request_cancel("job1")
        await eventually(lambda: no_open_jobs(ledger), 10)
    assert notifier.of("settled") == [(False, ErrorCode.CANCELLED, {})]
    assert len(fake.cancels) == 1
