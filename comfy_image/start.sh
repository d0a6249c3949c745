#!/usr/bin/env bash
# Entry point of the worker image. START_MODE picks what the container does (docs/deploy.md):
#
#   worker (default)  RunPod serverless: GPU check, weight check, then python -m handler (ComfyUI
#                     in-process, WARMUP preset before the first job).
#   fill              one-off on a pod (a CPU pod is enough): download and verify the weights into
#                     the network volume, record the hashes of unverified files, then idle so the
#                     pod does not restart; read the result in the pod's logs. No GPU check.
#   smoke             on a GPU pod: scripts/gpu_smoke.py (SMOKE_ARGS), then idle; results in the logs.
#   idle              do nothing (keeps a pod up for RunPod's web terminal).
#
# The container starts as root only because a RunPod network volume is owned by root: the fill
# writes there as root and leaves the files world-readable. Every Python program but the fill runs
# as RUN_AS_UID (10001) through setpriv. Unverified weights (no sha256 in models.json) are accepted
# only with ALLOW_UNVERIFIED_MODELS=1.
set -euo pipefail

cd "${APP_DIR:-/app}"

mode="${START_MODE:-worker}"
uid="${RUN_AS_UID:-10001}"
volume_models="${VOLUME_MODELS_ROOT:-/runpod-volume/models}"
unverified=()
if [[ "${ALLOW_UNVERIFIED_MODELS:-0}" == "1" ]]; then unverified=(--allow-unverified); fi

manifest=()
if [[ -n "${MODELS_MANIFEST:-}" ]]; then manifest=(--manifest "${MODELS_MANIFEST}"); fi
# Prefix that runs a command as the worker user when the container started as root.
drop=()
if [[ "$(id -u)" == "0" && "${uid}" != "0" ]]; then
    home="$(getent passwd "${uid}" | cut -d: -f6 || true)"
    drop=(setpriv --reuid="${uid}" --regid="${uid}" --clear-groups -- env HOME="${home:-/tmp}")
fi

# Where the worker reads the volume's weights (extra_model_paths.yaml, the liveportrait link in the image).
# A pod mounts the network volume at /workspace instead: with VOLUME_MODELS_ROOT=/workspace/models the
# worker, smoke and idle modes link this path to it, so the same image finds the weights there too.
worker_models="${VOLUME_MOUNT_MODELS:-/runpod-volume/models}"
link_volume() {
    if [[ "${volume_models}" != "${worker_models}" && ! -e "${worker_models}" ]]; then
        if mkdir -p "$(dirname "${worker_models}")" && ln -s "${volume_models}" "${worker_models}"; then
            echo "start.sh: ${worker_models} -> ${volume_models}" >&2
        else
            echo "WARNING start.sh: could not link ${worker_models} to ${volume_models}" >&2
        fi
    fi
}

idle() {
    echo "start.sh: ${mode} finished; idling (stop or terminate the pod when done)" >&2
    exec sleep infinity
}

case "${mode}" in
    fill)
        mkdir -p "${volume_models}"
        status=0
        python -m comfy_image.fetch_models "${manifest[@]}" --dest "${volume_models}" --include-optional "${unverified[@]}" \
            --record "${volume_models}/models.recorded.json" || status=$?
        chmod -R a+rX "${volume_models}"
        if [[ -f "${volume_models}/models.recorded.json" ]]; then
            echo "start.sh: measured revision/size/sha256 (copy into comfy_image/models.json):" >&2
            cat "${volume_models}/models.recorded.json"
        fi
        echo "start.sh: fill exit status ${status}" >&2
        idle
        ;;
    smoke)
        link_volume
        read -r -a smoke_args <<< "${SMOKE_ARGS:---out /tmp/comfy-worker/smoke}"
        "${drop[@]}" python scripts/gpu_smoke.py "${smoke_args[@]}" \
            || echo "start.sh: gpu_smoke exit status $?" >&2
        idle
        ;;
    idle)
        link_volume
        idle
        ;;
    worker)
        link_volume
        ;;
    *)
        echo "start.sh: unknown START_MODE=${mode} (worker, fill, smoke, idle)" >&2
        exit 2
        ;;
esac

"${drop[@]}" python -m comfy_image.gpu_check

# Presence and size only (hashing 7 GB would add ~20 s to every cold start); the build or the
# volume fill verified the hashes. Missing weights are reported, not fatal: jobs that need them
# fail with MODEL_MISSING, the others keep working.
if [[ "${MODELS:-volume}" == "baked" ]]; then
    models_root="${COMFYUI_PATH:-/opt/comfyui}/models"
else
    models_root="${volume_models}"
    [[ -d "${models_root}" ]] || echo "WARNING start.sh: ${models_root} is missing: attach the network volume" >&2
fi
"${drop[@]}" python -m comfy_image.fetch_models "${manifest[@]}" --verify-only --quick "${unverified[@]}" \
    --dest "${models_root}" \
    || echo "WARNING start.sh: some weights are missing or unverified under ${models_root}; see the lines above" >&2

exec "${drop[@]}" python -m handler "$@"
