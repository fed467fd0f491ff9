"""The S3 connector through a real ``Assistant`` (MiniLM embedder, local store) with users:
incremental syncs that download nothing unchanged, and access from object tags and a prefix
map that decides who finds what (fail closed: an object nobody granted is found by nobody)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inhouse import Assistant
from inhouse.errors import AccessDenied
from inhouse_s3.connector import S3Connector

pytestmark = pytest.mark.model

USERS = '[users.ana]\ngroups = ["hr"]\n[users.bob]\ngroups = ["staff"]\n[users.lea]\ngroups = ["legal"]\n'


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("s3-assistant")
    (folder / "plugins.toml").write_text(
        f'[embedder]\nuse = "minilm"\n\n[store]\nuse = "local"\n\n[providers.extractive]\nuse = "extractive"\n\n'
        f'[routing]\ndefault = ["extractive"]\n\n{USERS}',
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def assistant(home: Path, tmp_path: Path) -> Iterator[Assistant]:
    a = Assistant.from_config(home / "plugins.toml", home=tmp_path / "home")
    yield a
    a.close()


def found(assistant: Assistant, query: str, user: str | None) -> list[str]:
    return [h.chunk.source for h in assistant.search(query, k=5, user=user, mode="bm25")]


def test_a_resync_with_nothing_changed_downloads_nothing(
    assistant: Assistant, make: Callable[..., S3Connector], bucket: str, s3: Any, requests
) -> None:
    texts = {"leave": "Staff get twenty days of leave.", "vpn": "The VPN is Larkspur.", "pay": "Pay day is codenamed Zinnia."}
    for name, text in texts.items():
        s3.put_object(Bucket=bucket, Key=f"kb/{name}.md", Body=f"# {name}\n{text}\n".encode())
    connector = make(prefix="kb", acl=["*"])
    sent = requests(connector)
    assert assistant.ingest(connector).added == 3 and sent["GetObject"] == 3

    sent.clear()
    report = assistant.ingest(connector)
    assert (report.unchanged, report.added, report.updated, report.removed) == (3, 0, 0, 0)
    assert dict(sent) == {"ListObjectsV2": 1}  # one listing, no GetObject

    s3.put_object(Bucket=bucket, Key="kb/vpn.md", Body=b"# vpn\nThe VPN is Snowdrop.\n")  # same size
    s3.delete_object(Bucket=bucket, Key="kb/pay.md")
    sent.clear()
    report = assistant.ingest(connector)
    assert (report.unchanged, report.updated, report.removed) == (1, 1, 1)
    assert dict(sent) == {"ListObjectsV2": 1, "GetObject": 1}  # only the changed object is read
    assert found(assistant, "Snowdrop", None) == ["vpn.md"] and found(assistant, "Larkspur", None) == []
    assert found(assistant, "Zinnia", None) == []


def test_tags_and_the_prefix_map_decide_who_finds_what(
    assistant: Assistant, make: Callable[..., S3Connector], bucket: str, s3: Any, requests
) -> None:
    objects = {
        "hr/pay.md": ("The bonus pool is codenamed Heliotrope.", "inhouse-groups=hr&inhouse-label=confidential"),
        "handbook/canteen.md": ("The canteen serves lunch from noon.", ""),
        "legal/nda.md": ("The merger is codenamed Bluebell.", ""),
        "legal/hr-note.md": ("The grievance officer is Juniper.", "owner=ana&readers=hr%20legal"),
        "misc/orphan.md": ("The loading dock code is Quillfeather.", ""),
        "misc/bad.md": ("The parking code is Tamarind.", "inhouse-label=secret"),
    }
    for key, (text, tagging) in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=f"# {key}\n{text}\n".encode(), Tagging=tagging)
    connector = make(
        tags={"groups": "readers"},  # the groups tag renamed; the others keep their default names
        prefix_access=[
            {"prefix": "handbook/", "public": True},
            {"prefix": "legal/", "groups": ["legal"], "label": "restricted"},
        ],
    )
    sent = requests(connector)
    report = assistant.ingest(connector)
    assert sent["GetObjectTagging"] == 6  # one per object, each sync (tags change without the ETag)
    assert [f["path"] for f in report.failed] == ["misc/bad.md"] and "inhouse-label" in report.failed[0]["reason"]
    assert found(assistant, "Tamarind parking", None) == []  # a malformed tag: never indexed

    assert found(assistant, "canteen lunch", "bob") == ["handbook/canteen.md"]  # prefix map: public
    assert found(assistant, "Heliotrope bonus", "bob") == []
    # The default groups tag is not read once renamed: hr/pay.md's "inhouse-groups" says nothing, nobody else does.
    assert found(assistant, "Heliotrope bonus", "ana") == []
    assert found(assistant, "Heliotrope bonus", None) == ["hr/pay.md"]  # the trusted local caller
    assert found(assistant, "Bluebell merger", "lea") == ["legal/nda.md"]  # prefix map: legal
    assert found(assistant, "Bluebell merger", "ana") == []
    assert found(assistant, "Juniper grievance", "ana") == ["legal/hr-note.md"]  # tag wins over the prefix map
    assert found(assistant, "Juniper grievance", "lea") == ["legal/hr-note.md"]
    assert found(assistant, "Juniper grievance", "bob") == []
    assert found(assistant, "Quillfeather loading dock", "bob") == []  # nobody granted it: nobody
    note = assistant.search("Juniper", k=1, user="ana", mode="bm25")[0].chunk
    assert note.sensitivity == "restricted"  # the label the prefix map gives, the ACL the tag gives

    record = assistant.store.document(note.doc_id)
    assert assistant.open_document(record.id, user="ana")[1].startswith(b"# legal/hr-note.md")
    with pytest.raises(AccessDenied):
        assistant.open_document(record.id, user="bob")

    # A tightened tag applies at the next sync without downloading the unchanged object.
    s3.put_object_tagging(Bucket=bucket, Key="legal/hr-note.md", Tagging={"TagSet": [{"Key": "readers", "Value": "legal"}]})
    sent.clear()
    report = assistant.ingest(connector)
    assert report.updated == 1 and report.chunks == 0 and "GetObject" not in sent  # access changed alone
    assert found(assistant, "Juniper grievance", "ana") == []
    assert found(assistant, "Juniper grievance", "lea") == ["legal/hr-note.md"]


def test_default_tag_names(assistant: Assistant, make: Callable[..., S3Connector], bucket: str, s3: Any) -> None:
    s3.put_object(
        Bucket=bucket,
        Key="pay.md",
        Body=b"# Pay\nThe bonus pool is Heliotrope.\n",
        Tagging="inhouse-groups=hr%20legal&inhouse-users=bob&inhouse-label=Confidential",
    )
    s3.put_object(Bucket=bucket, Key="open.md", Body=b"# Open\nThe canteen is Marigold.\n", Tagging="inhouse-public=true")
    [pay, public] = sorted(make(tags={}).fetch(), key=lambda s: s.path, reverse=True)
    assert (pay.acl, pay.sensitivity) == (("group:hr", "group:legal", "user:bob"), "confidential")
    assert (public.acl, public.sensitivity) == (("*",), None)
    assistant.ingest(make(tags={}))
    assert found(assistant, "Heliotrope", "bob") == ["pay.md"] and found(assistant, "Heliotrope", "ana") == ["pay.md"]
    assert found(assistant, "Marigold", "lea") == ["open.md"]
