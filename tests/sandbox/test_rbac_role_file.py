"""The sandbox's RBAC mode reads what `lsconform rbac` prints and rejects other objects."""

from __future__ import annotations

import pytest

from lsconform.cli import main
from lsconform.sandbox.apiserver.rbac import Authorizer, InvalidRoleError


def test_rbac_command_output_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rbac", "--namespace", "langsmith", "--cluster-role"]) == 0
    text = capsys.readouterr().out
    assert "kind: ServiceAccount" in text
    authorizer = Authorizer.from_yaml(text)
    kinds = {grant.role.split()[0] for grant in authorizer.grants}
    assert kinds == {"Role", "ClusterRole"}


def test_other_kinds_are_rejected() -> None:
    with pytest.raises(InvalidRoleError, match="got 'Deployment'; give a file of Role"):
        Authorizer.from_yaml("kind: Deployment\nmetadata: {name: x}\n")
