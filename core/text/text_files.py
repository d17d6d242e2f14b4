"""Uploaded bytes → text, with one set of rules for every upload field.

UTF-8 (with or without a byte-order mark) and UTF-16 with a byte-order mark (what spreadsheet
programs write as "Unicode text") are read; NUL bytes mean a binary file; anything else
that is not UTF-8 is refused with the line it fails on.
"""

from __future__ import annotations

import codecs


def decode_text(content: bytes, label: str, error_type: type[Exception] = ValueError) -> str:
    """The text in ``content``; ``label`` names the file in messages ("'notes.csv'")."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as error:
            raise error_type(f"{label} starts like UTF-16 text but is not valid UTF-16. Save it as UTF-8.") from error
    if b"\x00" in content:
        raise error_type(f"{label} looks like a binary file, not text (it contains NUL bytes).")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise error_type(f"{label}, line {line}: not valid UTF-8 (byte {error.start}). Save it as UTF-8.") from error
