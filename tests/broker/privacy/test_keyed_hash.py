"""The hand-rolled HMAC gives exactly the standard library's HMAC-SHA256, for any key."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from broker.privacy.keyed_hash import HmacSha256


@given(key=st.binary(min_size=0, max_size=200), values=st.lists(st.binary(max_size=300)))
def test_matches_the_standard_library(key: bytes, values: list[bytes]) -> None:
    expected = [hmac.new(key, value, hashlib.sha256).hexdigest() for value in values]
    keyed = HmacSha256(key)
    assert keyed.hexdigests(values) == expected
    assert [keyed.hexdigest(value) for value in values] == expected


def test_the_key_is_not_shown() -> None:
    assert "secret" not in repr(HmacSha256(b"secret" * 10))
