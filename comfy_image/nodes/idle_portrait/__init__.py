"""Our ComfyUI custom node pack: procedural idle animation of a portrait on top of the KJ LivePortrait pack.

ComfyUI loads this folder from custom_nodes/; nothing here imports ComfyUI at import time, so the motion and
rendering code is importable (and tested) without it.
"""

from .node import LivePortraitIdleAnimation

NODE_CLASS_MAPPINGS = {"LivePortraitIdleAnimation": LivePortraitIdleAnimation}
NODE_DISPLAY_NAME_MAPPINGS = {"LivePortraitIdleAnimation": "LivePortrait Idle Animation (blinks + sway)"}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
