#!/usr/bin/env bash
# Entry point of the serverless worker image: check the GPU, check the weights are where the
# image expects them, then hand the process over to the RunPod handler (python -m handler), which
# boots ComfyUI in-process and runs the WARMUP preset before taking jobs.
set -euo pipefail

cd "${APP_DIR:-/app}"

python -m comfy_image.gpu_check

# Presence and size only (hashing 7 GB would add ~20 s to every cold start); the build or the
# volume fill verified the hashes. Missing weights are reported, not fatal: jobs that need them
# fail with MODEL_MISSING, the others keep working.
if [[ "${MODELS:-volume}" == "baked" ]]; then
    models_root="${COMFYUI_PATH:-/opt/comfyui}/models"
else
    models_root="${VOLUME_MODELS_ROOT:-/runpod-volume/models}"
    [[ -d "${models_root}" ]] || echo "WARNING start.sh: ${models_root} is missing: attach the network volume" >&2
fi
python -m comfy_image.fetch_models --verify-only --quick --allow-unverified --dest "${models_root}" \
    || echo "WARNING start.sh: some weights are missing under ${models_root}; see the lines above" >&2

exec python -m handler "$@"
