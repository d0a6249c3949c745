"""The job tracker against a real Redis and RunPod's HTTP API (scripted fake cloud on loopback)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.jobs import JobRecord, JobRequest, Kind, request_fields
from bot.ledger import Ledger
from bot.runpod_client import RunPodClient, RunPodSettings
from bot.settings import BotSettings
from bot.tracker import JobTracker
from tests.bot.fake_runpod import HOLD, FakeRunPod, completed_image, failed, queued, running, serve_fake_runpod
from tests.bot.waiting import eventually
from workflows.contract import RETRYABLE, ErrorCode, ErrorInfo, JobOutput


class RecordingNotifier:
    """The user's side of the tracker, recorded (the Telegram implementation is tested in test_app)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.deliver_ok = True

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

    async def deliver(self, job: JobRecord, output: JobOutput) -> bool:
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
        lease_s=2,
        reaper_interval_s=0.05,
        free_credits=10,
        max_retries=1,
    )
    return BotSettings(**(base | overrides))


async def build_input(job: JobRecord) -> dict[str, Any]:
    return {"preset": "sdxl", "params": {"prompt": job.request.prompt}}


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


def make_tracker(ledger: Ledger, client: RunPodClient, notifier: RecordingNotifier, **overrides: Any) -> JobTracker:
    return JobTracker(ledger, client, notifier, build_input, settings(**overrides))


async def new_job(ledger: Ledger, job_id: str = "job1", uid: int = 1, deadline_s: float = 30, cost: int = 2) -> None:
    await ledger.register(uid, free_credits=10)
    req = JobRequest(kind=Kind.IMAGE, prompt="a red fox")
    out = await ledger.reserve(
        uid, job_id, cost, deadline_s=deadline_s, max_active=10, fields=request_fields(req, chat_id=uid, lang="en")
    )
    assert out.ok


async def no_open_jobs(ledger: Ledger) -> bool:
    return not await ledger.open_jobs()


async def run_to_end(tracker: JobTracker, job_id: str = "job1") -> None:
    assert await tracker.track(job_id)
    await asyncio.wait_for(tracker.wait_idle(), 10)


