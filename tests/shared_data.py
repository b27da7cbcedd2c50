"""The real public data beside the clone (`../shared/data`), which several tests read by path.

CI always has it, so a missing file is a failure there, not a silent skip; a developer without the
data may set MATCHMAKER_ALLOW_MISSING_DATA=1 to skip those tests instead."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("MATCHMAKER_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def require(path: Path) -> Path:
    """`path`, or fail the test (skip with MATCHMAKER_ALLOW_MISSING_DATA=1) if it is not there."""
    if not path.exists():
        message = f"the shared data file {path} is missing (MATCHMAKER_DATA_DIR points elsewhere?)"
        if os.environ.get("MATCHMAKER_ALLOW_MISSING_DATA") == "1":
            pytest.skip(message)
        pytest.fail(message)
    return path
