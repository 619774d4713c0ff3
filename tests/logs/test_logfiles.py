"""Container log line formats, summaries and the kubelet listing, including hostile input."""

from __future__ import annotations

import json

import pytest

from lsconform.probes import logfiles
from lsconform.probes.logfiles import LineFormat, RuntimeKind

T = "2026-12-04T20:00:00.123456789Z"


def cri(message: str, tag: str = "F", stream: str = "stdout") -> bytes:
    return f"{T} {stream} {tag} {message}".encode()


def docker(message: str, stream: str = "stdout") -> bytes:
    return json.dumps({"log": message, "stream": stream, "time": T}).encode()


def test_cri_full_line():
    line = logfiles.parse_cri_line(cri('{"level":"info"}'))
    assert line is not None
    assert line.format is LineFormat.CRI
    assert line.stream == "stdout"
    assert line.partial is False
    assert line.message == b'{"level":"info"}'


def test_cri_empty_message():
    line = logfiles.parse_cri_line(f"{T} stderr F".encode())
    assert line is not None
    assert line.message == b""


def test_cri_rejects_docker_line():
    assert logfiles.parse_cri_line(docker("hello\n")) is None


def test_cri_rejects_bad_stream_and_tag():
    assert logfiles.parse_cri_line(f"{T} stdin F x".encode()) is None
    assert logfiles.parse_cri_line(f"{T} stdout X x".encode()) is None
    assert logfiles.parse_cri_line(b"not-a-time stdout F x") is None


def test_docker_line_partial_flag():
    full = logfiles.parse_docker_json_line(docker("hello\n"))
    part = logfiles.parse_docker_json_line(docker("hel"))
    assert full is not None
    assert full.partial is False
    assert full.message == b"hello"
    assert part is not None
    assert part.partial is True


def test_join_cri_partials_per_stream():
    lines = [
        logfiles.parse_cri_line(cri("big ", "P")),
        logfiles.parse_cri_line(cri("err", "F", "stderr")),
        logfiles.parse_cri_line(cri("payload", "F")),
    ]
    records = logfiles.join_partials([line for line in lines if line])
    assert [(r.stream, r.text) for r in records] == [("stderr", "err"), ("stdout", "big payload")]


def test_join_docker_partials():
    lines = [
        logfiles.parse_docker_json_line(docker("a")),
        logfiles.parse_docker_json_line(docker("b\n")),
    ]
    records = logfiles.join_partials([line for line in lines if line])
    assert [r.text for r in records] == ["ab"]


def test_detect_format():
    assert logfiles.detect_format([cri("x"), cri("y")]) is LineFormat.CRI
    assert logfiles.detect_format([docker("x\n")]) is LineFormat.DOCKER_JSON
    assert logfiles.detect_format([b"plain text"]) is LineFormat.UNKNOWN
    assert logfiles.detect_format([]) is LineFormat.UNKNOWN


@pytest.mark.parametrize(
    ("version", "kind", "fmt"),
    [
        ("containerd://1.7.13", RuntimeKind.CONTAINERD, LineFormat.CRI),
        ("cri-o://1.29.1", RuntimeKind.CRIO, LineFormat.CRI),
        ("docker://24.0.7", RuntimeKind.DOCKER, LineFormat.DOCKER_JSON),
        ("", RuntimeKind.UNKNOWN, LineFormat.UNKNOWN),
    ],
)
def test_runtime_kind_and_format(version, kind, fmt):
    assert logfiles.runtime_kind(version) is kind
    assert logfiles.expected_format(kind) is fmt


def test_non_utf8_bytes_are_replaced_and_counted():
    data = f"{T} stdout F bad ".encode() + b"\xff\xfe byte\n"
    parsed = logfiles.parse_node_file(data)
    assert parsed.format is LineFormat.CRI
    assert len(parsed.records) == 1
    assert parsed.records[0].invalid_utf8 is True
    assert "\ufffd" in parsed.records[0].text
    summary = logfiles.summarise(parsed.records)
    assert summary.invalid_utf8_lines == 1


def test_ten_megabyte_line_is_cut_not_held():
    message = b"x" * (10 * 1024 * 1024)
    data = f"{T} stdout F ".encode() + message + b"\n" + cri("after") + b"\n"
    parsed = logfiles.parse_node_file(data)
    assert parsed.long_lines == 1
    assert len(parsed.records) == 2
    assert parsed.records[0].truncated is True
    assert len(parsed.records[0].text) <= logfiles.MAX_LINE_BYTES
    assert len(parsed.records[0].text) > logfiles.MAX_LINE_BYTES - 100
    assert parsed.records[1].text == "after"


