"""`.policy fetch-timeout=` in the workbench, as stub/src/policy.c reads it: 1..3600 seconds,
decimal, at most 4 digits (the stub warns and keeps 120 for anything else)."""

from __future__ import annotations

import pytest

from workbench.errors import WorkbenchError
from workbench.stubinfo import POLICY_KEYS, validate_policy


@pytest.mark.parametrize("value", ["1", "120", "3600", "0005"])
def test_values_the_stub_takes_are_accepted(value: str) -> None:
    assert validate_policy({"fetch-timeout": value}) == {"fetch-timeout": value}


@pytest.mark.parametrize("value", ["0", "3601", "00060", "1m", "", "-5", "٣"])
def test_values_the_stub_would_ignore_are_refused(value: str) -> None:
    with pytest.raises(WorkbenchError, match=r"bad policy value fetch-timeout=.*1 to 3600"):
        validate_policy({"fetch-timeout": value})


def test_the_key_is_listed() -> None:
    assert "fetch-timeout" in POLICY_KEYS
