from __future__ import annotations

from pathlib import Path

from worker.a1111.logfile import log_tail, write_start_marker


def test_marker_creates_the_folder_and_appends(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "a1111-gpu1.log"

    write_start_marker(log, ["python", "webui.py", "--port", "7861"])
    write_start_marker(log, ["python", "webui.py", "--port", "7861"])

    lines = log.read_text().splitlines()
    assert len([line for line in lines if line.endswith("starting A1111: python webui.py --port 7861")]) == 2


def test_tail_of_a_long_log(tmp_path: Path) -> None:
    log = tmp_path / "a1111.log"
    log.write_text("".join(f"line {i} {'x' * 50}\n" for i in range(5000)))  # ~290 KiB

    tail = log_tail(log, 3).splitlines()

    assert [line.split()[1] for line in tail] == ["4997", "4998", "4999"]
    assert len(log_tail(log, 100_000).splitlines()) < 5000  # bounded by the bytes read
    assert log_tail(log, 0) == ""


def test_tail_of_a_missing_or_undecodable_log(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "none.log") == ""
    (tmp_path / "bin.log").write_bytes(b"ok\n\xff\xfe broken\n")
    assert log_tail(tmp_path / "bin.log", 1) == "\ufffd\ufffd broken"
