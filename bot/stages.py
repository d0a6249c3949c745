"""A generation's lifecycle: one explicit state enum and one transition table, checked in one place (advance).

The money side stays the ledger's: ``state`` (reserved|running -> charged|refunded) changes only in its Lua scripts
(finalize settles exactly once). ``stage`` says where the job is on its way; CHARGED and REFUNDED are reached only
through finalize, which is why no stage lists them as a target here.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    RESERVED = "reserved"  # paid (credits reserved); not sent to RunPod, or sent and surely refused
    SUBMITTING = "submitting"  # /run is on its way: it may have arrived, so it is never sent again
    QUEUED = "queued"  # RunPod has it (runpod_id known), waiting for a worker
    RUNNING = "running"  # a worker runs it
    DELIVERING = "delivering"  # the result is stored; it is being sent to the user
    CHARGED = "charged"  # settled: delivered, credits kept
    REFUNDED = "refunded"  # settled: credits given back


SETTLED = frozenset({Stage.CHARGED, Stage.REFUNDED})

TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.RESERVED: frozenset({Stage.SUBMITTING}),
    # Back to RESERVED only when /run surely never arrived (connection refused, 429): resending cannot duplicate.
    Stage.SUBMITTING: frozenset({Stage.QUEUED, Stage.RESERVED}),
    Stage.QUEUED: frozenset({Stage.RUNNING, Stage.DELIVERING, Stage.RESERVED}),
    Stage.RUNNING: frozenset({Stage.DELIVERING, Stage.RESERVED}),  # RESERVED: a retryable failure, resubmitted
    Stage.DELIVERING: frozenset(),
    Stage.CHARGED: frozenset(),
    Stage.REFUNDED: frozenset(),
}


class IllegalTransition(ValueError):
    pass


def check(current: Stage, target: Stage) -> None:
    """Raise unless ``current -> target`` is in the table (settling is finalize's, from any open stage)."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"{current} -> {target}")
