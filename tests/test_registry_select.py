"""Selecting papers on the command line: one key, several, or 'all'."""

from __future__ import annotations

import pytest

from harness import registry
from harness.errors import UnknownPaperError


def test_several_keys_in_the_order_given_each_once_and_all_means_every_paper():
    keys = list(registry.papers())
    assert [p.key for p in registry.select(keys[0])] == keys[:1]
    assert [p.key for p in registry.select([keys[2], keys[0], keys[2]])] == [keys[2], keys[0]]
    assert [p.key for p in registry.select(["all"])] == keys


def test_every_unknown_key_is_named():
    with pytest.raises(UnknownPaperError, match="unknown papers 'nope', 'nada'"):
        registry.select(["nope", list(registry.papers())[0], "nada"])
