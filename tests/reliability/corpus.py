"""The bad-input corpus: hostile and malformed inputs with the specific error each must get.

Worker cases are job inputs (``{"workflow"|"preset", ...}``) with the ErrorCode and a message fragment;
endpoint cases are raw HTTP requests with the status code; bot cases are Telegram updates with what the user
must be told. The tests in test_bad_input.py run each case, then a valid job that must still succeed.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass
from typing import Any

from PIL import Image


def b64(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def empty_image(**inputs: Any) -> dict[str, Any]:
    base = {"width": 32, "height": 32, "batch_size": 1, "color": 0x336699} | inputs
    return {
        "1": {"class_type": "EmptyImage", "inputs": base},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "corpus"}},
    }


def save_prefix(prefix: str) -> dict[str, Any]:
    graph = empty_image()
    graph["2"]["inputs"]["filename_prefix"] = prefix
    return graph


def load(image: str, name: str = "in.png") -> dict[str, Any]:
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": name}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "corpus"}},
    }
    return {"workflow": graph, "images": [{"name": name, "image": image}]}


VALID_WORKFLOW = empty_image()
PNG_OK = b64(Image.new("RGB", (16, 16), (10, 200, 10)))
JPEG = base64.b64decode(b64(Image.new("RGB", (300, 300), (1, 2, 3)), "JPEG"))


@dataclass(frozen=True)
class WorkerCase:
    id: str
    job_input: Any
    code: str  # "" for a hostile input the worker neutralises and runs safely
    fragment: str = ""


W = WorkerCase
WORKER_CASES = [
    # Malformed requests
    W("input-not-object", "draw me a cat", "INVALID_INPUT"),
    W("input-null", None, "INVALID_INPUT"),
    W("neither-workflow-nor-preset", {}, "INVALID_INPUT"),
    W("workflow-and-preset", {"workflow": VALID_WORKFLOW, "preset": "sdxl", "params": {}}, "INVALID_INPUT"),
    W("workflow-is-string", {"workflow": "{'1': 2}"}, "INVALID_INPUT"),
    W("workflow-is-list", {"workflow": [1, 2, 3]}, "INVALID_INPUT"),
    W("ui-format-workflow", {"workflow": {"nodes": [], "links": [], "version": 0.4}}, "INVALID_INPUT", "API"),
    W("unknown-preset", {"preset": "rm -rf", "params": {}}, "INVALID_INPUT"),
    W("preset-params-wrong-type", {"preset": "sdxl", "params": {"prompt": 42, "steps": "many"}}, "INVALID_INPUT"),
    W("preset-prompt-100k", {"preset": "sdxl", "params": {"prompt": "a" * 100_000}}, "INVALID_INPUT"),
    W("images-not-list", {"workflow": VALID_WORKFLOW, "images": "x"}, "INVALID_INPUT"),
    # Malformed and hostile workflows
    W("unknown-node", {"workflow": {"1": {"class_type": "os.system", "inputs": {}}}}, "WORKFLOW_INVALID", "os.system"),
    W("no-class-type", {"workflow": {"1": {"inputs": {}}}}, "WORKFLOW_INVALID"),
    W(
        "dangling-link",
        {
            "workflow": {
                **empty_image(),
                "2": {"class_type": "SaveImage", "inputs": {"images": ["99", 0], "filename_prefix": "x"}},
            }
        },
        "WORKFLOW_INVALID",
    ),
    W(
        "self-cycle",
        {
            "workflow": {
                "1": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
                "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
            }
        },
        "WORKFLOW_INVALID",
    ),
    W("no-output-node", {"workflow": {"1": empty_image()["1"]}}, "WORKFLOW_INVALID", "output"),
    W("string-for-int", {"workflow": empty_image(width="huge")}, "WORKFLOW_INVALID"),
    W("negative-size", {"workflow": empty_image(width=-64)}, "WORKFLOW_INVALID", "width"),
    W("gigapixel-size", {"workflow": empty_image(width=1_000_000, height=1_000_000)}, "WORKFLOW_INVALID", "width"),
    W(
        "missing-checkpoint",
        {
            "workflow": {
                "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "not-installed.safetensors"}},
                "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 2]}},
            }
        },
        "MODEL_MISSING",
        "not-installed",
    ),
    # File names outside the job's own files: one INVALID_INPUT (docs/security.md, tests/security/).
    W(
        "checkpoint-traversal",
        {
            "workflow": {
                "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "../../etc/passwd"}},
                "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 2]}},
            }
        },
        "INVALID_INPUT",
        "ckpt_name",
    ),
    W(
        "load-image-traversal",
        {
            "workflow": load(PNG_OK, "x.png")["workflow"]
            | {"1": {"class_type": "LoadImage", "inputs": {"image": "../../../../etc/passwd"}}}
        },
        "INVALID_INPUT",
        "input.images",
    ),
    W("save-outside-output", {"workflow": save_prefix("../../../../tmp/evil")}, ""),  # "": kept inside, runs
    # Hostile images
    W("image-bad-base64", load("!!!not base64!!!"), "INVALID_INPUT"),
    W("image-not-an-image", load(base64.b64encode(b"%PDF-1.4 not an image" * 20).decode()), "INVALID_INPUT"),
    W("image-truncated-jpeg", load(base64.b64encode(JPEG[: len(JPEG) // 3]).decode()), "INVALID_INPUT", "corrupt"),
    W("image-decompression-bomb", load(b64(Image.new("1", (8000, 6000)))), "INVALID_INPUT", "megapixels"),
    W("image-empty", load(""), "INVALID_INPUT"),
    # Hostile URLs
    W("url-loopback", load("https://127.0.0.1/a.png"), "INVALID_INPUT"),
    W("url-metadata", load("https://169.254.169.254/latest/meta-data/iam"), "INVALID_INPUT"),
    W("url-ipv6-loopback", load("https://[::1]/a.png"), "INVALID_INPUT"),
    W("url-private", load("https://10.0.0.1/a.png"), "INVALID_INPUT"),
    W("url-plain-http", load("http://example.com/a.png"), "INVALID_INPUT"),
    W("url-file-scheme", load("file:///etc/passwd"), "INVALID_INPUT"),
    W("url-credentials", load("https://user:pass@127.0.0.1:22/a.png"), "INVALID_INPUT"),
]

# A noise image that does not compress: bigger than the tests' image cap once set (see test_bad_input.py).
NOISE = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))


@dataclass(frozen=True)
class HttpCase:
    id: str
    method: str
    path: str  # under /v2/{endpoint}; "{bad}" swaps the endpoint id
    body: bytes | None
    status: int
    auth: bool = True
    content_type: str = "application/json"


H = HttpCase
ENDPOINT_CASES = [
    H("no-auth", "POST", "/run", b'{"input": {}}', 401, auth=False),
    H("body-not-json", "POST", "/run", b"{not json", 400),
    H("body-json-array", "POST", "/run", b"[1, 2, 3]", 400),
    H("body-without-input", "POST", "/run", b'{"webhook": "https://x"}', 400),
    H("oversized-body", "POST", "/run", b'{"input": {"pad": "' + b"a" * (21 * 1024 * 1024) + b'"}}', 413),
    H("status-unknown-job", "GET", "/status/does-not-exist", None, 404),
    H("cancel-unknown-job", "POST", "/cancel/../../etc", None, 404),
    H("utf8-garbage", "POST", "/run", b'{"input": "\xff\xfe\x00"}', 400),
]


@dataclass(frozen=True)
class BotCase:
    id: str
    kind: str  # command | text | tap | document | photo | payment | precheckout
    data: Any
    reply: str  # what the user is told (a fragment of the last text or callback answer)
    bug: str = ""  # a known, reported bug: the case is expected to fail until it is fixed


B = BotCase
BOT_CASES = [
    B("unknown-command", "command", "/frobnicate", "I don't know that command"),
    B("admin-command-by-user", "command", "/grant 1001 1000000", "I don't know that command"),
    B("empty-imagine", "command", "/imagine", "Send me the prompt"),
    B("zalgo-prompt", "command", "/imagine " + "Z̷̢̛a̶l̸g̵o" * 40, "Pick the aspect ratio"),
    B("rtl-override-prompt", "command", "/imagine \u202egnp.exe a fox\u202c", "Pick the aspect ratio"),
    B("nul-and-controls", "command", "/imagine a fox\x00\x07\x1b[31m", "can't be used"),
    B("emoji-only-prompt", "command", "/imagine 🦊🔥🌌👁️‍🗨️", "Pick the aspect ratio"),
    B("huge-prompt", "command", "/imagine " + "fox " * 1500, "too long: 5999 characters, the limit is 1000"),
    B("forged-draft", "tap", "ar:0123456789abcdef:16:9", "expired"),
    B("forged-ratio", "tap", "ar:{draft}:99:1", "expired"),
    B("truncated-callback", "tap", "ar:x", "expired"),
    B("truncated-duration-callback", "tap", "dur:x", "expired"),
    B("forged-cancel", "tap", "cancel:someone-elses-job", "no running job"),
    B("unknown-callback", "tap", "\u0000;DROP TABLE users;--", ""),
    B("unknown-pack", "tap", "buy:xxl", "no longer valid"),
    B("wrong-document", "document", ("application/x-msdownload", 1024), "is not a photo"),
    B("forged-precheckout", "precheckout", ("pack:s:100000:1:{uid}", 1), "no longer valid"),
    B("unreadable-payment", "payment", ("garbage", 50), ""),
]
