"""Serving needs only the core install: the demo shop answers and shoots photos with the compositor, no torch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.processes import free_port, hub, start_serve

REPO = Path(__file__).resolve().parents[2]
WITHOUT_EXTRAS = REPO / "tests" / "without_extras"


def test_the_extras_are_absent_under_the_guard(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{WITHOUT_EXTRAS}{os.pathsep}{REPO}"}
    probe = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('torch')); import torch"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "None"
    assert "ModuleNotFoundError: import of torch halted; None in sys.modules" in probe.stderr


def test_serve_without_torch_answers_shoppers_and_shoots_photos_with_the_compositor(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env = {
        **clean,
        "PYTHONPATH": f"{WITHOUT_EXTRAS}{os.pathsep}{REPO}",
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_LOG_FORMAT": "json",
    }
    creds = json.loads(hub("seed", "demo", "--json", env=env).stdout.strip().splitlines()[-1])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_serve(env=env, port=port)
    try:
        turn = httpx.post(
            f"{base}/v1/chat",
            headers={"X-Hub-Key": creds["storefront_key"]},
            json={"session_id": "light-1", "message": "do you have hoodies?"},
            timeout=60,
        )
        assert turn.status_code == 200 and turn.json()["reply"], turn.text
        operator = {"X-Hub-Key": creds["operator_key"]}
        brief = {"scene": "studio packshot", "background": "seamless pure white", "aspect": "1:1", "count": 1}
        posted = httpx.post(
            f"{base}/v1/images/jobs", headers=operator, json={"sku": creds["sample_sku"], "brief": brief}, timeout=30
        )
        assert posted.status_code == 202, posted.text
        job_url = f"{base}/v1/images/jobs/{posted.json()['id']}"
        deadline = time.monotonic() + 120
        while (job := httpx.get(job_url, headers=operator, timeout=10).json())["state"] not in (
            "succeeded",
            "fallback",
            "failed",
            "cancelled",
        ):
            assert time.monotonic() < deadline, f"the photo job did not finish: {job}"
            time.sleep(0.2)
        assert job["state"] in ("succeeded", "fallback"), job
        assert job["images"][0]["renderer"].startswith("compositor"), job["images"][0]
        image = httpx.get(f"{base}{job['images'][0]['url']}", headers=operator, timeout=10)
        assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-4000:]
    assert "ModuleNotFoundError" not in stderr
