"""What a replay sends, as exact bytes: original event text kept as it is, generated JSON standard and unescaped."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["UnsupportedRecord", "dumps_json", "lone_surrogate_path"]

# SQS accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a body ("Amazon SQS message quotas",
# message content). JSON escapes control characters itself; these two non-characters are escaped here.
_NON_CHARACTERS = re.compile("[\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnsupportedRecord(Exception):
    """This target cannot replay this record; the message is skipped and left in the queue."""


def dumps_json(value: Any, *, what: str = "the event", sort_keys: bool = False) -> bytes:
    """``value`` as standard JSON in UTF-8: non-ASCII text as itself (never ``\\uXXXX``, which doubles its size)
    and never ``NaN`` / ``Infinity``. UnsupportedRecord if that is impossible (a lone surrogate, a number JSON
    cannot hold, a value JSON has no type for)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=sort_keys)
    except (TypeError, ValueError) as error:
        raise UnsupportedRecord(f"{what} cannot be written as standard JSON: {error}") from None
    text = _NON_CHARACTERS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        path = lone_surrogate_path(value) or "a string"
        raise UnsupportedRecord(
            f"{what} holds a lone surrogate (\\u{ord(text[error.start]):04x}) at {path}: not a Unicode character, so "
            "it has no UTF-8 form; fix the message by hand"
        ) from None


def lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """Where a decoded JSON value holds a lone surrogate (half of a UTF-16 pair, e.g. from ``"\\ud800"``)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return where or "(the value)"
        elif isinstance(item, Mapping):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and _SURROGATE.search(key):
                    return child_path
                stack.append((child, child_path))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return None
