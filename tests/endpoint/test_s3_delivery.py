"""A job's ``s3Config`` travels through the endpoint to the worker, whose output lands in that bucket."""

from __future__ import annotations

import httpx

from bot.runpod_client import JobState, RunPodClient, S3Config
from tests.endpoint.support import blank_job


async def test_outputs_go_to_the_requests_bucket(local_client: RunPodClient, s3_bucket: dict[str, str]) -> None:
    s3 = S3Config(
        accessId=s3_bucket["access_key_id"],
        accessSecret=s3_bucket["secret_access_key"],  # type: ignore[arg-type]
        bucketName=s3_bucket["bucket"],
        endpointUrl=s3_bucket["endpoint_url"],
    )

    final = await local_client.wait((await local_client.run(blank_job(), s3_config=s3)).id, deadline_s=60)

    output = final.job_output()
    assert final.status is JobState.COMPLETED and output is not None
    [item] = output.outputs
    assert item.url is not None and item.key is not None and item.data is None
    async with httpx.AsyncClient() as http:
        fetched = await http.get(item.url)
    assert fetched.status_code == 200 and fetched.content[:8] == b"\x89PNG\r\n\x1a\n"
