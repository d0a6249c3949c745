"""Worker side of the face pre-check: the shared check (workflows/face_check.py) ends the job when it fails.

The bot runs the same check before it holds credits; the worker still runs it, because a job can come from
anywhere (curl, the CLI) and must never reach the GPU with a photo that holds no face.
"""

from __future__ import annotations

from PIL import Image

from handler.errors import ErrorCode, JobError
from workflows.face_check import FaceBox, FaceCheck, FaceDetector, check_image, focus_on

__all__ = ["FaceBox", "FaceCheck", "FaceDetector", "focus_on", "require_face"]


def require_face(photo: Image.Image) -> FaceCheck:
    """The check of a normalised photo; JobError(NO_FACE) when it shows no face big enough to animate."""
    check = check_image(photo)
    if not check.ok:
        raise JobError(check.code or ErrorCode.NO_FACE, check.message, **check.details)
    return check
