"""Access through the assistant (finding 2): a tightened ``.inhouse-acl`` applies to unchanged
files at the next ingest without re-embedding, ``ingest(PATH)`` inside a configured folder
uses that folder's access, a membership removed from the configuration applies to the next
query, and with users configured a source nobody granted is visible to nobody."""

from __future__ import annotations

import pytest

from inhouse import Assistant
from inhouse.config import UserSettings
from inhouse.errors import AccessDenied
from support import write_config

pytestmark = pytest.mark.model

USERS = '[users.ana]\ngroups = ["hr"]\n[users.bob]\ngroups = ["staff"]\n'
RULES = '[[access.rules]]\nglob = "handbook/**"\npublic = true\n'


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("access")
    docs = tmp / "docs"
    for rel, text in {
        "handbook/canteen.md": "# Canteen\nThe canteen serves lunch from noon.\n",
        "hr/pay.md": "# Pay\nThe bonus pool is codenamed Heliotrope.\n",
        "misc/orphan.md": "# Orphan\nThe loading dock code is Quillfeather.\n",
    }.items():
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_text(text)
    (docs / "hr" / ".inhouse-acl").write_text("public = true\n")
    assistant = Assistant.from_config(write_config(tmp, docs, USERS + RULES), tmp / "home")
    assistant.ingest()
    yield assistant, docs
    assistant.close()


def sources(assistant: Assistant, query: str, user: str | None) -> list[str]:
    return [h.chunk.source for h in assistant.search(query, k=5, user=user, mode="bm25")]


def test_rules_access_files_and_fail_closed(setup) -> None:
    assistant, _ = setup
    assert sources(assistant, "canteen lunch", "bob") == ["handbook/canteen.md"]  # a rule: public
    assert sources(assistant, "Heliotrope bonus", "bob") == ["hr/pay.md"]  # .inhouse-acl: public
    assert sources(assistant, "Quillfeather loading dock", "bob") == []  # nobody granted it: nobody
    assert sources(assistant, "Quillfeather loading dock", "ana") == []
    assert sources(assistant, "Quillfeather loading dock", None) == ["misc/orphan.md"]  # the local caller


def test_a_tightened_access_file_applies_to_unchanged_files_without_re_embedding(setup) -> None:
    assistant, docs = setup
    before = {h.chunk.id for h in assistant.store.search(None, "Heliotrope", k=5, mode="bm25")}
    (docs / "hr" / ".inhouse-acl").write_text('groups = ["hr"]\nlabel = "confidential"\n')
    report = assistant.ingest()
    assert (report.updated, report.added, report.chunks) == (1, 0, 0)  # nothing embedded again
    assert sources(assistant, "Heliotrope bonus", "bob") == []
    hit = assistant.search("Heliotrope bonus", k=1, user="ana", mode="bm25")[0]
    assert hit.chunk.sensitivity == "confidential" and hit.chunk.id in before
    record = assistant.store.document(hit.chunk.doc_id)
    assert record.acl == ("group:hr",) and record.sensitivity == "confidential"
    with pytest.raises(AccessDenied):
        assistant.open_document(record.id, user="bob")
    assert assistant.open_document(record.id, user="ana")[1].startswith(b"# Pay")


def test_ingesting_a_path_inside_a_configured_folder_uses_its_access(setup) -> None:
    """``inhouse ingest docs/hr/new.md`` goes through the configured connector: same ids, the
    folder's ``.inhouse-acl``, nothing else removed."""
    assistant, docs = setup
    (docs / "hr" / ".inhouse-acl").write_text('groups = ["hr"]\n')
    assistant.ingest()
    (docs / "hr" / "new.md").write_text("# New\nThe relocation budget is Marigold.\n")
    count = len(assistant.store.documents())
    report = assistant.ingest(docs / "hr" / "new.md")
    assert report.added == 1 and report.removed == 0 and len(assistant.store.documents()) == count + 1
    assert sources(assistant, "Marigold relocation budget", "bob") == []
    assert sources(assistant, "Marigold relocation budget", "ana") == ["hr/new.md"]
    assert assistant.ingest().unchanged == count + 1  # the same document as the folder's own run


def test_a_membership_removed_from_the_configuration_applies_to_the_next_query(setup) -> None:
    assistant, docs = setup
    (docs / "hr" / ".inhouse-acl").write_text('groups = ["hr"]\n')
    assistant.ingest()
    assert sources(assistant, "Heliotrope bonus", "ana") == ["hr/pay.md"]
    users = assistant.settings.core.users
    try:
        assistant.settings.core.users = {**users, "ana": UserSettings(groups=[])}
        assert sources(assistant, "Heliotrope bonus", "ana") == []
    finally:
        assistant.settings.core.users = users
