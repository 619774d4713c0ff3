"""CheckResult: bounded evidence, JSON round trip, and secrets masked at creation."""

from __future__ import annotations

from lsconform.results import Area, CheckResult, Status, bound_text, mask_secrets


def make(**fields: object) -> CheckResult:
    base: dict[str, object] = {
        "check_id": "logs.output",
        "area": Area.LOGS,
        "component": "backend",
        "target": "backend/pod/backend",
        "status": Status.FAIL,
        "summary": "crashed",
    }
    base.update(fields)
    return CheckResult(**base)  # type: ignore[arg-type]


def test_secrets_masked_in_summary_and_evidence() -> None:
    result = make(
        summary="connection to postgresql://langsmith:s3cr3t-pass@db:5432/app failed",
        evidence={
            "lines": [
                '{"headers": {"authorization": "Bearer abcdefgh12345678"}}',
                'payload {"api_key": "lsv2_pt_0123456789abcdef"}',
            ],
            "env": {"line": "API_KEY_SALT=salt-value-123"},
        },
        remedy="retry with password=hunter2222",
    )
    text = repr(result.to_dict())
    for secret in ("s3cr3t-pass", "abcdefgh12345678", "lsv2_pt_0123456789abcdef", "hunter2222"):
        assert secret not in text
    assert "postgresql://langsmith:***@db:5432/app" in result.summary
    assert "Bearer ***" in result.evidence["lines"][0]


def test_ordinary_text_unchanged() -> None:
    for text in (
        "GET http://langsmith-backend:1984/metrics",
        "pg_up is 0",
        'family "token_count" missing',
        "secrets: list forbidden",
    ):
        assert mask_secrets(text) == text


def test_round_trip_and_bounds() -> None:
    result = make(evidence={"body": "x" * 2000, "items": list(range(100))})
    data = result.to_dict()
    assert data["evidence"]["body"].endswith("(1500 more characters)")
    assert len(data["evidence"]["body"]) <= 500
    assert len(data["evidence"]["items"]) == 40
    assert data["evidence"]["items"][-1] == "… 61 more"
    again = CheckResult.from_dict(data)
    assert again.status is Status.FAIL
    assert again.to_dict() == data
    assert bound_text("short") == "short"


def test_terminal_groups_shared_causes() -> None:
    from lsconform.report.terminal import render_summary

    same = [
        make(
            target=f"backend/pod-{index}/backend",
            summary="no collector reads this file",
            remedy="deploy a collector",
            evidence={"pod_path": f"/var/log/pods/{index}"},
        )
        for index in range(7)
    ]
    other = make(target="queue/pod/queue", summary="crashed with exit code 1", remedy="fix it")
    text = render_summary([*same, other], release=None, duration=1.0, width=200)
    assert text.count("cause: no collector reads this file") == 1
    assert "and 2 more" in text
    assert "evidence (backend/pod-0/backend) pod_path: /var/log/pods/0" in text
    assert text.count("cause: crashed with exit code 1") == 1
