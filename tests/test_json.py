"""compact_json: the encoder every evidence column goes through must say exactly what the standard library says."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rightful.models import compact_json

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                               max_size=4))  # fmt: skip


@given(_VALUES)
def test_parses_back_to_what_the_standard_library_writes(value: Any) -> None:
    """Any JSON value (incl. integers beyond 64 bits, control characters, non-ASCII) round-trips unchanged."""
    text = compact_json(value)
    assert json.loads(text) == json.loads(json.dumps(value))


def test_compact_utf8_and_big_integers() -> None:
    """Non-ASCII stays as text (not \\u escapes), separators carry no spaces, big integers fall back cleanly."""
    assert compact_json({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'
    assert compact_json({"n": 2**80}) == '{"n":1208925819614629174706176}'


def test_nan_becomes_null_or_nan_never_an_error() -> None:
    """A NaN never breaks an audit row: written as null (orjson) or NaN (standard library)."""
    text = compact_json({"x": math.nan})
    assert text in ('{"x":null}', '{"x":NaN}')
