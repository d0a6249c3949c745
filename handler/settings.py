"""Worker configuration, read from environment variables (documented in .env.example)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # ComfyUI
    comfyui_path: Path = Field(default=REPO_ROOT / ".comfyui", description="ComfyUI checkout to import")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    work_dir: Path = Field(default=Path("/tmp/comfy-worker"), description="job input/output/temp root")
    extra_model_paths: Path | None = Field(
        default=REPO_ROOT / "comfy_image" / "extra_model_paths.yaml",
        description="extra_model_paths.yaml mapping a network volume's models (skipped when missing)",
    )
    models_dir: Path | None = Field(default=None, description="an additional models root (tests, dev)")
    custom_nodes: bool = Field(default=True, description="load custom node packs and our own nodes")
    extra_custom_nodes_dir: Path | None = Field(
        default=REPO_ROOT / "comfy_image" / "nodes", description="our own node packages, loaded as custom nodes"
    )
    embed_metadata: bool = Field(default=False, description="embed the workflow in saved PNGs (leaks job details)")
    highvram: bool = Field(default=False, description="keep models on the GPU between jobs (ComfyUI --highvram)")
    warmup: str | None = Field(default=None, description="preset name or workflow JSON path run at boot")

    # Jobs
    job_timeout_s: float = Field(default=600.0, gt=0)
    progress_interval_s: float = Field(default=1.0, ge=0)
    interrupt_grace_s: float = Field(default=30.0, gt=0, description="how long an interrupted job may take to stop")
    previews: Literal["off", "presets", "all"] = Field(
        default="presets", description="live sampler previews in progress updates: preset jobs, every job, or none"
    )
    preview_interval_s: float = Field(default=1.0, ge=0, description="at most one preview per this many seconds")

    # Budgets, checked before a graph runs (docs/security.md); defaults fit the presets on a 24 GB GPU.
    max_job_pixels: int = Field(
        default=32 * 1024 * 1024, gt=0, description="width x height x batch x frames of any one image/latent tensor"
    )
    max_job_frames: int = Field(default=900, gt=0, description="frames (batch x length) any one node may make")
    max_job_outputs: int = Field(default=32, gt=0, description="output nodes in a graph, and files a job delivers")
    max_output_bytes: int = Field(
        default=512 * 1024 * 1024, gt=0, description="total bytes of a job's output files (S3 and base64)"
    )
    image_url_deadline_s: float = Field(default=30.0, gt=0, description="whole download of one image URL")
    image_download_deadline_s: float = Field(default=60.0, gt=0, description="all image URLs of one job together")

    # Raw workflows only (presets always run): node classes allowed (all when unset) and denied.
    node_allow: list[str] | None = Field(default=None, description="JSON list; only these node classes may run")
    node_deny: list[str] = Field(default_factory=list, description="JSON list; these node classes never run")

    # Input images
    image_max_bytes: int = 25 * 1024 * 1024
    image_max_pixels: int = 40_000_000
    image_url_timeout_s: float = 15.0
    allow_loopback_urls: bool = Field(
        default=False,
        description="development only: image URLs and per-request S3 endpoints may use http:// and loopback",
    )

    # Output delivery
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = "outputs"
    s3_presign_ttl_s: int = 7 * 24 * 3600
    max_base64_bytes: int = Field(
        default=15 * 1024 * 1024, description="raw bytes of base64 outputs; RunPod's response limit is 20 MB"
    )

    # Presets
    sdxl_checkpoint: str = "sd_xl_base_1.0.safetensors"

    # Logs
    log_level: str = "INFO"
    log_json: bool = True
