"""Reading user text files: encodings and separators, with clear errors."""

from __future__ import annotations

from marketreact.errors import InputError, InputProblem


def decode_utf8(raw: bytes, source: str) -> str:
    """Decode a file's bytes as UTF-8 (a byte-order mark is allowed and dropped).

    Parameters
    ----------
    raw : bytes
        The file's contents.
    source : str
        File name, for the error.

    Raises
    ------
    InputError
        Naming the line and offset of the first byte that is not UTF-8 (for
        example a Latin-1 or UTF-16 file).
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError([InputProblem(
            source, 1, None, None, "file is UTF-16 encoded; re-save it as UTF-8")])
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise InputError([InputProblem(
            source, raw[:nul].count(b"\n") + 1, None, None,
            f"file holds a NUL byte at offset {nul}: a binary or UTF-16 file? "
            "save it as UTF-8 text")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([InputProblem(
            source, line, None, repr(raw[exc.start:exc.start + 1])[2:-1],
            f"file is not UTF-8 (undecodable byte at offset {exc.start}); "
            "re-save it as UTF-8")]) from None


def check_separator(header: list[str], source: str) -> None:
    """Refuse a CSV header that was split on commas but uses ``;`` or tabs.

    Raises
    ------
    InputError
        When the header is one field holding semicolons or tabs.
    """
    if len(header) != 1:
        return
    text = header[0]
    if ";" in text and "," not in text:
        raise InputError([InputProblem(
            source, 1, None, text, "columns are separated by ';'; use commas")])
    if "\t" in text:
        raise InputError([InputProblem(
            source, 1, None, text, "columns are separated by tabs; use commas")])
