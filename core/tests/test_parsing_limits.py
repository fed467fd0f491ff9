"""Hostile files: office-file bombs fail fast with their reason (or are read by what they hold,
not what they claim), and parsing runs in worker processes whose time, memory and text
limits turn a parser stuck in a loop or eating memory into one failed file while the rest of
the ingestion proceeds (issue 11, finding 4).

The runaway parsers are real ``inhouse.parsers`` plugins of a small distribution written into
a temporary folder, found by the worker through its entry points like any third party's.
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from inhouse import Assistant
from inhouse.errors import IngestError
from inhouse.parsing import parse
from inhouse.parsing.sandbox import Limits, ParserPool
from support import EXAMPLES, write_config

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RELS_NS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
_RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XLSX_PARTS = {
    "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": f'<Relationships {_RELS_NS}><Relationship Id="rId1" Type="{_RT}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>",
    "xl/workbook.xml": f'<workbook {_NS} xmlns:r="{_RT}"><sheets><sheet name="Rooms" sheetId="1" r:id="rId1"/></sheets>'
    "</workbook>",
    "xl/_rels/workbook.xml.rels": f'<Relationships {_RELS_NS}><Relationship Id="rId1" Type="{_RT}/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>',
}


def make_xlsx(dimension: str, cells: list[tuple[str, str]]) -> bytes:
    """A workbook written part by part, so its ``<dimension>`` can claim any range."""
    rows: dict[int, list[str]] = {}
    for ref, value in cells:
        number = int("".join(c for c in ref if c.isdigit()))
        rows.setdefault(number, []).append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
    data = "".join(f'<row r="{n}">{"".join(cs)}</row>' for n, cs in sorted(rows.items()))
    sheet = f'<worksheet {_NS}><dimension ref="{dimension}"/><sheetData>{data}</sheetData></worksheet>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in {**_XLSX_PARTS, "xl/worksheets/sheet1.xml": sheet}.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + xml)
    return out.getvalue()


def xlsx_claim_bomb() -> bytes:
    """Two cells, A1 and XFD1048576, in a sheet claiming A1:XFD1048576 (1.7e10 cells)."""
    return make_xlsx("A1:XFD1048576", [("A1", "Room"), ("XFD1048576", "Boardroom")])


def docx_zip_bomb(paragraphs: int = 1_500_000) -> bytes:
    """A real DOCX whose body repeats one paragraph: ~50 MB of XML in a ~150 KB file."""
    base = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Quarterly report")
    document.save(base)
    out = io.BytesIO()
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                head, tail = data.split(b"<w:body>", 1)
                data = head + b"<w:body>" + b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * paragraphs + tail
            bomb.writestr(item.filename, data)
    return out.getvalue()


# --- The office parsers, bounded ------------------------------------------------------------


@pytest.mark.timeout(60)
def test_xlsx_claiming_the_whole_grid_is_read_by_its_stored_cells():
    data = xlsx_claim_bomb()
    assert len(data) < 5_000
    started = time.perf_counter()
    document = parse(data, "rooms.xlsx")
    assert time.perf_counter() - started < 10
    assert [(s.heading, s.text) for s in document.sections] == [("Rooms", "Column XFD: Boardroom")]


@pytest.mark.timeout(60)
def test_xlsx_over_the_cell_limit_fails_with_the_reason():
    # 620 stored cells, but each in column XFD: 620 rows of 16,384 positions, over 10,000,000.
    data = make_xlsx("A1:XFD620", [(f"XFD{n}", f"v{n}") for n in range(1, 621)])
    started = time.perf_counter()
    with pytest.raises(IngestError, match=r"XLSX is too large to read: over 10,000,000 cells .*sheet 'Rooms'"):
        parse(data, "wide.xlsx")
    assert time.perf_counter() - started < 10


@pytest.mark.timeout(60)
def test_docx_zip_bomb_fails_before_it_is_unpacked():
    data = docx_zip_bomb()
    assert len(data) < 400_000
    started = time.perf_counter()
    with pytest.raises(
        IngestError,
        match=r"DOCX part 'word/document\.xml' expands \d+-fold .* the parser's 100-fold limit: it looks like a zip bomb",
    ):
        parse(data, "report.docx")
    assert time.perf_counter() - started < 2


def test_pdf_over_the_page_limit_fails_before_extraction():
    pdf = FPDF()
    for _ in range(5_001):
        pdf.add_page()
    with pytest.raises(IngestError, match=r"PDF has 5,001 pages, over the parser's 5,000-page limit"):
        parse(bytes(pdf.output()), "manual.pdf")


# --- The worker processes -------------------------------------------------------------------

_PROBE = """
import time
from inhouse.plugins import Parser
from inhouse.types import ParsedDocument, Section


class Spin(Parser):
    def parse(self, data, path):
        while True:
            pass


