"""Configuration of the local RunPod-compatible endpoint (env vars prefixed ``LOCAL_ENDPOINT_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Policy times past this (about 285 years) are refused before any arithmetic: a float still holds them exactly.
MAX_POLICY_MS = 2**53


class EndpointSettings(BaseSettings):
    """Defaults are RunPod's own limits and retention times, so the local endpoint behaves like the real one."""

    model_config = SettingsConfigDict(env_prefix="LOCAL_ENDPOINT_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    endpoint_id: str = Field(default="local", pattern=r"^[A-Za-z0-9_-]+$")
    api_key: SecretStr | None = Field(
        default=None, description="when set, every route needs 'Authorization: Bearer <key>'"
    )

    workers: int | None = Field(
        default=None, ge=0, le=64, description="worker processes; default one per device (0: jobs only queue)"
    )

    # Development only: webhooks may go to loopback over http (private and reserved addresses stay refused).
    allow_loopback_webhooks: bool = False
    # /retry needs the input; by default it is dropped once a worker took the job (docs/security.md).
    keep_input_for_retry: bool = False

    # Payload limits (bytes) and retention of finished jobs (seconds), as RunPod documents them.
    max_run_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_runsync_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    body_timeout_s: float = Field(
        default=60.0, gt=0, description="a request's headers, then its body, must each arrive within it"
    )
    run_result_ttl_s: float = Field(default=30 * 60, gt=0)
    runsync_result_ttl_s: float = Field(default=60, gt=0)
    runsync_default_wait_ms: int = 90_000
    runsync_min_wait_ms: int = 1_000
    runsync_max_wait_ms: int = 300_000

    # Job policy defaults and bounds (milliseconds).
    default_execution_timeout_ms: int = 600_000
    min_execution_timeout_ms: int = Field(default=5_000, ge=0, description="RunPod requires more than 5 s")
    max_execution_timeout_ms: int = Field(default=7 * 24 * 3600 * 1000, gt=0, le=MAX_POLICY_MS)
    default_ttl_ms: int = 24 * 3600 * 1000
    min_ttl_ms: int = Field(default=10_000, ge=0, description="RunPod requires at least 10 s")
    max_ttl_ms: int = Field(default=7 * 24 * 3600 * 1000, gt=0, le=MAX_POLICY_MS)

    # How long a worker process gets to stop a cancelled or timed-out job before it is killed and replaced.
    cancel_grace_s: float = Field(default=10.0, gt=0)
    # Webhooks: RunPod tries once and then twice more, 10 s apart.
    webhook_attempts: int = Field(default=3, ge=1)
    webhook_retry_interval_s: float = Field(default=10.0, ge=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)

    # RunPod's documented limits per route, in requests per window; 429 with Retry-After above them.
    rate_limits: dict[str, int] = Field(
        default={
            "run": 1000,
            "runsync": 2000,
            "status": 2000,
            "stream": 2000,
            "cancel": 100,
            "purge-queue": 2,
        }
    )
    rate_window_s: float = Field(default=10.0, gt=0)
    rate_max_callers: int = Field(
        default=10_000, gt=0, description="callers (client addresses) tracked at once; past that new ones share one"
    )

    sweep_interval_s: float = Field(default=1.0, gt=0, description="how often expired jobs are removed")
    log_level: str = "INFO"
