"""Turn tests/vectors/paths.json into a C header for the host tests (same vectors as Python)."""

import ipaddress
import json
import sys


def c_bytes(data: bytes) -> str:
    # Octal escapes stop after three digits, so the next byte can never join them.
    return '"' + "".join(f"\\{b:03o}" for b in data) + '"'


SCHEMES = {"plain": "PATH_PLAIN", "tftp": "PATH_TFTP", "http": "PATH_HTTP"}


def raw_input(vector: dict) -> bytes:
    return bytes.fromhex(vector["input_hex"]) if "input_hex" in vector else vector["input"].encode()


def optional(text: str | None) -> str:
    return c_bytes(text.encode()) if text is not None else "NULL"


def path_vector(v: dict) -> str:
    raw = raw_input(v)
    server = v.get("tftp_server")
    address = ipaddress.ip_address(server) if server else None
    family = 0 if address is None else address.version
    packed = list(address.packed) if address else []
    packed += [0] * (16 - len(packed))
    esp = ("\\" + "\\".join(v.get("esp_parts") or [])).encode()
    fields = [
        c_bytes(raw), str(len(raw)), optional(v.get("error")),
        c_bytes((v.get("tftp_name") or "").encode()), SCHEMES[v.get("scheme", "plain")],
        "1" if v.get("absolute") else "0", str(family), "{" + ", ".join(map(str, packed)) + "}",
        c_bytes((v.get("http_authority") or "").encode()), "1" if v.get("https") else "0",
        c_bytes(esp),
    ]  # fmt: skip
    return "    {" + ", ".join(fields) + "},"


def url_vector(v: dict) -> str:
    base = v["base"].encode() if v["base"] is not None else None
    raw = v["input"].encode()
    fields = [
        c_bytes(base) if base is not None else "NULL", str(len(base or b"")), c_bytes(raw),
        str(len(raw)), optional(v.get("url")), optional(v.get("error")),
    ]  # fmt: skip
    return "    {" + ", ".join(fields) + "},"


def main() -> None:
    data = json.load(open(sys.argv[1], encoding="utf-8"))
    print("/* Generated from tests/vectors/paths.json by stub/tests/gen_vectors.py. */")
    print("static const struct path_vector path_vectors[] = {")
    for v in data["vectors"]:
        print(path_vector(v))
    print("};")
    print("static const struct url_vector url_vectors[] = {")
    for v in data["http_urls"]:
        print(url_vector(v))
    print("};")


if __name__ == "__main__":
    main()
