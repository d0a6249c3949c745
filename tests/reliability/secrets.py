"""Distinctive secret values configured across the reliability suite, so a leak into any log line is findable."""

from __future__ import annotations

TELEGRAM_TOKEN = "7654321:AAReliabilityBotTokenS3cretValue42"
TELEGRAM_WEBHOOK_SECRET = "tgHookSecretReliability9f3a"
RUNPOD_API_KEY = "rpa_ReliabilityApiKeyS3cretValue77"
RUNPOD_WEBHOOK_SECRET = "rpHookSecretReliability51c0"
S3_ACCESS_KEY = "AKIARELIABILITYKEY01"
S3_SECRET_KEY = "reliabilityS3SecretKeyValue/Zz9+QwErTy"

# The S3 access key *id* is not among them: it is an identifier AWS puts in every presigned URL
# (X-Amz-Credential=...), so results carry it by design; the secret access key must never appear.
ALL = (TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_SECRET, RUNPOD_API_KEY, RUNPOD_WEBHOOK_SECRET, S3_SECRET_KEY)
