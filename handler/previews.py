"""Live previews while a sampler runs, from ComfyUI's own latent previewer (latent_preview.py).

ComfyUI decodes a preview of the current latent at every sampler step and hands it to the progress hook. We
replace its ``get_previewer`` so that step only wraps the latent (``LazyPreview``): the decode runs when the
progress reporter actually sends a preview (about once a second), not at every step. The decoder is ComfyUI's:
TAESD (``models/vae_approx/taesdxl_decoder.*`` for SDXL) when installed, else the latent-to-RGB approximation.
With previews off the sampler gets no previewer at all, as in a ComfyUI started without ``--preview-method``.
"""

from __future__ import annotations

import base64
import io
import logging
from functools import cache
from typing import Any, Final

from PIL import Image

log = logging.getLogger(__name__)

MAX_SIDE: Final = 256  # pixels on the longer side: a status-message thumbnail, a few KB as JPEG
JPEG_QUALITY: Final = 60


class LazyPreview:
    """The latent of one sampler step and the previewer that can turn it into a picture."""

    def __init__(self, previewer: Any, x0: Any) -> None:
        self._previewer = previewer
        self._x0 = x0

    def image(self) -> Image.Image:
        picture: Image.Image = self._previewer.decode_latent_to_preview(self._x0)
        scale = MAX_SIDE / max(picture.size)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        return picture.convert("RGB").resize(size, Image.Resampling.BILINEAR)

    def jpeg_base64(self) -> str:
        buffer = io.BytesIO()
        self.image().save(buffer, format="JPEG", quality=JPEG_QUALITY)
        return base64.b64encode(buffer.getvalue()).decode("ascii")


class _DeferredPreviewer:
    """What the sampler callback calls each step: hands over the latent, decodes nothing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def decode_latent_to_preview_image(self, preview_format: str, x0: Any) -> tuple[str, LazyPreview, int]:
        return ("JPEG", LazyPreview(self.inner, x0), MAX_SIDE)


def lazy_preview(value: Any) -> LazyPreview | None:
    """The LazyPreview inside what ComfyUI's progress bar passes the hook (``(format, preview, size)``)."""
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], LazyPreview):
        return value[1]
    return None


def install(enabled: bool) -> None:
    """Replace ComfyUI's previewer choice (call once, after ComfyUI is imported, on the engine thread)."""
    import latent_preview

    def get_previewer(device: Any, latent_format: Any) -> _DeferredPreviewer | None:
        if not enabled:
            return None
        inner = _taesd(device, latent_format) or _latent2rgb(latent_format)
        return _DeferredPreviewer(inner) if inner is not None else None

    latent_preview.get_previewer = get_previewer


def _latent2rgb(latent_format: Any) -> Any:
    import latent_preview

    if latent_format.latent_rgb_factors is None:
        return None
    return latent_preview.Latent2RGBPreviewer(
        latent_format.latent_rgb_factors,
        latent_format.latent_rgb_factors_bias,
        latent_format.latent_rgb_factors_reshape,
    )


def _taesd(device: Any, latent_format: Any) -> Any:
    import folder_paths

    name = latent_format.taesd_decoder_name
    if name is None or name in _VIDEO_TAES:
        return None
    found = next((f for f in folder_paths.get_filename_list("vae_approx") if f.startswith(name)), None)
    path = folder_paths.get_full_path("vae_approx", found) if found else None
    return _taesd_previewer(path, str(device), latent_format.latent_channels) if path else None


_VIDEO_TAES: Final = ("taehv", "lighttaew2_2", "lighttaew2_1", "lighttaehy1_5")


@cache
def _taesd_previewer(path: str, device: str, channels: int) -> Any:
    """Loaded once per process (ComfyUI's own get_previewer reloads the file at every sampler run)."""
    import latent_preview
    import torch
    from comfy.taesd.taesd import TAESD

    log.info("taesd previews", extra={"fields": {"decoder": path}})
    return latent_preview.TAESDPreviewerImpl(TAESD(None, path, latent_channels=channels).to(torch.device(device)))
