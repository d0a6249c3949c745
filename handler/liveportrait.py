"""Worker side of the ``liveportrait`` preset: check and stage the photo (CPU), then bind the graph.

Everything that can reject a job runs here, before the GPU is touched: the photo must decode (handler.images),
be big enough, and show a face. The graph then only animates a photo known to hold one.
"""

from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from handler.errors import JobError
from handler.face import FaceCheck, focus_on, require_face
from handler.files import JobFiles
from handler.images import load_image
from handler.photo import normalize_photo
from handler.prepared import PreparedJob
from handler.settings import WorkerSettings
from workflows import liveportrait
from workflows.preset import Preset

log = logging.getLogger(__name__)

# A face smaller than this share of the photo's short side is reframed, so the LivePortrait cropper's own
# detector (MediaPipe short-range, like ours) finds it too.
SMALL_FACE_SHARE = 1 / 6
# A reframed photo is scaled up to this short side: LivePortrait decodes faces at 512 px, so a small crop
# would throw that detail away in a tiny video.
REFRAMED_MIN_SIDE = 512


def prepare_liveportrait(
    preset: Preset[Any], params: liveportrait.LivePortraitParams, files: JobFiles, settings: WorkerSettings
) -> PreparedJob:
    photo, warnings = checked_photo(params.photo, settings)
    staged = files.stage_image("photo", photo)
    graph = preset.render(params, overrides={liveportrait.PHOTO_INPUT: staged})
    style_warning = params.style_warning()
    if style_warning:
        warnings.append(style_warning)
    return PreparedJob(prompt=graph, preset=preset.name, params=preset.effective_params(params), warnings=warnings)


def checked_photo(spec: str, settings: WorkerSettings) -> tuple[Image.Image, list[str]]:
    """The photo to animate (upright RGB, <= 1 MP, even sides) and warnings for the user; JobError otherwise."""
    try:
        image = load_image(spec, settings)
    except JobError as err:
        err.details["field"] = "params.photo"
        raise
    photo = normalize_photo(image)
    check = require_face(photo)
    warnings = list(check.warnings)
    if _reframe(check, photo):
        photo = _at_least(focus_on(photo, check.face), REFRAMED_MIN_SIDE)
        warnings.append("The photo was cropped around the face for the animation.")
    log.info(
        "photo checked",
        extra={"fields": {"size": photo.size, "faces": check.faces, "face_score": round(check.face.score, 3)}},
    )
    return photo, warnings


def _at_least(photo: Image.Image, side: int) -> Image.Image:
    scale = side / min(photo.size)
    if scale <= 1.0:
        return photo
    size = (int(photo.width * scale) // 2 * 2, int(photo.height * scale) // 2 * 2)
    return normalize_photo(photo.resize(size, Image.Resampling.LANCZOS))


def _reframe(check: FaceCheck, photo: Image.Image) -> bool:
    small = min(check.face.width, check.face.height) < SMALL_FACE_SHARE * min(photo.size)
    return check.faces > 1 or small
