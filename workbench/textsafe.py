"""Names from the network, made safe to print on one line of a log or a terminal.

A file name asked for by a client may hold a newline (a forged log line) or an escape
sequence (the operator's terminal obeys it). Printed, every character that is not printable
becomes `\\xNN` for each byte of its UTF-8 form, and a backslash becomes `\\\\`, as the stub's
console protocol writes them (stub/FORMAT.md §7). Printable non-ASCII text stays as it is.
JSON needs none of this: it escapes control characters itself, so events keep the name as
it was asked for and only their text form goes through `printable()`.
"""

from __future__ import annotations


def printable(text: str, *, escape_backslash: bool = True) -> str:
    """`text` with backslashes and non-printable characters escaped (see the module doc).
    `escape_backslash=False` keeps backslashes as they are, for text that is already the
    stub's own escaped form or holds EFI paths (`\\EFI\\Linux`) meant to be read as such."""
    if text.isprintable() and (not escape_backslash or "\\" not in text):
        return text  # the common case costs one scan
    out = []
    for char in text:
        if char == "\\" and escape_backslash:
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        else:
            # Lone surrogates (undecodable bytes) are written as the bytes they stand for.
            try:
                raw = char.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raw = char.encode("utf-8", "surrogatepass")
            out.append("".join(f"\\x{byte:02x}" for byte in raw))
    return "".join(out)