def test_ten_megabyte_docker_line_is_salvaged():
    line = docker("y" * (10 * 1024 * 1024) + "\n")
    parsed = logfiles.parse_node_file(line + b"\n")
    assert parsed.format is LineFormat.DOCKER_JSON
    assert parsed.long_lines == 1
    assert len(parsed.records) == 1


def test_ten_megabyte_api_line_is_cut():
    records = logfiles.records_from_api(
        f"{T} ".encode() + b"z" * (10 * 1024 * 1024), timestamps=True
    )
    assert len(records) == 1
    assert records[0].truncated is True
    assert records[0].time == T


def test_empty_log():
    parsed = logfiles.parse_node_file(b"")
    assert parsed.records == []
    assert parsed.format is LineFormat.UNKNOWN
    assert logfiles.summarise(parsed.records).lines == 0


def test_unterminated_tail_is_not_parsed():
    data = cri("one") + b"\n" + cri("half of a li")[:30]
    parsed = logfiles.parse_node_file(data)
    assert [r.text for r in parsed.records] == ["one"]
    assert parsed.incomplete_tail == 30


def test_read_from_offset_skips_cut_first_line():
    data = b"ut F cut line\n" + cri("whole") + b"\n"
    parsed = logfiles.parse_node_file(data, starts_mid_file=True)
    assert [r.text for r in parsed.records] == ["whole"]
    assert parsed.unparsed_lines == 0


def test_summary_levels_and_error_share():
    texts = [
        '{"level":"info","msg":"ok"}',
        '{"levelname":"ERROR","message":"db down"}',
        '{"log":{"level":"critical"}}',
        "2026-12-04 INFO started",
        "WARNING: slow",
    ]
    records = [logfiles.LogRecord(T, "stdout", text) for text in texts]
    summary = logfiles.summarise(records)
    assert summary.lines == 5
    assert summary.structured_lines == 3
    assert summary.error_lines == 2
    assert summary.error_share == pytest.approx(0.4)
    assert summary.levels["info"] == 2
    assert summary.last_errors[-1] == '{"log":{"level":"critical"}}'


def test_summary_keeps_python_traceback():
    texts = [
        "INFO starting",
        "Traceback (most recent call last):",
        '  File "/app/main.py", line 3, in <module>',
        "    connect()",
        "ConnectionError: cannot connect to postgres",
        "INFO shutting down",
    ]
    summary = logfiles.summarise([logfiles.LogRecord(T, "stderr", t) for t in texts])
    assert summary.traceback[0] == "Traceback (most recent call last):"
    assert summary.traceback[-1] == "ConnectionError: cannot connect to postgres"


def test_summary_keeps_go_panic():
    texts = ["panic: runtime error: index out of range", "", "goroutine 1 [running]:"]
    summary = logfiles.summarise([logfiles.LogRecord(T, "stderr", t) for t in texts])
    assert summary.traceback[0].startswith("panic: runtime error")


def test_parse_listing_of_kubelet_file_server():
    body = (
        b'<!doctype html>\n<pre>\n<a href="0.log">0.log</a>\n'
        b'<a href="0.log.20261204-200000.gz">0.log.20261204-200000.gz</a>\n'
        b'<a href="1.log">1.log</a>\n<a href="sub%20dir/">sub dir/</a>\n</pre>\n'
    )
    entries = logfiles.parse_listing(body)
    assert [(e.name, e.is_dir) for e in entries] == [
        ("0.log", False),
        ("0.log.20261204-200000.gz", False),
        ("1.log", False),
        ("sub dir", True),
    ]
    names = [e.name for e in entries]
    assert logfiles.restart_files(names) == {0: "0.log", 1: "1.log"}
    assert logfiles.rotated_files(names) == ["0.log.20261204-200000.gz"]


def test_parse_listing_ignores_garbage():
    assert logfiles.parse_listing(b"\xff\xfe<a href=../>..</a><a>no href</a>") == []


def test_link_name_drops_runtime_scheme():
    name = logfiles.container_link_name("pod-a", "ns", "c", "containerd://abc123")
    assert name == "pod-a_ns_c-abc123.log"


def test_parse_time_keeps_microseconds():
    moment = logfiles.parse_time(T)
    assert moment is not None
    assert moment.microsecond == 123456
    assert logfiles.parse_time("yesterday") is None
