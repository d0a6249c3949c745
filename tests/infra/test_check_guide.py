"""scripts/check_guide.py: a guide naming a missing file or showing a command that does not parse fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from handler.settings import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "check_guide.py"


def check(*guides: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), *map(str, guides)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_a_sound_guide_passes(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text(
        "Edit `runpod.toml` and `deploy/Caddyfile`, never `/runpod-volume/models` or `<your-file>.json`.\n\n"
        "```bash\nexport X=1\npython -m comfy_image.deploy_endpoint apply --dry-run\n```\n\n"
        "Then `python -m comfy_image.fetch_models --dest /tmp/x --verify-only`.\n"
    )
    result = check(guide)
    assert result.returncode == 0, result.stdout
    assert "files exist, commands parse" in result.stdout


def test_missing_files_broken_commands_and_bad_bash_are_each_reported(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text(
        "See `deploy/nginx.conf` and `comfy_image/gone.py`.\n\n"
        "```bash\npython -m comfy_image.deploy_endpoint destroy --force\npython scripts/nope.py --out x\n```\n\n"
        "```bash\nif then fi (\n```\n\n"
        "Run `python -m comfy_image.no_such_module`.\n"
    )
    result = check(guide)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any("names deploy/nginx.conf, which does not exist" in line for line in lines)
    assert any("names comfy_image/gone.py, which does not exist" in line for line in lines)
    assert any("`-m comfy_image.deploy_endpoint destroy --help` failed" in line for line in lines)
    assert any("scripts/nope.py does not exist" in line for line in lines)
    assert any("a bash block does not parse" in line for line in lines)
    assert any("comfy_image.no_such_module" in line and "failed" in line for line in lines)
    assert "7 problem(s)" in lines[-1]  # scripts/nope.py: a missing file and a broken command


def test_the_deploy_guide_passes() -> None:
    result = check()
    assert result.returncode == 0, result.stdout