class Hog(Parser):
    def parse(self, data, path):
        held = [bytes(64 << 20) for _ in range(24)]  # 1.5 GB of address space, never touched
        return ParsedDocument("Hog", [Section(f"held {len(held)} blocks")])


class Flood(Parser):
    def parse(self, data, path):
        return ParsedDocument("Flood", [Section("word " * 400_000)])
"""


@pytest.fixture
def runaway_parsers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install ``.spin``, ``.hog`` and ``.flood`` parsers as a distribution on ``sys.path``."""
    site = tmp_path / "site"
    info = site / "inhouse_limits_probe-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "inhouse_limits_probe.py").write_text(_PROBE)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: inhouse-limits-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[inhouse.parsers]\n.spin = inhouse_limits_probe:Spin\n.hog = inhouse_limits_probe:Hog\n"
        ".flood = inhouse_limits_probe:Flood\n"
    )
    monkeypatch.syspath_prepend(str(site))


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("runaway_parsers")
def test_each_limit_fails_only_its_file_and_the_worker_is_replaced():
    pool = ParserPool(Limits(parse_timeout_s=2, parse_memory_mb=256, max_text_mb=1), size=1)
    try:
        good = b"# Leave\n\nEveryone gets 26 days of annual leave.\n"
        started = time.perf_counter()
        with pytest.raises(IngestError, match=r"^parsing took over 2 s \(\[ingest\] parse_timeout_s\)$"):
            pool.parse(b"spin", "loop.spin")
        assert time.perf_counter() - started < 6
        assert pool.parse(good, "leave.md").title == "Leave"  # a fresh worker took over
        with pytest.raises(IngestError, match=r"^parsing needed over 256 MB of memory \(\[ingest\] parse_memory_mb\)$"):
            pool.parse(b"hog", "memory.hog")
        with pytest.raises(IngestError, match=r"^the file holds 1\.9 MB of text, over the 1 MB limit \(\[ingest\] max_text_mb\)"):
            pool.parse(b"flood", "text.flood")
        assert pool.parse(good, "leave.md").sections[0].text == "Everyone gets 26 days of annual leave."
    finally:
        pool.close()


def test_the_worker_returns_what_parsing_in_process_returns():
    pool = ParserPool(Limits(parse_timeout_s=60, parse_memory_mb=1024, max_text_mb=20))
    try:
        files = sorted(p for p in EXAMPLES.rglob("*") if p.is_file() and p.suffix in {".md", ".html", ".pdf", ".docx", ".xlsx"})
        assert {p.suffix for p in files} == {".md", ".html", ".pdf", ".docx", ".xlsx"}
        for path in files:
            data, name = path.read_bytes(), str(path.relative_to(EXAMPLES))
            assert pool.parse(data, name) == parse(data, name), name
        with pytest.raises(IngestError, match=r"unsupported file type '\.png'") as caught:
            pool.parse(b"\x89PNG", "photo.png")
        assert type(caught.value).__name__ == "UnsupportedType"
    finally:
        pool.close()


@pytest.mark.model
@pytest.mark.timeout(180)
@pytest.mark.usefixtures("runaway_parsers")
def test_bombs_fail_alone_and_the_rest_of_the_ingestion_proceeds(tmp_path: Path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "leave.md").write_text("# Leave\n\nEveryone gets 26 days of annual leave.\n")
    (corpus / "vpn.txt").write_text("VPN\nConnect with the Tunnelbird client before opening internal tools.\n")
    (corpus / "rooms.xlsx").write_bytes(xlsx_claim_bomb())
    (corpus / "report.docx").write_bytes(docx_zip_bomb())
    (corpus / "loop.spin").write_bytes(b"spin")
    (corpus / "memory.hog").write_bytes(b"hog")
    (corpus / "text.flood").write_bytes(b"flood")
    limits = "[ingest]\nparse_timeout_s = 3\nparse_memory_mb = 256\nmax_text_mb = 1\n"
    with Assistant.from_config(write_config(tmp_path, corpus, limits), tmp_path / "home") as assistant:
        report = assistant.ingest()
        reasons = {f["path"]: f["reason"] for f in report.failed}
        assert set(reasons) == {"report.docx", "loop.spin", "memory.hog", "text.flood"}, reasons
        assert "zip bomb" in reasons["report.docx"]
        assert reasons["loop.spin"] == "parsing took over 3 s ([ingest] parse_timeout_s)"
        assert "[ingest] parse_memory_mb" in reasons["memory.hog"]
        assert "[ingest] max_text_mb" in reasons["text.flood"]
        assert report.added == 3 and report.seconds < 30
        assert assistant.search("Tunnelbird client", k=1)[0].chunk.source == "vpn.txt"
        assert assistant.search("Boardroom", k=1)[0].chunk.source == "rooms.xlsx"
