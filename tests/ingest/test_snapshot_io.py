"""Parsing APOC's CSV cells of list properties (the request windows of USED_IP)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from ingest.snapshot_io import _arrow_list


def cells(lists: list[list | None]) -> pa.ChunkedArray:
    """The cells as APOC writes them: a JSON list, null for a missing property."""
    text = [None if v is None else json.dumps(v, separators=(",", ":")) for v in lists]
    return pa.chunked_array([pa.array(text, type=pa.string())])


AGENTS = [
    ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)", ""],
    None,
    [],
    ['a "quoted", agent', 'a","b', "bot\\1.0"],  # escapes: decoded as JSON
    ["ünïcode ✓"],
]


@pytest.mark.parametrize("lists", [AGENTS, [AGENTS[0], None, [], ["a", "b"], AGENTS[4]]])
def test_text_lists_flatten_to_their_strings(lists):
    flat, lengths = _arrow_list("win_ua", cells(lists))
    expected = [s for v in lists if v for s in v]
    assert flat.tolist() == expected
    assert lengths.tolist() == [len(v or []) for v in lists]
    # one string object per distinct value, as for a text column
    assert len({id(s) for s in flat}) == len(set(expected))


def test_number_lists_flatten_to_floats():
    lists = [[1790609700, 300], None, [], [-1], [1.5e9, 3600]]
    flat, lengths = _arrow_list("win_start", cells(lists))
    assert flat.dtype == np.float64
    assert flat.tolist() == [1790609700.0, 300.0, -1.0, 1.5e9, 3600.0]
    assert lengths.tolist() == [2, 0, 0, 1, 2]


def test_names_are_looked_up_by_node_id_and_a_missing_node_is_an_error():
    from graphs.errors import DetectionError
    from ingest.snapshot_io import _Names

    names = _Names(np.array([40, 7, 12]), np.array(["a", "b", "c"], dtype=object))
    assert names[np.array([12, 40, 7, 7])].tolist() == ["c", "a", "b", "b"]
    assert names[np.array([], dtype=np.int64)].tolist() == []
    for gone in (8, 3, 41):  # between, below and above the label's ids
        with pytest.raises(DetectionError, match="changed while detect read it"):
            names[np.array([7, gone])]
    with pytest.raises(DetectionError):
        _Names(np.array([], dtype=np.int64), np.array([], dtype=object))[np.array([1])]


def test_collected_columns_flatten_lists_and_make_nulls_none():
    # what the driver hands over for one range: a null as $none (NaN), a list column as
    # lists (a missing list as [])
    from ingest.snapshot_io import _joined, _list_column

    agents, lengths = _list_column("win_ua", [["ua-1", ""], [], ["ua-1"]])
    assert agents.tolist() == ["ua-1", "", "ua-1"] and lengths.tolist() == [2, 0, 1]
    assert _joined("win_ua", [agents, agents]).tolist() == ["ua-1", "", "ua-1"] * 2
    starts, lengths = _list_column("win_start", [[1790609700, 300], []])
    assert starts.dtype == np.float64 and lengths.tolist() == [2, 0]
    nan = float("nan")
    for name in ("email", "country"):  # distinct keys, and few values kept shared
        pieces = [_list_column(name, ["a@x", nan]), _list_column(name, [nan, "b@x"])]
        assert _joined(name, pieces).tolist() == ["a@x", None, None, "b@x"]
    de = ["".join("DE"), "FR", "".join("DE")]  # two equal strings, not one object
    shared = _joined("country", [_list_column("country", de)])
    assert de[0] is not de[2] and shared[0] is shared[2]
