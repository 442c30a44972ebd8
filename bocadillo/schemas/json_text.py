"""JSON text a schema backend refuses before validating: NaN, Infinity and numbers
past a 64-bit float's range, and orjson's complaint put in words."""

from __future__ import annotations

import re

import orjson

__all__ = ["LONG_DIGITS", "NUMBER_SHAPES", "json_error_message", "non_finite_error"]


# -- JSON numbers ------------------------------------------------------------
#
# RFC 8259 has no NaN or Infinity, and a number past a 64-bit float's range
# (about 1.8e308) cannot be read as one. pydantic's parser accepts all three and
# hands the validator nan or inf; orjson refuses them. A JSON body (or message)
# that holds one is malformed: a 400.

# Digits become "0", "E" and "+" become "e", "I" becomes "N". In the result, an
# exponent of three digits or more (e309, E+309, e+0400) reads "e000", and the
# literals NaN, Infinity and -Infinity all have an "N".
NUMBER_SHAPES = bytes.maketrans(b"0123456789E+I", b"0000000000eeN")
# A number with a one- or two-digit exponent (or none) overflows only with 210
# digits or more before its point (10**209 * 10**99 is still in range): a run of
# 200 digits is looked for.
LONG_DIGITS = b"0" * 200
# In the shapes, after an "e000": the rest of the exponent's digits, then what may
# end a JSON number (a hex string such as a UUID, "550e8400-e29b-...", goes on
# with letters or dashes instead).
_EXPONENT_END = re.compile(rb"0*(?:[\s,\]}]|\Z)")
_OVERFLOW_MESSAGE = "number is infinity when parsed as double"


def _big_exponent(shape: bytes) -> bool:
    """Whether an "e000" of ``shape`` may be the exponent of a JSON number: a digit
    before it (or before its sign), a JSON delimiter after its digits."""
    at = shape.find(b"e000")
    while at >= 0:
        before = shape[max(at - 2, 0) : at]  # "?0" (a digit, then e or E), or "0e" (then +)
        if (before.endswith(b"0") or before == b"0e") and _EXPONENT_END.match(shape, at + 4):
            return True
        at = shape.find(b"e000", at + 1)
    return False


def non_finite_error(data: bytes, shape: bytes) -> str | None:
    """Why ``data`` is refused if it holds NaN, Infinity or a number past a float's
    range (outside strings), else None.

    ``shape`` is ``data.translate(NUMBER_SHAPES)``, in which the caller found an
    "N", an "e000" or a run of ``LONG_DIGITS``: a body is sent here only then.
    Capital letters and hex strings are told apart first, by a few scans; orjson,
    which refuses all three, decides what is left.
    """
    suspect = (78 in data or 73 in data) and (data.find(b"NaN") >= 0 or data.find(b"Infinity") >= 0)
    if not suspect:
        suspect = _big_exponent(shape)
    if not suspect and len(shape) >= len(LONG_DIGITS):
        suspect = shape.find(LONG_DIGITS) >= 0
    if not suspect:
        return None
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return json_error_message(exc)
    return None


def json_error_message(exc: orjson.JSONDecodeError) -> str:
    """orjson's complaint about a document, in words, for the ``errors`` of a 400."""
    where = f"line {exc.lineno} column {exc.colno}"
    rest = exc.doc[exc.pos : exc.pos + 9]  # the document as text: pos counts characters
    if rest.startswith(("NaN", "Infinity", "-Infinity")):
        return f"Invalid JSON: NaN and Infinity are not JSON numbers, at {where}"
    if exc.msg == _OVERFLOW_MESSAGE:
        return f"Invalid JSON: a number is too large for a 64-bit float, at {where}"
    return f"Invalid JSON: {exc.msg} at {where}"
