"""What a stub is and what it will do: flavour detection and decoding of the known sections."""

from __future__ import annotations

from collections.abc import Mapping

from workbench.errors import WorkbenchError

# `.policy` keys the stub understands (stub/FORMAT.md), with a check for each value.
POLICY_KEYS: dict[str, str] = {
    "on-error": "reset, halt or exit",
    "error-delay": "seconds, 0 to 600",
    "source": "auto, local or net",
}


def _policy_value_ok(key: str, value: str) -> bool:
    if key == "on-error":
        return value in ("reset", "halt", "exit")
    if key == "source":
        return value in ("auto", "local", "net")
    if key == "error-delay":
        return value.isascii() and value.isdigit() and int(value) <= 600
    return False


def validate_policy(policy: Mapping[str, str]) -> dict[str, str]:
    """Check every key and value; a clear error for the first bad one."""
    checked: dict[str, str] = {}
    for key, value in policy.items():
        if key not in POLICY_KEYS:
            raise WorkbenchError(f"unknown policy key {key!r} (known: {', '.join(POLICY_KEYS)})")
        if not isinstance(value, str) or not _policy_value_ok(key, value):
            raise WorkbenchError(f"bad policy value {key}={value!r}: {POLICY_KEYS[key]}")
        checked[key] = value
    return checked


def parse_policy_argument(text: str) -> tuple[str, str]:
    """`KEY=VALUE` from the command line."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise WorkbenchError(f"bad policy setting {text!r}: expected KEY=VALUE")
    return key.strip(), value.strip()


def format_policy(policy: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in policy.items())


def parse_policy(text: str) -> dict[str, str]:
    """`key=value` lines as the stub reads them (blank lines and `#` comments skipped)."""
    policy: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        policy[key.strip()] = value.strip()
    return policy
