"""Redaction engine: structured fields, patterns over text, known values, counts."""

from __future__ import annotations

import json

import pytest

from lsconform.bundle.redact import (
    Redactor,
    base64_fragments,
    is_secret_field,
    load_patterns,
    parse_pattern,
)

LICENSE = "LICENSE-PLACEHOLDER-0001"
SALT = "SALT-PLACEHOLDER"
DSN_PASSWORD = "pass-placeholder"
KEY_ABC = "KEY-PLACEHOLDER-abc"
KEY_DEF = "KEY-PLACEHOLDER-def"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(hash_key=b"test-key")


@pytest.mark.parametrize(
    "name",
    [
        "langsmithLicenseKey",
        "apiKeySalt",
        "API_KEY_SALT",
        "jwtSecret",
        "JWT_SECRET",
        "x-api-key",
        "POSTGRES_PASSWORD",
        "connectionUrl",
        "clickhouseDsn",
        "initialOrgAdminPassword",
        "authorization",
        "oauthClientSecret",
    ],
)
def test_secret_field_names(name: str) -> None:
    assert is_secret_field(name)


@pytest.mark.parametrize(
    "name",
    [
        "secretKeyRef",
        "secretName",
        "existingSecret",
        "tokenizer",
        "key",
        "keys",
        "OTLP_ENDPOINT",
        "logLevel",
        "name",
        "apiKeyHeader",
    ],
)
def test_reference_field_names(name: str) -> None:
    assert not is_secret_field(name)


def test_values_structured(redactor: Redactor) -> None:
    values = {
        "config": {"langsmithLicenseKey": LICENSE, "apiKeySalt": SALT, "logLevel": "info"},
        "postgres": {"external": {"connectionUrl": f"user:{DSN_PASSWORD}@db.internal:5432/app"}},
        "backend": {"existingSecretName": "pg-credentials"},
    }
    redacted = redactor.redact_object(values, "helm/values.yaml")
    text = json.dumps(redacted)
    assert LICENSE not in text
    assert SALT not in text
    assert DSN_PASSWORD not in text
    assert redacted["config"]["logLevel"] == "info"
    assert redacted["backend"]["existingSecretName"] == "pg-credentials"
    assert redacted["config"]["apiKeySalt"].startswith("[REDACTED:secret-field#")
    assert redactor.counts.for_file("helm/values.yaml") == {"secret-field": 3}


def test_marker_hash_stable(redactor: Redactor) -> None:
    first = redactor.redact_object({"token": "same-value-123"}, "a")
    second = redactor.redact_object({"password": "same-value-123"}, "b")
    other = redactor.redact_object({"password": "other-value-123"}, "b")
    assert first["token"] == second["password"]
    assert first["token"] != other["password"]


def test_marker_hash_keyed() -> None:
    one = Redactor(hash_key=b"one").marker("secret-field", "value-12345")
    two = Redactor(hash_key=b"two").marker("secret-field", "value-12345")
    assert one != two


def test_env_entries(redactor: Redactor) -> None:
    container = {
        "env": [
            {"name": "LANGSMITH_LICENSE_KEY", "value": LICENSE},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "API_KEY_SALT", "valueFrom": {"secretKeyRef": {"name": "s", "key": "salt"}}},
        ]
    }
    redacted = redactor.redact_object(container, "resources/pods.yaml")
    env = redacted["env"]
    assert LICENSE not in json.dumps(redacted)
    assert env[1]["value"] == "info"
    assert env[2]["valueFrom"]["secretKeyRef"] == {"name": "s", "key": "salt"}


def test_embedded_json_annotation(redactor: Redactor) -> None:
    applied = json.dumps({"data": {"API_KEY_SALT": SALT, "LOG_LEVEL": "info"}})
    obj = {"metadata": {"annotations": {"last-applied-configuration": applied}}}
    redacted = redactor.redact_object(obj, "cm.yaml")
    annotation = redacted["metadata"]["annotations"]["last-applied-configuration"]
    assert SALT not in annotation
    assert json.loads(annotation)["data"]["LOG_LEVEL"] == "info"


