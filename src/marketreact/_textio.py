"""Reading user text files: encodings and separators, with clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from marketreact.errors import InputError, InputProblem

#: Largest input file read whole into memory (event catalogues, articles, price files).
MAX_INPUT_BYTES = 2 * 1024**3

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_regular_file(path: os.PathLike[str] | str, what: str = "file",
                       max_bytes: int = MAX_INPUT_BYTES) -> int:
    """Refuse anything but a readable regular file, without reading it.

    A FIFO would block forever, ``/dev/zero`` never ends and a folder is not a
    file: each is named for what it is, in one line, before a byte is read.

    Parameters
    ----------
    path : path-like
        The input (a symlink is followed, and judged by what it points to).
    what : str
        What the file should be, for the message ("event file", "price file").
    max_bytes : int
        Largest size accepted.

    Returns
    -------
    int
        The file's size in bytes.

    Raises
    ------
    InputError
        Naming the path and the real cause.
    """
    source = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        dangling = Path(path).is_symlink()
        raise InputError([InputProblem(source, None, None, None,
                                       "is a symlink to a missing file" if dangling
                                       else "file not found")]) from None
    except OSError as exc:
        raise InputError([InputProblem(source, None, None, None,
                                       f"cannot be read ({exc.strerror or exc})")]) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError([InputProblem(source, None, None, None,
                                       f"is a folder, not an {what}" if what[0] in "aeiou"
                                       else f"is a folder, not a {what}")])
    for test, kind in _KINDS:
        if test(info.st_mode):
            raise InputError([InputProblem(source, None, None, None,
                                           f"is {kind}, not a regular file; refused "
                                           "without reading it")])
    if info.st_size > max_bytes:
        raise InputError([InputProblem(source, None, None, None,
                                       f"is {info.st_size / 1024**3:.1f} GB, more than the "
                                       f"{max_bytes / 1024**3:.0f} GB an input may be")])
    return info.st_size


def read_input(path: os.PathLike[str] | str, what: str = "file") -> str:
    """Read a user's text file as UTF-8 after :func:`check_regular_file`."""
    check_regular_file(path, what)
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError([InputProblem(source, None, None, None,
                                       f"cannot be read ({exc.strerror or exc})")]) from None
    return decode_utf8(raw, source)


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
