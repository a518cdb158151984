"""The SSE parser: bytes in any split -> events, stopping at [DONE]."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from agentkit._sse import ServerSentEvent, SSEParser

STREAMS = Path(__file__).parent / "data" / "streams"


def parse(*chunks: bytes, flush: bool = False) -> tuple[list[ServerSentEvent], SSEParser]:
    parser = SSEParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    if flush:
        events += parser.flush()
    return events, parser


def test_single_data_event_and_done():
    events, parser = parse(b'data: {"a":1}\n\ndata: [DONE]\n\n')
    assert events == [ServerSentEvent(b'{"a":1}')]
    assert parser.done


def test_multi_line_data_is_joined_with_newline():
    events, _ = parse(b"data: first\ndata:second\ndata:  third\n\n")
    assert [e.data for e in events] == [b"first\nsecond\n third"]


def test_comments_and_fields():
    events, _ = parse(
        b": keep-alive\n\nevent: delta\nid: 7\nretry: 1500\nunknown: x\ndata: hi\n\ndata: again\n\n"
    )
    assert events == [
        ServerSentEvent(b"hi", event="delta", id="7", retry=1500),
        # event and retry reset after dispatch; the last event id persists, as the spec says
        ServerSentEvent(b"again", event=None, id="7", retry=None),
    ]


def test_id_with_nul_and_bad_retry_are_ignored():
    events, _ = parse(b"id: a\x00b\nretry: soon\ndata: x\n\n")
    assert events == [ServerSentEvent(b"x")]


def test_field_without_colon_and_empty_data():
    events, _ = parse(b"data\n\ndata:\ndata:\n\n")
    assert [e.data for e in events] == [b"", b"\n"]


def test_blank_lines_without_data_dispatch_nothing():
    events, _ = parse(b"\n\n\nevent: ping\n\n")
    assert events == []


def test_cr_and_crlf_line_endings():
    lf, _ = parse(b"data: a\n\ndata: b\n\n")
    cr, _ = parse(b"data: a\r\rdata: b\r\r")
    crlf, _ = parse(b"data: a\r\n\r\ndata: b\r\n\r\n")
    assert lf == cr == crlf == [ServerSentEvent(b"a"), ServerSentEvent(b"b")]


def test_split_inside_crlf_is_not_a_blank_line():
    events, _ = parse(b"data: a\r", b"\ndata: b\r\n\r", b"\n")
    assert events == [ServerSentEvent(b"a\nb")]


def test_nothing_after_done_is_parsed():
    events, parser = parse(b"data: 1\n\ndata: [DONE]\n\ndata: 2\n\n", b"data: 3\n\n")
    assert [e.data for e in events] == [b"1"]
    assert parser.done
    assert parser.flush() == []


def test_done_without_space_or_with_padding():
    assert parse(b"data:[DONE]\n\n")[1].done
    assert parse(b"data: [DONE] \n\n")[1].done


def test_incomplete_event_waits_for_more_input():
    events, parser = parse(b'data: {"a"', b":1}\n")
    assert events == []
    assert parser.feed(b"\n") == [ServerSentEvent(b'{"a":1}')]


def test_flush_dispatches_a_trailing_unterminated_event():
    events, parser = parse(b"data: last", flush=True)
    assert events == [ServerSentEvent(b"last")]
    events, parser = parse(b"data: [DONE]", flush=True)
    assert events == [] and parser.done
    assert parse(b"", flush=True)[0] == []


def test_utf8_split_mid_character():
    text = "data: héllo ✓\n\n".encode()
    events, _ = parse(text[:8], text[8:])
    assert events[0].data.decode() == "héllo ✓"


BOM = "\ufeff".encode()


def test_one_leading_bom_is_stripped_wherever_the_chunks_split():
    raw = BOM + b"data: first\n\ndata: second\n\n"
    for cut in range(len(raw)):  # inside the BOM, right after it, anywhere later
        events, _ = parse(raw[:cut], raw[cut:])
        assert [e.data for e in events] == [b"first", b"second"], cut
    events, _ = parse(*[raw[i : i + 1] for i in range(len(raw))])
    assert [e.data for e in events] == [b"first", b"second"]


def test_only_the_first_bom_of_the_stream_is_stripped():
    # the spec strips one, at the very start; any other makes "\ufeffdata", an unknown field
    assert parse(BOM + BOM + b"data: x\n\n")[0] == []
    events, _ = parse(b"data: a\n\n" + BOM + b"data: b\n\n")
    assert [e.data for e in events] == [b"a"]
    assert parse(BOM[:2], flush=True)[0] == []  # a body cut inside the BOM: nothing to parse
    assert [e.data for e in parse(b"\xef", b"data: x\n\n")[0]] == []  # not a BOM: kept


@given(st.data())
def test_any_split_gives_the_same_events(data: st.DataObject):
    raw = (STREAMS / "crlf_comments.sse").read_bytes() + b"data: after\n\n"
    expected, _ = parse(raw)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    events, parser = parse(*pieces)
    assert events == expected
    assert parser.done


@given(st.lists(st.binary(max_size=30).filter(lambda b: b"[DONE]" not in b), max_size=5))
def test_line_endings_are_interchangeable(payloads: list[bytes]):
    lines = [p.replace(b"\r", b"").replace(b"\n", b"") for p in payloads]
    for sep in (b"\n", b"\r", b"\r\n"):
        raw = b"".join(b"data: " + line + sep + sep for line in lines)
        events, _ = parse(*[raw[i : i + 3] for i in range(0, len(raw), 3)])
        assert [e.data for e in events] == lines


def test_a_line_past_the_bound_stops_the_parser_after_the_events_before_it():
    parser = SSEParser(max_event_bytes=16)
    assert parser.feed(b"data: a\n\ndata: 0123456789") == [ServerSentEvent(b"a")]
    assert parser.error is None  # 16 bytes so far: not past the bound yet
    assert parser.feed(b"abcdef") == []
    assert parser.error is not None and "16 bytes (max_sse_event_bytes)" in str(parser.error)
    assert parser.feed(b"\n\ndata: b\n\n") == [] and parser.flush() == []
    assert not parser.done


def test_the_bound_counts_an_events_data_lines_together():
    parser = SSEParser(max_event_bytes=12)
    assert parser.feed(b"data: 12345\ndata: 1234\n\n") == [ServerSentEvent(b"12345\n1234")]
    assert parser.feed(b"data: 123456\ndata: 123456\n\n") == []  # lines of 12, data of 13
    assert parser.error is not None and "an event longer than 12 bytes" in str(parser.error)


def test_a_long_line_in_many_reads_is_joined_once():
    payload = bytes(range(256)) * 400
    payload = payload.replace(b"\n", b"").replace(b"\r", b"")
    raw = b"data: " + payload + b"\r\n\r\n"
    parser = SSEParser()
    events = [e for i in range(0, len(raw), 3) for e in parser.feed(raw[i : i + 3])]
    assert [e.data for e in events] == [payload]
