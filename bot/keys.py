"""Every Redis key the bot uses, in one place (the ledger's, the wizard's, the broadcasts' and the job queue's).

All keys of ours start with a configurable prefix (``REDIS_PREFIX``, default ``cb:``):
  user:{uid}      hash   bal, created, lang, banned, blocked (the user blocked the bot), referrer, invited
  users           zset   uid -> join time (stats, broadcasts)
  job:{id}        hash   id, uid, cost, state (reserved|running|charged|refunded: the money), stage (the
                         lifecycle, bot/stages.py), deadline, attempts, runpod_id, status_msg, request, cancel, ...
  lock:{uid}      str    the user's one open job (released only by that job's finalize)
  active          zset   open job ids -> deadline (global queue limit, admin stats)
  queued          zset   jobs waiting on the endpoint -> created (queue position)
  result:{id}     str    a finished job's output (JobOutput JSON), a day: redelivery, the "original" button
  paid:{charge}   hash   a Stars payment, keyed by Telegram's charge id
  referred:{uid}  str    who invited this user (once)
  ledger          stream every balance change: uid, delta, reason, ref, bal (balance after), ts
  uledger:{uid}   stream the same, per user, capped (for /balance)
  stats           hash   counters
  lease:{name}    str    a broadcast's owner process (lease.lua)
  broadcast:{id}  hash   a broadcast's text and progress;  broadcasts  set  the running ones
  draft:{id}      hash   a request being put together;  awaiting:{uid}  str  what the user's next message means
  template:{uid}  str    the request a draft starts from (bot/drafts.py)
  pending:{uid}   str    the request kept while the user buys credits;  uqueue:{uid}  list  requests queued
                         behind the user's running job (bot/requests.py)
  res:{id}        str    a delivered result's record (actions, /history);  hist:{uid}  zset  the user's results
  usettings:{uid} str    the user's /settings (bot/user_settings.py)
  tap:{uid}:{data} str   a result button tapped in the last seconds (one action per double tap)
  stars:seen      set    Stars transactions already reconciled (bot/stars.py)
  support:msg:{admin}:{message}  str  the user a forwarded /paysupport request came from
  support:charge:{token}         str  the charge id behind a refund button (bot/handlers/support.py)
  queue           zset   the job queue (arq): step id -> when it may run

The job queue (arq 0.28) keeps its own keys under the fixed prefix ``arq:`` (not configurable in arq), keyed by
step id; our step ids start with our prefix, so two bots sharing one Redis never share a step:
  arq:job:{step}          the step's function and arguments (until it finishes)
  arq:in-progress:{step}  held while a process runs the step (TTL: the step timeout plus a margin)
  arq:retry:{step}        how many times the step started
  {queue}:health-check    the last worker's health line
"""

from __future__ import annotations

from enum import StrEnum

ARQ_JOB = "arq:job:"
ARQ_IN_PROGRESS = "arq:in-progress:"
ARQ_RETRY = "arq:retry:"


class Step(StrEnum):
    """A queue job of a generation's lifecycle (bot/lifecycle.py)."""

    SUBMIT = "submit"
    WATCH = "watch"
    DELIVER = "deliver"


class Keys:
    def __init__(self, prefix: str) -> None:
        self.p = prefix
        self.users = f"{prefix}users"
        self.active = f"{prefix}active"
        self.queued = f"{prefix}queued"
        self.ledger = f"{prefix}ledger"
        self.stats = f"{prefix}stats"
        self.broadcasts = f"{prefix}broadcasts"
        self.queue = f"{prefix}queue"
        self.stars_seen = f"{prefix}stars:seen"

    def user(self, uid: int) -> str:
        return f"{self.p}user:{uid}"

    def job(self, job_id: str) -> str:
        return f"{self.p}job:{job_id}"

    def lock(self, uid: int) -> str:
        return f"{self.p}lock:{uid}"

    def lease(self, name: str) -> str:
        return f"{self.p}lease:{name}"

    def paid(self, charge_id: str) -> str:
        return f"{self.p}paid:{charge_id}"

    def referred(self, uid: int) -> str:
        return f"{self.p}referred:{uid}"

    def uledger(self, uid: int) -> str:
        return f"{self.p}uledger:{uid}"

    def result(self, job_id: str) -> str:
        return f"{self.p}result:{job_id}"

    def broadcast(self, bid: str) -> str:
        return f"{self.p}broadcast:{bid}"

    def draft(self, draft_id: str) -> str:
        return f"{self.p}draft:{draft_id}"

    def awaiting(self, uid: int) -> str:
        return f"{self.p}awaiting:{uid}"

    def template(self, uid: int) -> str:
        return f"{self.p}template:{uid}"

    def pending(self, uid: int) -> str:
        return f"{self.p}pending:{uid}"

    def uqueue(self, uid: int) -> str:
        return f"{self.p}uqueue:{uid}"

    def res(self, job_id: str) -> str:
        return f"{self.p}res:{job_id}"

    def hist(self, uid: int) -> str:
        return f"{self.p}hist:{uid}"

    def usettings(self, uid: int) -> str:
        return f"{self.p}usettings:{uid}"

    def tap(self, uid: int, data: str) -> str:
        return f"{self.p}tap:{uid}:{data}"

    def support_msg(self, admin: int, message_id: int) -> str:
        return f"{self.p}support:msg:{admin}:{message_id}"

    def support_charge(self, token: str) -> str:
        return f"{self.p}support:charge:{token}"

    def step(self, job_id: str, step: Step, attempt: int = 0) -> str:
        """The queue id of one step of one job: deterministic, so enqueueing it twice runs it once."""
        return f"{self.p}{job_id}:{step.value}:{attempt}"

    @staticmethod
    def in_progress(step_id: str) -> str:
        return ARQ_IN_PROGRESS + step_id

    @staticmethod
    def queued_step(step_id: str) -> str:
        return ARQ_JOB + step_id
