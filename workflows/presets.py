"""The catalogue of presets the worker runs and the bot offers, by name.

Adding a preset: write ``workflows/<name>.py`` with its params model, ``bind`` function and a ``PRESET``
(see workflows/preset.py and workflows/sdxl.py), put its template in ``workflows/templates/``, list it here,
and give the worker a prepare function for it in ``handler/presets.py``.
"""

from __future__ import annotations

from typing import Any, Final

from workflows import liveportrait, sdxl, sdxl_upscale, sdxl_variation
from workflows.preset import Preset

PRESETS: Final[dict[str, Preset[Any]]] = {
    preset.name: preset for preset in (sdxl.PRESET, sdxl_variation.PRESET, sdxl_upscale.PRESET, liveportrait.PRESET)
}


def get_preset(name: str) -> Preset[Any] | None:
    return PRESETS.get(name)
