"""`civicstat validate` on the governance fields of a workspace: PII kinds, masking, row
access; each problem at its file, line and column."""

from __future__ import annotations

from pathlib import Path

from civicstat.spec.example import write_example
from civicstat.spec.validate import validate_workspace

SOURCE = "sources/service_requests.yaml"


def _edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _messages(root: Path) -> list[str]:
    workspace, issues = validate_workspace(root)
    assert workspace is None
    return [str(i) for i in issues]


def _pii_example(tmp_path: Path) -> Path:
    """The example with its request ids tagged as personal identifiers."""
    write_example(tmp_path)
    _edit(
        tmp_path,
        SOURCE,
        "    description: Ticket number in the 311 system\n",
        "    description: Ticket number in the 311 system\n    pii: identifier\n",
    )
    return tmp_path


def test_pii_and_masking_on_columns_and_in_governance_validate(tmp_path: Path) -> None:
    root = _pii_example(tmp_path)
    _edit(
        root, "governance.yaml", "suppression:\n", "masking: {identifier: redact}\nsuppression:\n"
    )
    _edit(
        root,
        SOURCE,
        "classification: public\n",
        "classification: public\nrow_access: {column: department}\n",
    )

    workspace, issues = validate_workspace(root)

    assert issues == []
    assert workspace is not None
    assert workspace.sources["service_requests"].row_access is not None


def test_row_access_must_name_a_declared_string_column(tmp_path: Path) -> None:
    write_example(tmp_path)
    _edit(
        tmp_path,
        SOURCE,
        "classification: public\n",
        "classification: public\nrow_access:\n  column: departmnet\n",
    )

    (message,) = _messages(tmp_path)

    line = (
        (tmp_path / SOURCE).read_text(encoding="utf-8").splitlines().index("  column: departmnet")
    )
    assert message.startswith(f"{SOURCE}:{line + 1}:11: column 'departmnet' not in dataset")


def test_row_access_on_a_timestamp_column_is_an_error(tmp_path: Path) -> None:
    write_example(tmp_path)
    _edit(
        tmp_path,
        SOURCE,
        "classification: public\n",
        "classification: public\nrow_access: {column: created_at}\n",
    )

    (message,) = _messages(tmp_path)

    assert "'created_at' is timestamp; row access needs a string column" in message


def test_a_measure_cannot_break_down_by_a_pii_column(tmp_path: Path) -> None:
    root = _pii_example(tmp_path)
    _edit(
        root,
        "measures/requests-received.yaml",
        "breakdowns: [district]",
        "breakdowns: [district, request_id]",
    )

    (message,) = _messages(root)

    assert message.startswith("measures/requests-received.yaml:")
    assert "column 'request_id' holds personal data (pii: identifier)" in message


def test_masking_needs_a_pii_kind_and_generalise_a_date_or_an_address(tmp_path: Path) -> None:
    write_example(tmp_path)
    _edit(
        tmp_path,
        SOURCE,
        "    description: Ticket number in the 311 system\n",
        "    description: Ticket number in the 311 system\n    pii: other\n"
        "    masking: generalise\n",
    )
    _edit(
        tmp_path,
        SOURCE,
        "    description: When the request was made\n",
        "    description: When the request was made\n    masking: hash\n",
    )

    messages = _messages(tmp_path)

    assert len(messages) == 2
    assert "masking 'generalise' needs a date or timestamp column" in messages[0]
    assert "masking applies to PII columns" in messages[1]


def test_an_unknown_pii_kind_or_masking_lists_the_allowed_ones(tmp_path: Path) -> None:
    write_example(tmp_path)
    _edit(
        tmp_path, "governance.yaml", "suppression:\n", "masking: {phone: scramble}\nsuppression:\n"
    )
    _edit(
        tmp_path,
        SOURCE,
        "    description: Ticket number in the 311 system\n",
        "    description: Ticket number in the 311 system\n    pii: passport\n",
    )

    messages = _messages(tmp_path)

    # file:line:column: message, the place depending on the example's comments
    assert [(m.split(":")[0], m.split(": ", 1)[1]) for m in messages] == [
        ("governance.yaml", "masking.phone: 'scramble' should be 'redact', 'hash', "
         "'generalise' or 'drop'"),
        (SOURCE, "pii: 'passport' should be 'name', 'address', 'phone', 'email', "
         "'date_of_birth', 'identifier', 'free_text' or 'other'"),
    ]  # fmt: skip