async def test_completed_job_is_delivered_and_charged(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(make_tracker(ledger, client, notifier))
    assert fake.runs[0]["input"] == {"preset": "sdxl", "params": {"prompt": "a red fox"}}
    assert fake.runs[0]["policy"]["executionTimeout"] > 0
    phases = [p[0] for p in notifier.of("progress")]
    assert phases[0] == "queued" and "running" in phases and phases[-1] == "delivering"
    assert (("running", 0, 40.0)) in notifier.of("progress")
    assert notifier.of("settled") == [(True, None, {})]
    assert await ledger.balance(1) == 8
    assert await ledger.user_lock(1) is None and await ledger.open_jobs() == []


@pytest.mark.parametrize("code", [c for c in ErrorCode if not RETRYABLE[c]])
async def test_permanent_failure_refunds_once(
    code: ErrorCode, ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [queued(), failed(code)]
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(make_tracker(ledger, client, notifier))
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
    await run_to_end(make_tracker(ledger, client, notifier))
    assert len(fake.runs) == 2
    assert notifier.of("settled") == [(False, code, {})]
    assert await ledger.balance(1) == 10


async def test_retry_that_succeeds_charges_once(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    scripts = [[failed(ErrorCode.OUT_OF_MEMORY)], [running(50), completed_image()]]
    fake.script = lambda _: scripts.pop(0)
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(make_tracker(ledger, client, notifier))
    assert len(fake.runs) == 2
    assert notifier.of("deliver") == ["job1"] and notifier.of("settled") == [(True, None, {})]
    assert await ledger.balance(1) == 8


async def test_retries_are_configurable(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.script = lambda _: [failed(ErrorCode.INTERNAL)]
    await new_job(ledger)
    await run_to_end(make_tracker(ledger, client, RecordingNotifier(), max_retries=0))
    assert len(fake.runs) == 1 and await ledger.balance(1) == 10


@pytest.mark.parametrize(("state", "code"), [("CANCELLED", ErrorCode.CANCELLED), ("TIMED_OUT", ErrorCode.TIMEOUT)])
async def test_endpoint_cancelled_or_timed_out_is_refunded(
    state: str, code: ErrorCode, ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [queued(), {"status": state}]
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(make_tracker(ledger, client, notifier))
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
    await run_to_end(make_tracker(ledger, client, notifier))
    assert notifier.of("deliver") == []
    assert notifier.of("settled") == [(False, ErrorCode.INTERNAL, {"bot_code": "NO_OUTPUT"})]
    assert await ledger.balance(1) == 10


async def test_undelivered_result_is_refunded(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    notifier = RecordingNotifier()
    notifier.deliver_ok = False
    await new_job(ledger)
    await run_to_end(make_tracker(ledger, client, notifier))
    assert notifier.of("settled") == [(False, ErrorCode.INTERNAL, {"bot_code": "DELIVERY_FAILED"})]
    assert await ledger.balance(1) == 10


async def test_user_cancel_mid_run(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.script = lambda _: [running(20), HOLD]
    notifier = RecordingNotifier()
    await new_job(ledger)
    tracker = make_tracker(ledger, client, notifier)
    assert await tracker.track("job1")
    await eventually(lambda: ("running", 0, 20.0) in notifier.of("progress"))
    assert await tracker.request_cancel("job1")
    await asyncio.wait_for(tracker.wait_idle(), 10)
    assert fake.cancels == list(fake.jobs)
    assert notifier.of("settled") == [(False, ErrorCode.CANCELLED, {})]
    assert await ledger.balance(1) == 10
    assert not await tracker.request_cancel("job1")  # already settled: nothing to cancel


async def test_local_deadline_cancels_on_the_endpoint_and_refunds(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [HOLD]
    notifier = RecordingNotifier()
    await new_job(ledger, deadline_s=0.3)
    await run_to_end(make_tracker(ledger, client, notifier))
    assert len(fake.cancels) == 1
    assert notifier.of("settled") == [(False, ErrorCode.TIMEOUT, {})]
    assert await ledger.balance(1) == 10


async def test_submit_errors_are_retried(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.fail_runs = 2
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(make_tracker(ledger, client, notifier))
    assert notifier.of("settled") == [(True, None, {})]


async def test_unreachable_endpoint_refunds(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.fail_runs = 10
    notifier = RecordingNotifier()
    await new_job(ledger)
    await run_to_end(make_tracker(ledger, client, notifier))
    assert notifier.of("settled") == [(False, ErrorCode.INTERNAL, {})]
    assert await ledger.balance(1) == 10


async def test_restart_picks_up_jobs_in_flight(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    fake.script = lambda _: [running(30), HOLD]
    first = RecordingNotifier()
    await new_job(ledger, "a", uid=1)
    await new_job(ledger, "b", uid=2)
    old = make_tracker(ledger, client, first)
    await old.start()
    await eventually(lambda: len(fake.jobs) == 2 and all(job.current.get("hold") for job in fake.jobs.values()))
    await old.stop()  # the process goes away with both jobs running on the endpoint
    fake.finish_held(completed_image())
    second = RecordingNotifier()
    new = make_tracker(ledger, client, second)
    await new.start()
    await eventually(lambda: no_open_jobs(ledger))
    await new.stop()
    assert len(fake.runs) == 2  # picked up, not resubmitted
    assert sorted(second.of("deliver")) == ["a", "b"]
    assert await ledger.balance(1) == 8 and await ledger.balance(2) == 8


async def test_dead_process_lease_expires_and_another_takes_over(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [completed_image()]
    await new_job(ledger)
    assert await ledger.lease("job1", "crashed-bot", 0.2)  # a process that died holding the lease
    notifier = RecordingNotifier()
    tracker = make_tracker(ledger, client, notifier)
    await tracker.start()
    assert "job1" not in tracker.tracking
    await eventually(lambda: no_open_jobs(ledger))
    await tracker.stop()
    assert notifier.of("settled") == [(True, None, {})]


async def test_two_bot_processes_never_handle_the_same_job(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [queued(), running(50), completed_image()]
    for i in range(6):
        await new_job(ledger, f"j{i}", uid=i + 1)
    notifiers = [RecordingNotifier(), RecordingNotifier()]
    trackers = [make_tracker(ledger, client, n) for n in notifiers]
    await asyncio.gather(*(t.start() for t in trackers))
    await eventually(lambda: no_open_jobs(ledger))
    await asyncio.gather(*(t.stop() for t in trackers))
    delivered = notifiers[0].of("deliver") + notifiers[1].of("deliver")
    assert sorted(delivered) == [f"j{i}" for i in range(6)]
    assert len(fake.runs) == 6


async def test_a_job_the_endpoint_forgot_is_resubmitted(ledger: Ledger, client: RunPodClient, fake: FakeRunPod) -> None:
    scripts = [[HOLD], [completed_image()]]
    fake.script = lambda _: scripts.pop(0)
    notifier = RecordingNotifier()
    await new_job(ledger)
    tracker = make_tracker(ledger, client, notifier)
    assert await tracker.track("job1")
    await eventually(lambda: len(fake.jobs) == 1)
    fake.jobs.clear()  # its ttl passed: /status answers 404
    await asyncio.wait_for(tracker.wait_idle(), 10)
    assert len(fake.runs) == 2
    assert notifier.of("settled") == [(True, None, {})]


async def test_a_job_reserved_by_a_process_that_died_before_submitting_is_run(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    await new_job(ledger)  # reserved, never tracked: the process died right after reserving
    notifier = RecordingNotifier()
    tracker = make_tracker(ledger, client, notifier)
    await tracker.start()
    await eventually(lambda: no_open_jobs(ledger))
    await tracker.stop()
    assert len(fake.runs) == 1 and notifier.of("settled") == [(True, None, {})]


def test_incoherent_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="LEASE_S"):
        settings(lease_s=1, poll_webhook_s=20)
    with pytest.raises(ValueError, match="VIDEO_COSTS"):
        settings(video_costs={10: 1})


async def test_a_cancel_received_by_another_process_reaches_the_tracking_one(
    ledger: Ledger, client: RunPodClient, fake: FakeRunPod
) -> None:
    fake.script = lambda _: [running(10), HOLD]
    await new_job(ledger)
    slow = {"poll_min_s": 60, "poll_max_s": 60, "poll_webhook_s": 60, "lease_s": 120, "reaper_interval_s": 60}
    notifier = RecordingNotifier()
    tracking, other = make_tracker(ledger, client, notifier, **slow), make_tracker(ledger, client, notifier, **slow)
    await tracking.start()
    await other.start()
    await eventually(lambda: "job1" in tracking.tracking and len(fake.jobs) == 1)
    await eventually(lambda: ("running", 0, 10.0) in notifier.of("progress"))  # now asleep for 60 s
    assert await other.request_cancel("job1")  # the user's /cancel landed on the other process
    await eventually(lambda: no_open_jobs(ledger), 10)
    await asyncio.gather(tracking.stop(), other.stop())
    assert notifier.of("settled") == [(False, ErrorCode.CANCELLED, {})]
    assert len(fake.cancels) == 1
