"""Batch transform's records, split as bytes, against SageMaker's line rule read as text.

The rule, as a plain reading of ``SplitType=Line``: every ``\\n`` ends a record, one ``\\r``
before it belongs to the line end, trailing blank lines are no records, and a blank line
among the records is refused with its number. The bytes splitting must agree with it on
any text, and pack mini-batches greedily within ``MaxPayloadInMB``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagegam.local.records import line_batches, read_records
from sagegam.local.state import LocalError

# Characters that make lines blank or not, break them, or span several bytes.
ALPHABET = ["1", ",", "x", " ", "\t", "\r", "\n", "\n", "\u00a0", "\u2003", "\u00e9", "\x1c",
            "\x85"]


def text_rule(text: str) -> list[str] | int:
    """The records of ``text`` by the rule, or the 1-based number of its first blank line."""
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            return number
    return lines


def _file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    return path


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join))
def test_bytes_splitting_agrees_with_the_text_rule(tmp_path_factory, text):
    path = _file(tmp_path_factory.mktemp("records"), text.encode())
    expected = text_rule(text)
    if isinstance(expected, int):
        with pytest.raises(LocalError, match=rf"^in\.csv, line {expected} is empty; "):
            read_records(path, split=True)
        return
    records = read_records(path, split=True)
    assert records.lines() == expected
    assert records.count == len(expected)
    assert records.data == "".join(line + "\n" for line in expected).encode()


@pytest.mark.parametrize(("content", "lines"), [
    (b"1,2\r\n3,4\r\n", ["1,2", "3,4"]),  # CRLF
    (b"1,2\n3,4", ["1,2", "3,4"]),  # no line break after the last record
    (b"1,2\r\n3,4\r", ["1,2", "3,4"]),  # CRLF file cut after its last CR
    (b"1,2\n3,4\n\n \r\n\t\n", ["1,2", "3,4"]),  # trailing blank lines are no records
    (b"", []),
    (b"\n\n", []),
])
def test_line_ends_and_trailing_blank_lines(tmp_path, content, lines):
    records = read_records(_file(tmp_path, content), split=True)
    assert (records.lines(), records.count) == (lines, len(lines))


@pytest.mark.parametrize(("content", "number"), [
    (b"1\n\n2\n", 2), (b"\n1\n", 1), (b"1\n \t\r\n2\n", 2), ("1\n2\n\u00a0\n3\n".encode(), 3),
])
def test_a_blank_line_among_the_records_is_refused_with_its_number(tmp_path, content, number):
    with pytest.raises(LocalError, match=rf"^in\.csv, line {number} is empty; every line "
                                         "must be a record\\.$"):
        read_records(_file(tmp_path, content), split=True)


def test_a_line_of_other_text_is_a_record_even_when_it_starts_with_spaces(tmp_path):
    records = read_records(_file(tmp_path, " 1,2\n\u00e9\n\u00a0x\n".encode()), split=True)
    assert records.lines() == [" 1,2", "\u00e9", "\u00a0x"]


def test_a_file_that_is_not_utf8_is_refused_with_the_position(tmp_path):
    with pytest.raises(LocalError, match=r"^in\.csv is not UTF-8 text \(.*position 4"):
        read_records(_file(tmp_path, b"1,2\n\xff,3\n"), split=True)


def test_without_splitting_the_file_is_one_record_as_it_is(tmp_path):
    records = read_records(_file(tmp_path, b"1,2\r\n\n3,4"), split=False)
    assert (records.lines(), records.count, records.first_line()) == (
        ["1,2\r\n\n3,4"], 1, "1,2\r")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=40), st.integers(1, 64))
def test_mini_batches_are_greedy_slices_within_the_payload(lengths, limit):
    data = b"".join(b"7" * (n - 1) + b"\n" for n in lengths)  # n bytes with the line break
    mb = limit / 2**20
    if max(lengths) > limit:
        first = next(i for i, n in enumerate(lengths, start=1) if n > limit)
        with pytest.raises(LocalError, match=rf"^Line {first} is {lengths[first - 1]} bytes, "
                                             rf"more than MaxPayloadInMB \({mb:g} MB\)"):
            list(line_batches(data, mb))
        return
    batches = list(line_batches(data, mb))
    assert b"".join(data[start:end] for start, end, _ in batches) == data
    assert sum(count for _, _, count in batches) == len(lengths)
    done = 0
    for start, end, count in batches:
        assert end - start <= limit and data[start:end].count(b"\n") == count
        done += count
        if done < len(lengths):  # greedy: the next record would not have fitted
            assert end - start + lengths[done] > limit
