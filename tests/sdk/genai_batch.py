"""Drives the batchprobe simulator with the official google-genai SDK.

Run by tests/simulator_sdk.rs, which starts the simulator and passes its address and key in the
environment: BATCHPROBE_SIM_BASE_URL and BATCHPROBE_SIM_API_KEY. Creates, gets, lists, cancels
and deletes batch jobs, asserting on what the SDK makes of each answer. Exits non-zero with a
message on the first failed assertion.
"""

import os
import sys
import time

from google import genai
from google.genai import errors, types

MODEL = "gemini-2.5-flash"
POLL_LIMIT_SECONDS = 20.0


def client(api_key: str) -> genai.Client:
    return genai.Client(
        api_key=api_key,
        http_options={"base_url": os.environ["BATCHPROBE_SIM_BASE_URL"], "api_version": "v1beta"},
    )


def inline_requests(count: int) -> list:
    return [
        {
            "contents": [{"parts": [{"text": f"question {i}"}], "role": "user"}],
            "metadata": {"key": f"sdk-{i}"},
        }
        for i in range(count)
    ]


def wait_until_done(sdk: genai.Client, name: str) -> types.BatchJob:
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while True:
        job = sdk.batches.get(name=name)
        if job.done:
            return job
        assert time.monotonic() < deadline, f"{name} still {job.state} after {POLL_LIMIT_SECONDS}s"
        time.sleep(0.1)


def main() -> None:
    sdk = client(os.environ["BATCHPROBE_SIM_API_KEY"])

    # create
    created = sdk.batches.create(
        model=MODEL, src=inline_requests(3), config={"display_name": "sdk-create"}
    )
    assert created.name.startswith("batches/"), created.name
    assert created.state == types.JobState.JOB_STATE_PENDING, created.state
    assert created.display_name == "sdk-create", created.display_name
    assert created.model == f"models/{MODEL}", created.model
    assert created.create_time is not None

    # get, until it has finished
    job = wait_until_done(sdk, created.name)
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED, job.state
    assert job.end_time is not None
    responses = job.dest.inlined_responses
    assert len(responses) == 3, len(responses)
    assert responses[0].response.text.startswith("Synthetic answer"), responses[0].response.text
    assert responses[2].response.candidates[0].finish_reason == types.FinishReason.STOP

    # list, two at a time, through every page
    names = [listed.name for listed in sdk.batches.list(config={"page_size": 2})]
    assert created.name in names, names
    assert "batches/seed-500-a" in names, names
    assert len(names) == len(set(names)), names

    # cancel a job that has not finished
    other = sdk.batches.create(model=MODEL, src=inline_requests(1))
    sdk.batches.cancel(name=other.name)
    cancelled = sdk.batches.get(name=other.name)
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED, cancelled.state

    # delete, then the job is gone
    sdk.batches.delete(name=other.name)
    try:
        sdk.batches.get(name=other.name)
        raise AssertionError("a deleted job must not be found")
    except errors.ClientError as err:
        assert err.code == 404, err
        assert err.status == "NOT_FOUND", err.status

    # the models control
    model = sdk.models.get(model=MODEL)
    assert model.name == f"models/{MODEL}", model.name

    # a wrong key is refused the way the real service refuses it
    # (kept in a variable: a temporary client closes its connection pool when collected)
    refused = client("not-the-key")
    try:
        refused.batches.get(name=created.name)
        raise AssertionError("a wrong key must be refused")
    except errors.ClientError as err:
        assert err.code == 400, err
        assert err.status == "INVALID_ARGUMENT", err.status

    print("sdk: create, get, list, cancel, delete, models and key checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"sdk assertion failed: {failure}", file=sys.stderr)
        raise
