"""Check a deployment guide against the repository: every file it names exists, every command it shows parses.

    python scripts/check_guide.py [docs/deploy.md ...]

- Files: inline code spans and code-block words that look like repository paths (a known top-level folder or
  file, or a relative path with an extension such as ``.py``/``.json``/``.toml``) must exist. Absolute paths
  (``/runpod-volume/...``), URLs and ``<placeholders>`` are not repository files and are skipped.
- Commands: every ``bash`` block must pass ``bash -n``; every project command in it or in an inline span (``python -m pkg.mod ...``,
  ``python scripts/x.py ...``) must answer ``--help`` with exit status 0: the words up to the first option,
  then ``--help``, run with this Python from the repository root (so ``apply --dry-run`` checks ``apply --help``).
  Shell scripts of the repository must exist and be executable.

Exit status 0 when all hold, 1 otherwise (each problem on one line), 2 for a missing guide. Used by
scripts/lint_infra.sh, hence by .ci/run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GUIDES = (ROOT / "docs" / "deploy.md",)
TOP_LEVEL = ("comfy_image/", "scripts/", "deploy/", "requirements/", "docs/", "handler/", "bot/", "workflows/")
TOP_LEVEL += (".runpod/", ".github/", "tests/", "benchmarks/")
ROOT_FILES = {"Dockerfile.worker", "Dockerfile.bot", "docker-compose.yml", "runpod.toml", ".dockerignore"}
ROOT_FILES |= {".env.example", "README.md", "pyproject.toml"}
PATH_LIKE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*$")
EXTENSIONS = (".py", ".sh", ".json", ".toml", ".yml", ".yaml", ".md", ".txt", ".in", ".example")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
HELP_TIMEOUT_S = 120


@dataclass(frozen=True)
class Problem:
    guide: Path
    what: str

    def __str__(self) -> str:
        return f"{self.guide.relative_to(ROOT) if self.guide.is_relative_to(ROOT) else self.guide}: {self.what}"


def repo_path(word: str) -> str | None:
    """The repository path a word names, or None when it is not one (URL, absolute path, placeholder...)."""
    word = word.strip().rstrip(".,:;)").removeprefix("./")
    if not word or "<" in word or "$" in word or "*" in word or "://" in word or not PATH_LIKE.match(word):
        return None
    if word in ROOT_FILES or word.startswith(TOP_LEVEL):
        return word
    if "/" in word and word.endswith(EXTENSIONS) and not word.startswith("/"):
        return word
    return None


def named_files(text: str) -> set[str]:
    words = [word for span in INLINE.findall(text) for word in span.split()]
    for _, block in FENCE.findall(text):
        words += shlex.split(block, comments=True, posix=True) if _splittable(block) else block.split()
    return {path for word in words if (path := repo_path(word.split("=", 1)[-1])) is not None}


def _splittable(block: str) -> bool:
    try:
        shlex.split(block, comments=True)
    except ValueError:
        return False
    return True


def bash_blocks(text: str) -> list[str]:
    return [block for language, block in FENCE.findall(text) if language in ("bash", "sh", "shell")]


def inline_commands(text: str) -> list[str]:
    """Inline code spans that show a project command (`python -m ...`, `python scripts/...`)."""
    return [span for span in INLINE.findall(FENCE.sub("", text)) if re.match(r"^python3? (-m |scripts/)", span)]


def commands(block: str) -> Iterator[list[str]]:
    """Project commands in a bash block: python -m ... / python scripts/... (after any 'cd x &&' or VAR=v)."""
    joined = block.replace("\\\n", " ")
    for line in joined.splitlines():
        for part in re.split(r"&&|\|\||;|\|", line.split(" #", 1)[0]):
            try:
                words = shlex.split(part)
            except ValueError:
                continue
            while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                words = words[1:]
            if len(words) >= 2 and words[0] in ("python", "python3") and (words[1] == "-m" or words[1].endswith(".py")):
                yield words


def help_command(words: list[str]) -> list[str]:
    """python -m mod sub --flag x -> [python, -m, mod, sub, --help]."""
    head = 3 if words[1] == "-m" else 2
    positional = [word for word in _until_option(words[head:])]
    return [sys.executable, *words[1:head], *positional, "--help"]


def _until_option(words: list[str]) -> Iterator[str]:
    for word in words:
        if word.startswith("-") or "/" in word or "=" in word or " " in word:
            return
        yield word


def check(guide: Path) -> list[Problem]:
    text = guide.read_text()
    named = sorted(named_files(text))
    problems = [Problem(guide, f"names {path}, which does not exist") for path in named if not (ROOT / path).exists()]
    for block in bash_blocks(text):
        parsed = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True, check=False)
        if parsed.returncode != 0:
            problems.append(Problem(guide, f"a bash block does not parse: {parsed.stderr.strip()}"))
        for words in commands(block):
            problems += _check_command(guide, words)
    for span in inline_commands(text):
        for words in commands(span):
            problems += _check_command(guide, words)
    for path in named:
        if path.endswith(".sh") and (ROOT / path).is_file() and not (ROOT / path).stat().st_mode & 0o111:
            problems.append(Problem(guide, f"{path} is not executable"))
    return problems


def _check_command(guide: Path, words: list[str]) -> list[Problem]:
    if words[1].endswith(".py") and not (ROOT / words[1]).is_file():
        return [Problem(guide, f"`{shlex.join(words)}`: {words[1]} does not exist")]
    command = help_command(words)
    try:
        result = subprocess.run(
            command, cwd=ROOT, env=_inert_env(), capture_output=True, text=True, timeout=HELP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return [Problem(guide, f"`{shlex.join(words)}`: --help did not answer in {HELP_TIMEOUT_S} s")]
    if result.returncode != 0 or "usage" not in result.stdout.lower():
        detail = (result.stderr.strip().splitlines() or ["no usage text"])[-1]
        return [Problem(guide, f"`{shlex.join(words)}`: `{shlex.join(command[1:])}` failed: {detail}")]
    return []


def _inert_env() -> dict[str, str]:
    """This environment without credentials: a command that ignored --help must not reach a real service."""
    secretish = ("TELEGRAM_", "RUNPOD_", "S3_", "AWS_", "HF_", "REDIS_", "PUBLIC_URL")
    return {key: value for key, value in os.environ.items() if not key.startswith(secretish)}


def main(argv: Sequence[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    guides = [Path(name).resolve() for name in names] or list(DEFAULT_GUIDES)
    missing = [guide for guide in guides if not guide.is_file()]
    if missing:
        print(f"check_guide: no such guide: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    problems = [problem for guide in guides for problem in check(guide)]
    for problem in problems:
        print(f"check_guide: {problem}")
    checked = ", ".join(str(g.relative_to(ROOT)) if g.is_relative_to(ROOT) else str(g) for g in guides)
    print(f"check_guide: {checked}: " + (f"{len(problems)} problem(s)" if problems else "files exist, commands parse"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
