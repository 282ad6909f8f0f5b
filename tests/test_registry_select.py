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


def test_all_cannot_be_mixed_with_names():
    """`all nosuchpaper` hid the typo and `backprop all` ran every paper (issue 11 defect 9)."""
    with pytest.raises(UnknownPaperError, match="'all' cannot be combined with paper names \\(got 'nosuchpaper'\\)"):
        registry.select(["all", "nosuchpaper"])
    with pytest.raises(UnknownPaperError, match="'all' cannot be combined"):
        registry.select(["backprop", "all"])
    assert registry.select(["all", "all"]) == list(registry.papers().values())
