"""Start-up GPU check for the worker container (run by comfy_image/start.sh before the handler).

Exits 1 with one clear line when CUDA is unusable, so a worker on a broken host stops at once
instead of failing every job later. Warns (exit 0) when the card has less memory than the presets
are sized for (MIN_VRAM_GB, default 20). With DEVICE=cpu the check is skipped (local CPU runs).
"""

from __future__ import annotations

import logging
import os
import sys

from pydantic import BaseModel

log = logging.getLogger("gpu_check")


class GpuInfo(BaseModel):
    name: str
    total_gb: float
    free_gb: float
    capability: str
    torch: str
    cuda: str | None


def probe() -> GpuInfo:
    """Initialise CUDA in this process and describe device 0; raise RuntimeError when unusable."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(
            f"CUDA is not available to torch {torch.__version__} (built for CUDA {torch.version.cuda}): "
            "no GPU attached, or the host driver is older than the build needs"
        )
    free, total = torch.cuda.mem_get_info(0)
    major, minor = torch.cuda.get_device_capability(0)
    # A tiny kernel proves the driver can really run this build, not only enumerate the device.
    probe_tensor = torch.ones(8, device="cuda") * 2
    if float(probe_tensor.sum().item()) != 16.0:
        raise RuntimeError("CUDA computed a wrong result on a test kernel")
    return GpuInfo(
        name=torch.cuda.get_device_name(0),
        total_gb=round(total / 2**30, 1),
        free_gb=round(free / 2**30, 1),
        capability=f"{major}.{minor}",
        torch=torch.__version__,
        cuda=torch.version.cuda,
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if os.environ.get("DEVICE", "auto").lower() == "cpu":
        log.info("DEVICE=cpu: GPU check skipped")
        return 0
    try:
        info = probe()
    except RuntimeError as exc:
        log.error("GPU check failed: %s", exc)
        return 1
    log.info("GPU ok: %s", info.model_dump_json())
    minimum = float(os.environ.get("MIN_VRAM_GB", "20"))
    if info.total_gb < minimum:
        log.warning("%s has %.1f GB; the presets are sized for >= %.0f GB", info.name, info.total_gb, minimum)
    return 0


if __name__ == "__main__":
    sys.exit(main())
