"""Turn tests/vectors/paths.json into a C header for the host tests (same vectors as Python)."""

import json
import sys


def c_bytes(data: bytes) -> str:
    # Octal escapes stop after three digits, so the next byte can never join them.
    return '"' + "".join(f"\\{b:03o}" for b in data) + '"'


def main() -> None:
    vectors = json.load(open(sys.argv[1], encoding="utf-8"))["vectors"]
    print("/* Generated from tests/vectors/paths.json by stub/tests/gen_vectors.py. */")
    print("static const struct path_vector path_vectors[] = {")
    for v in vectors:
        raw = bytes.fromhex(v["input_hex"]) if "input_hex" in v else v["input"].encode()
        error = v.get("error")
        name = (v.get("tftp_name") or "").encode()
        server = v.get("tftp_server")
        quad = [int(x) for x in server.split(".")] if server else [0, 0, 0, 0]
        esp = ("\\" + "\\".join(v.get("esp_parts") or [])).encode()
        print(
            f"    {{{c_bytes(raw)}, {len(raw)}, {c_bytes(error.encode()) if error else 'NULL'}, "
            f"{c_bytes(name)}, {1 if server else 0}, {{{', '.join(map(str, quad))}}}, "
            f"{c_bytes(esp)}}},"
        )
    print("};")


if __name__ == "__main__":
    main()