def test_json_log_line_plain(redactor: Redactor) -> None:
    line = (
        '2026-12-04T20:00:00.123456789Z stdout F {"msg":"request",'
        f'"headers":{{"x-api-key":"{KEY_ABC}"}},"pod":"langsmith-backend-7d9f-abcde"}}'
    )
    out = redactor.redact_text(line, "logs/backend.log")
    assert KEY_ABC not in out
    assert out.startswith("2026-12-04T20:00:00.123456789Z stdout F ")
    assert "langsmith-backend-7d9f-abcde" in out


def test_json_log_line_escaped(redactor: Redactor) -> None:
    # The queue logs a payload string that holds JSON, itself inside a JSON log record.
    inner = json.dumps({"apiKey": KEY_DEF})
    outer = json.dumps(f"payload={json.dumps(inner)}")
    line = f"2026-12-04T20:00:01Z stdout F {outer}"
    out = redactor.redact_text(line, "logs/queue.log")
    assert KEY_DEF not in out
    assert "payload=" in out


def test_json_record_escaped_payload(redactor: Redactor) -> None:
    record = json.dumps({"msg": "enqueue", "payload": json.dumps({"api_key": KEY_DEF})})
    out = redactor.redact_text(f"2026-12-04T20:00:01Z stdout F {record}", "logs/queue.log")
    assert KEY_DEF not in out
    assert '"msg":"enqueue"' in out


def test_yaml_text_values(redactor: Redactor) -> None:
    text = (
        "config:\n"
        f"  langsmithLicenseKey: {LICENSE}\n"
        f'  apiKeySalt: "{SALT}"\n'
        "  secretName: langsmith-secrets\n"
        "  logLevel: info\n"
    )
    out = redactor.redact_text(text, "values.yaml")
    assert LICENSE not in out
    assert SALT not in out
    assert "secretName: langsmith-secrets" in out
    assert "logLevel: info" in out


def test_url_user_info(redactor: Redactor) -> None:
    text = (
        "connecting to postgresql://langsmith:hunter2hunter@pg.svc:5432/db\n"
        "redis url redis://:r3dis-pass-word@redis:6379/0\n"
        f"external user:{DSN_PASSWORD}@db.internal:5432/app\n"
    )
    out = redactor.redact_text(text, "log")
    assert "hunter2hunter" not in out
    assert "r3dis-pass-word" not in out
    assert DSN_PASSWORD not in out
    assert "postgresql://langsmith:[REDACTED:url-password#" in out
    assert "@pg.svc:5432/db" in out


