"""What every browser test needs: Debian's chromium, required in CI and skipped without it elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import services_required

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing; install Debian's chromium (apt-get install -y chromium) to run browser tests"
        if services_required():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return CHROMIUM
