"""workbench.paths against the vectors the C stub's host tests use (tests/vectors/paths.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.errors import WorkbenchError
from workbench.paths import http_url, parse_stub_path, valid_http_authority

DATA = json.loads((Path(__file__).parent / "vectors" / "paths.json").read_text("utf-8"))
VECTORS = DATA["vectors"]
URL_VECTORS = DATA["http_urls"]


def _input(vector: dict) -> str | bytes:
    return bytes.fromhex(vector["input_hex"]) if "input_hex" in vector else vector["input"]


def _id(vector: dict) -> str:
    text = vector.get("input", vector.get("input_hex", ""))
    return repr(text[:40])


@pytest.mark.parametrize("vector", VECTORS, ids=[_id(v) for v in VECTORS])
def test_vector(vector: dict) -> None:
    if "error" in vector:
        with pytest.raises(WorkbenchError) as caught:
            parse_stub_path(_input(vector))
        assert str(caught.value) == vector["error"]
        return
    path = parse_stub_path(_input(vector))
    assert path.tftp_name == vector["tftp_name"]
    assert path.tftp_server == vector["tftp_server"]
    assert path.esp_parts == tuple(vector["esp_parts"])
    assert path.scheme == vector["scheme"]
    assert path.is_url == (vector["scheme"] != "plain")
    assert path.absolute == vector.get("absolute", False)
    assert path.http_authority == vector.get("http_authority")
    assert path.https == vector.get("https", False)


@pytest.mark.parametrize("vector", URL_VECTORS, ids=[v["input"][:30] for v in URL_VECTORS])
def test_http_url_vector(vector: dict) -> None:
    path = parse_stub_path(vector["input"])
    if "error" in vector:
        with pytest.raises(WorkbenchError) as caught:
            http_url(vector["base"], path)
        assert str(caught.value) == vector["error"]
    else:
        assert http_url(vector["base"], path) == vector["url"]


@pytest.mark.parametrize(
    ("authority", "valid"),
    [("h", True), ("10.0.2.2:80", True), ("[::1]", True), ("[fd00::2]:8080", True),
     ("a-b.c.example:65535", True), ("", False), (":80", False), ("h:", False), ("h:0", False),
     ("h:99999", False), ("h:123456", False), ("[::1", False), ("[x]", False), ("-h", False),
     ("h.", False), (".h", False), ("a_b", False), ("u@h", False), ("h:8a", False)],
)  # fmt: skip
def test_http_authority_as_the_c_host_tests(authority: str, valid: bool) -> None:
    assert valid_http_authority(authority) == valid


def test_vectors_cover_every_reason() -> None:
    reasons = {v["error"] for v in VECTORS if "error" in v}
    assert reasons == {
        "empty path",
        "invalid UTF-8 in path",
        "control character in path",
        "'..' component in path",
        "unsupported URL scheme (tftp://, http:// or https://)",
        "TFTP server is not an IPv4 or [IPv6] address",
        "HTTP host is not an IP address or DNS name (with an optional :port)",
        "character a URL path cannot carry (write it as %XX)",
        "bad %-escape in URL",
        "path too long",
    }


def test_esp_path_and_bytes_input() -> None:
    path = parse_stub_path(b"\\EFI\\Linux\\vmlinuz")
    assert path.esp_path == "\\EFI\\Linux\\vmlinuz"
    assert path.text == "\\EFI\\Linux\\vmlinuz"


def test_lone_surrogate_is_invalid_utf8() -> None:
    with pytest.raises(WorkbenchError, match="invalid UTF-8 in path"):
        parse_stub_path("\\EFI\\\udcff")


@given(st.text(max_size=80))
def test_any_text_gives_a_path_or_a_one_line_error(text: str) -> None:
    try:
        path = parse_stub_path(text)
    except WorkbenchError as error:
        assert "\n" not in str(error)
        return
    # A valid path never escapes upwards and always names something.
    assert path.esp_parts
    assert ".." not in path.esp_parts
    assert all(part and "/" not in part and "\\" not in part for part in path.esp_parts)
    # Normalising again is stable.
    again = parse_stub_path(path.esp_path)
    assert again.esp_parts == path.esp_parts
