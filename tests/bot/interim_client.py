"""TEMPORARY: a minimal client speaking RunPod's queue API until ``bot.runpod_client`` (branch ``endpoint``)
lands; the tests switch to the real ``RunPodClient`` then and this file goes away."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from workflows.contract import ErrorInfo, JobOutput, parse_error


@dataclass
class InterimStatus:
    id: str
    status: str
    output: Any = None
    error: Any = None

    @property
    def is_terminal(self) -> bool:
        return self.status in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")

    def job_output(self) -> JobOutput | None:
        if self.status != "COMPLETED" or not isinstance(self.output, dict):
            return None
        try:
            return JobOutput.model_validate(self.output)
        except ValueError:
            return None

    def error_info(self) -> ErrorInfo | None:
        return parse_error(self.error) if self.status == "FAILED" else None


class InterimClient:
    def __init__(self, base_url: str, endpoint_id: str, api_key: str) -> None:
        self._http = httpx.AsyncClient(
            base_url=f"{base_url}/{endpoint_id}", headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> InterimStatus:
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        data = response.json()
        return InterimStatus(data["id"], data["status"], data.get("output"), data.get("error"))

    async def run(
        self,
        input: dict[str, Any],
        *,
        webhook: str | None = None,
        policy: dict[str, Any] | None = None,
        s3_config: dict[str, Any] | None = None,
    ) -> InterimStatus:
        body: dict[str, Any] = {"input": input}
        if webhook:
            body["webhook"] = webhook
        if policy:
            body["policy"] = policy
        return await self._call("POST", "/run", body)

    async def status(self, job_id: str) -> InterimStatus:
        return await self._call("GET", f"/status/{job_id}")

    async def cancel(self, job_id: str) -> InterimStatus:
        return await self._call("POST", f"/cancel/{job_id}")

    async def aclose(self) -> None:
        await self._http.aclose()