@pytest.mark.parametrize(
    ("secret", "category"),
    [
        ("lsv2_pt_0123456789abcdef0123456789abcdef_0123456789", "api-key"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz0123", "api-key"),
        ("AKIAABCDEFGHIJKLMNOP", "api-key"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "api-key"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt",
        ),
        ("ops.admin@example.com", "email"),
    ],
)
def test_known_formats(redactor: Redactor, secret: str, category: str) -> None:
    out = redactor.redact_text(f"2026-12-04T20:00:02Z stderr F saw {secret} here", "log")
    assert secret not in out
    assert f"[REDACTED:{category}#" in out
    assert out.startswith("2026-12-04T20:00:02Z stderr F saw ")


def test_bearer_and_basic(redactor: Redactor) -> None:
    text = (
        "Authorization: Bearer abcdefghijklmnop1234\n"
        "Basic authentication required; got Basic dXNlcjpwYXNzd29yZA==\n"
    )
    out = redactor.redact_text(text, "log")
    assert "abcdefghijklmnop1234" not in out
    assert "dXNlcjpwYXNzd29yZA==" not in out
    assert "Basic authentication required" in out


def test_private_key_block(redactor: Redactor) -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----"
    escaped = json.dumps(key)
    out = redactor.redact_text(f"tls:\n{key}\nafter\njson {escaped}\n", "cm")
    assert "MIIEowIBAAKCAQEA" not in out
    assert "after" in out
    assert out.count("[REDACTED:private-key#") == 2


def test_trace_payload_json(redactor: Redactor) -> None:
    record = {
        "event": "run ingested",
        "run_id": "8f0c",
        "inputs": {"question": "what is my key", "api_key": "sk-abcdefghijklmnopqrstuvwxyz12"},
        "outputs": {"answer": "it is 42"},
        "messages": [{"role": "user", "content": "hello there friend"}],
    }
    out = redactor.redact_text(json.dumps(record), "log")
    parsed = json.loads(out)
    assert parsed["run_id"] == "8f0c"
    assert parsed["inputs"].startswith("[REDACTED:trace-payload#")
    assert "it is 42" not in out
    assert "hello there friend" not in out
    assert redactor.counts.for_file("log")["trace-payload"] == 3


def test_trace_payload_text(redactor: Redactor) -> None:
    text = (
        "2026-12-04T20:00:04Z stdout F run ingested inputs={'messages': [{'content': 'hi'}]} "
        'outputs="done and dusted" id=42\n'
        '2026-12-04T20:00:05Z stdout F truncated \\"inputs\\": {\\"q\\": \\"secret stuff'
    )
    out = redactor.redact_text(text, "log")
    assert "'content'" not in out
    assert "done and dusted" not in out
    assert "secret stuff" not in out
    assert "id=42" in out


def test_diagnostic_text_survives(redactor: Redactor) -> None:
    text = (
        "2026-12-04T20:00:06.123456789Z stderr F ERROR failed to connect to "
        "langsmith-postgres.langsmith.svc.cluster.local:5432: connection refused (retry 3/5)\n"
        "Warning  BackOff  pod/langsmith-backend-5f7c9-abcde  Back-off restarting container\n"
        "token validation failed: expired\n"
    )
    assert redactor.redact_text(text, "events.txt") == text
    assert redactor.counts.for_file("events.txt") == {}


def test_known_value_anywhere(redactor: Redactor) -> None:
    redactor.redact_object({"apiKeySalt": SALT}, "values")
    out = redactor.redact_text(f"startup: loaded salt {SALT} and {json.dumps(SALT)}", "log")
    assert SALT not in out
    assert redactor.counts.for_file("log") == {"known-value": 2}
    assert SALT in redactor.known_secrets


def test_short_values_not_searched(redactor: Redactor) -> None:
    redacted = redactor.redact_object({"password": "admin"}, "values")
    assert redacted["password"].startswith("[REDACTED:")
    assert "admin" not in redactor.known_secrets
    assert redactor.redact_text("admin logged in", "log") == "admin logged in"


def test_markers_not_redacted_again(redactor: Redactor) -> None:
    once = redactor.redact_text("password=hunter2hunter2 token: abcdefgh12345", "log")
    twice = redactor.redact_text(once, "log")
    assert twice == once
    assert once.count("[REDACTED:") == 2


def test_user_pattern() -> None:
    pattern = parse_pattern(r"customer=CUST-(?P<secret>\d{6})")
    redactor = Redactor(extra_patterns=[pattern], hash_key=b"k")
    out = redactor.redact_text("customer=CUST-123456 ordered", "log")
    assert "123456" not in out
    assert "customer=CUST-[REDACTED:custom#" in out
    named = parse_pattern(r"ticket::T-\d{4}")
    assert named.category == "custom:ticket"


def test_user_pattern_invalid() -> None:
    with pytest.raises(ValueError, match="invalid redaction pattern 'bad::\\(': missing \\)"):
        parse_pattern("bad::(")
    with pytest.raises(ValueError, match="matches the empty string"):
        parse_pattern("x*")


def test_patterns_file() -> None:
    patterns = load_patterns(["# comment\n", "\n", "acct::ACCT-\\d+\n", "INTERNAL-[A-Z]{4}\n"])
    assert [pattern.category for pattern in patterns] == ["custom:acct", "custom"]


def test_base64_fragments_any_offset() -> None:
    import base64

    value = "SECRET-VALUE-for-base64"
    fragments = base64_fragments(value)
    for prefix in (b"", b"x", b"xy", b"xyz"):
        encoded = base64.b64encode(prefix + value.encode() + b"tail").decode()
        assert any(fragment in encoded for fragment in fragments), prefix


def test_yaml_text_keys_and_urls(redactor: Redactor) -> None:
    text = (
        "insights:\n"
        "  encryptionKey: fernet-key-value-0123\n"
        "postgres:\n"
        "  external:\n"
        "    connectionUrl: postgres-user@db.internal/app\n"
        "    DATABASE_URI: opaque-database-value\n"
    )
    out = redactor.redact_text(text, "values.yaml")
    assert "fernet-key-value-0123" not in out
    assert "postgres-user@db.internal/app" not in out
    assert "opaque-database-value" not in out
    assert "insights:" in out
