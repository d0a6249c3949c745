"""The one logging set-up of bot and worker: JSON lines, the ids on every line, extras, structlog loggers."""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from workflows import logging_setup

JOB: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_job", default=None)


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    root.handlers[:], root.level = saved


def test_json_lines_carry_the_ids_extras_and_tracebacks(lines: Callable[[], list[dict[str, Any]]]) -> None:
    logging_setup.configure("INFO", ids=("trace_id", "job_id"), context={"job_id": JOB}, secrets=["s3cr3t-value"])
    log = logging.getLogger("test.setup")
    token = JOB.set("job-7")
    log.info("with the job", extra={"uid": 5, "fields": {"outputs": 2}})
    JOB.reset(token)
    with structlog.contextvars.bound_contextvars(trace_id="tr-1"):
        structlog.get_logger("test.structlog").warning("from structlog", size=3)
    try:
        raise RuntimeError("failed with s3cr3t-value")
    except RuntimeError:
        log.exception("boom", extra={"job_id": "job-8"})
    first, second, third = lines()
    assert list(first)[:6] == ["ts", "level", "logger", "trace_id", "job_id", "msg"]
    assert (first["job_id"], first["trace_id"], first["uid"], first["outputs"]) == ("job-7", None, 5, 2)
    assert (second["trace_id"], second["level"], second["msg"], second["size"]) == (
        "tr-1",
        "WARNING",
        "from structlog",
        3,
    )
    assert third["job_id"] == "job-8" and "RuntimeError: failed with ***" in third["exc"]


def test_plain_lines_for_a_terminal(
    lines: Callable[[], list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    logging_setup.configure("INFO", context={"job_id": JOB}, json_lines=False)
    token = JOB.set("job-9")
    logging.getLogger("test.plain").info("hello %s", "there", extra={"fields": {"k": 1}})
    JOB.reset(token)
    err = capsys.readouterr().err
    assert err.rstrip().endswith("INFO [job-9] test.plain: hello there k=1")
