"""Turn tests/vectors/console.json into a C header for the host tests (same vectors as Python)."""

import json
import sys

KINDS = {"word": "OP_WORD", "field": "OP_FIELD", "note": "OP_NOTE", "error": "OP_ERROR",
         "warning": "OP_WARNING"}  # fmt: skip


def c_text(text: str | None) -> str:
    if text is None:
        return "NULL"
    # Octal escapes stop after three digits, so the next byte can never join them.
    return '"' + "".join(f"\\{b:03o}" for b in text.encode()) + '"'


def main() -> None:
    vectors = json.load(open(sys.argv[1], encoding="utf-8"))["lines"]
    print("/* Generated from tests/vectors/console.json by tests/gen_console_vectors.py. */")
    print("static const console_op console_ops[] = {")
    for index, vector in enumerate(vectors):
        for op in vector["build"]:
            args = [c_text(arg) for arg in op[1:]] + ["NULL"] * (5 - len(op))
            print(f"    {{{index}, {KINDS[op[0]]}, {', '.join(args)}}},")
    print("};")
    print("static const char *const console_lines[] = {")
    for vector in vectors:
        print(f"    {c_text(vector['line'])},")
    print("};")


main()
