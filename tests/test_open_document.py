"""``Assistant.open_document``: the original of a stored document, read through the connector
that yielded it, for readers its access list allows, and nothing for anyone else."""

from __future__ import annotations

import pytest

from inhouse import Assistant
from inhouse.errors import AccessDenied


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("open")
    (root / "public").mkdir()
    (root / "public" / "wifi.md").write_text("# Wi-Fi\nGuests join Lattice-Guest.\n")
    (root / "hr").mkdir()
    (root / "hr" / "salaries.md").write_text("# Salaries\nThe salary bands are secret.\n")
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("Ana's own notes about the offsite.\n")
    config = root / "plugins.toml"
    config.write_text(
        '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
        f'[connectors.public]\nuse = "filesystem"\npath = "{root / "public"}"\nacl = ["*"]\n'
        f'[connectors.hr]\nuse = "filesystem"\npath = "{root / "hr"}"\nacl = ["hr-leads"]\n'
        '[providers.local]\nuse = "local"\n[routing]\ndefault = ["local"]\n'
        '[users.lead]\ngroups = ["hr-leads"]\n[users.ana]\n[users.bob]\n'
    )
    assistant = Assistant.from_config(config, root / "home")
    assistant.ingest()
    assistant.ingest(root / "mine", acl=["user:ana"])  # as a personal upload does
    ids = {record.source: record.id for record in assistant.store.documents().values()}
    yield assistant, config, root, ids
    assistant.close()


def test_a_public_document_opens_for_everyone(setup) -> None:
    assistant, _, root, ids = setup
    record, data = assistant.open_document(ids["wifi.md"], user="bob")
    assert data == (root / "public" / "wifi.md").read_bytes() and record.connector == "filesystem"


def test_a_restricted_document_opens_only_for_its_readers(setup) -> None:
    assistant, _, _, ids = setup
    assert assistant.open_document(ids["salaries.md"], user="lead")[1].startswith(b"# Salaries")
    with pytest.raises(AccessDenied, match="no such document"):
        assistant.open_document(ids["salaries.md"], user="bob")


def test_unknown_and_forbidden_look_the_same(setup) -> None:
    assistant, _, _, ids = setup
    messages = []
    for doc_id, user in (("0" * 20, "bob"), (ids["salaries.md"], "bob"), ("../../etc/passwd", "bob")):
        with pytest.raises(AccessDenied) as info:
            assistant.open_document(doc_id, user=user)
        messages.append(str(info.value))
    assert messages == ["no such document"] * 3


def test_a_folder_ingested_by_path_opens_after_a_restart(setup) -> None:
    """Documents from a path (not a configured connector) reopen through the connector plugin
    recorded with them (``Connector.reopen``), in a new process as in this new Assistant."""
    _, config, root, ids = setup
    with Assistant.from_config(config, root / "home") as fresh:
        assert fresh.open_document(ids["notes.txt"], user="ana")[1] == b"Ana's own notes about the offsite.\n"
        with pytest.raises(AccessDenied):
            fresh.open_document(ids["notes.txt"], user="bob")


def test_a_deleted_original_no_longer_opens(setup) -> None:
    assistant, _, root, _ = setup
    target = root / "public" / "gone.md"
    target.write_text("# Gone\nSoon deleted.\n")
    assistant.ingest()
    doc_id = next(r.id for r in assistant.store.documents().values() if r.source == "gone.md")
    target.unlink()
    with pytest.raises(AccessDenied) as info:
        assistant.open_document(doc_id)
    assert str(info.value) == "no such document" and str(root) not in str(info.value)
