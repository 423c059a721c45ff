"""One loader for every QMS_* variable (qms.server.settings): parsed by type, a bad
value named at start, and the environment handed to uvicorn's workers read back
as the same config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qms.server.config import Config
from qms.server.settings import SettingError


def test_every_field_comes_from_its_variable() -> None:
    env = {
        "QMS_HOST": "::1",
        "QMS_PORT": "9001",
        "QMS_DATA_DIR": "/srv/qms",
        "QMS_LOG_URL": "redis://127.0.0.1:6379/0",
        "QMS_WORKERS": "2",
        "QMS_ALLOWED_ORIGINS": "https://mpp.example.go.id, https://b.example ,",
        "QMS_SECRET_KEY": "k",
        "QMS_PUBLIC_URL": "https://mpp.example.go.id",
        "QMS_SIMULATE": "yes",
        "QMS_VOICE_DIR": "/srv/voice",
        "QMS_RELAY": "0",
        "QMS_FORWARDED_ALLOW_IPS": " 10.0.0.1 ",
        "QMS_REQUEST_TIMEOUT": "2.5",
        "QMS_LIMIT_CONCURRENCY": "500",
        "QMS_WS_IMPL": "wsproto",
        "QMS_REPORTS_MEMORY_DAYS": "30",
    }
    config = Config.from_env(env)
    assert config == Config(
        host="::1",
        port=9001,
        data_dir=Path("/srv/qms"),
        log_url="redis://127.0.0.1:6379/0",
        workers=2,
        allowed_origins=("https://mpp.example.go.id", "https://b.example"),
        secret_key="k",
        public_url="https://mpp.example.go.id",
        simulate=True,
        voice_dir="/srv/voice",
        relay=False,
        forwarded_allow_ips="10.0.0.1",
        request_timeout=2.5,
        limit_concurrency=500,
        ws_impl="wsproto",
        reports_memory_days=30,
    )
    assert Config.from_env(config.to_env()) == config  # what uvicorn's workers rebuild
    assert Config.from_env({}) == Config()
    assert Config.from_env(env, port=7000, host=None).port == 7000  # a flag wins, None not


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QMS_PORT", "delapan ribu"),
        ("QMS_WORKERS", "2.5"),
        ("QMS_REQUEST_TIMEOUT", "10s"),
        ("QMS_REPORTS_MEMORY_DAYS", "many"),
        ("QMS_REPORTS_MEMORY_DAYS", ""),
        ("QMS_REPORTS_MEMORY_DAYS", "-1"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingError, match=name):
        Config.from_env({name: value})


def test_the_server_refuses_to_start_on_a_bad_value(tmp_path: Path) -> None:
    env = {**os.environ, "QMS_PORT": "delapan ribu", "QMS_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "qms", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "qms: QMS_PORT must be int, got 'delapan ribu'"


def test_the_days_kept_in_memory_for_reports_are_a_setting(tmp_path: Path) -> None:
    assert Config.from_env({}).reports_memory_days == 400
    assert Config.from_env({"QMS_REPORTS_MEMORY_DAYS": "0"}).reports_memory_days == 0
    env = {**os.environ, "QMS_REPORTS_MEMORY_DAYS": "-5", "QMS_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "qms", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "qms: QMS_REPORTS_MEMORY_DAYS must be 0 or more, got -5"
