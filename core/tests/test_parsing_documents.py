"""Parsers of binary documents: PDF (pages), DOCX (heading paths, tables), XLSX (sheet rows)."""

from __future__ import annotations

import io
from datetime import datetime

import docx
import openpyxl
import pytest
from fpdf import FPDF
from fpdf.enums import EncryptionMethod

from inhouse.errors import IngestError
from inhouse.parsing import parse

# --- PDF -----------------------------------------------------------------------------------


def make_pdf(pages: list[list[str]], title: str | None = None, **encryption) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title is not None:
        pdf.set_title(title)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            if line:
                pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.ln()
    if encryption:
        pdf.set_encryption(encryption_method=EncryptionMethod.RC4, **encryption)
    return bytes(pdf.output())


def test_pdf_pages_and_metadata_title():
    data = make_pdf(
        [["Travel policy", "Book travel in the employ-", "ee portal."], [], ["Reimbursement", "within   5 days"]],
        title="Travel Policy 2024",
    )
    doc = parse(data, "docs/travel.pdf")
    assert doc.title == "Travel Policy 2024"
    assert [s.page for s in doc.sections] == [1, 3]  # the empty page 2 is skipped
    assert doc.sections[0].text == "Travel policy\nBook travel in the employee portal."
    assert doc.sections[1].text == "Reimbursement\nwithin 5 days"
    assert all(s.heading == "" for s in doc.sections)


@pytest.mark.parametrize("meta", [None, "Microsoft Word - travel.docx", "Untitled document", "travel.pdf"])
def test_pdf_title_from_first_line_when_metadata_is_not_a_title(meta):
    doc = parse(make_pdf([["", "Expense Guide", "Body text"], ["Page two"]], title=meta), "x.pdf")
    assert doc.title == "Expense Guide"


def test_pdf_with_owner_password_only_is_read():
    doc = parse(make_pdf([["Open to read"]], owner_password="owner"), "o.pdf")
    assert doc.sections[0].text == "Open to read"


def test_encrypted_pdf():
    with pytest.raises(IngestError, match=r"^encrypted PDF"):
        parse(make_pdf([["Secret"]], owner_password="owner", user_password="user"), "s.pdf")


@pytest.mark.parametrize("data", [b"%PDF-1.7\nnot really a pdf", b"hello, world", make_pdf([["x"]])[:200]])
def test_corrupt_pdf(data):
    with pytest.raises(IngestError, match=r"^corrupt PDF: "):
        parse(data, "broken.pdf")


def test_pdf_without_text():
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 100, 100, style="F")  # a scan would be an image; either way no text layer
    with pytest.raises(IngestError, match=r"^no text found \(scanned PDF\?\)"):
        parse(bytes(pdf.output()), "scan.pdf")


# --- DOCX ----------------------------------------------------------------------------------


def docx_bytes(document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_docx(core_title: str = "") -> bytes:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_paragraph("Team charter", style="Title")
    document.add_paragraph("How this team works.")
    document.add_heading("Our team", level=1)
    document.add_heading("Members", level=2)
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table._cells, ["Name", "Role", "City", "Ana", "Lead", ""], strict=True):
        cell.text = text
    document.add_heading("Hours", level=2)
    document.add_paragraph("Core hours are 11 to 3.")
    document.add_heading("Rituals", level=1)
    document.add_paragraph("")  # empty paragraphs are skipped
    document.add_paragraph("Standups daily.")
    return docx_bytes(document)


def test_docx_heading_paths_and_tables():
    doc = parse(make_docx(), "charter.docx")
    assert doc.title == "Team charter"
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("", "How this team works."),
        ("Our team > Members", "Name | Role | City\nAna | Lead |"),
        ("Our team > Hours", "Core hours are 11 to 3."),
        ("Rituals", "Standups daily."),
    ]


@pytest.mark.parametrize(("core_title", "title"), [("Charter 2024", "Charter 2024"), ("Word Document", "Team charter")])
def test_docx_title_from_core_properties_when_sensible(core_title, title):
    assert parse(make_docx(core_title), "c.docx").title == title


def test_docx_title_from_first_heading_then_stem():
    document = docx.Document()
    document.add_heading("Kickoff agenda", level=2)
    document.add_paragraph("Intro.")
    assert parse(docx_bytes(document), "a.docx").title == "Kickoff agenda"
    document = docx.Document()
    document.add_paragraph("Only body text.")
    assert parse(docx_bytes(document), "TEMPLATE_Weekly_ship.docx").title == "TEMPLATE Weekly ship"


def test_docx_merged_cells_are_written_once():
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    for i, cell in enumerate(table._cells):
        cell.text = f"c{i}"
    table.cell(0, 0).merge(table.cell(0, 1))
    assert parse(docx_bytes(document), "m.docx").sections[0].text == "c0 c1 | c2\nc3 | c4 | c5"


def test_docx_without_text():
    with pytest.raises(IngestError, match=r"^no text found$"):
        parse(docx_bytes(docx.Document()), "blank.docx")


# --- XLSX ----------------------------------------------------------------------------------


def make_xlsx(title: str | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    risks = workbook.active
    risks.title = "Risks"
    risks.append([])
    risks.append(["Title", "Impact", None, "Due"])
    risks.append(["Vendor delay", "High", "extra", datetime(2024, 5, 1)])
    risks.append([None, None, None, None])
    risks.append(["Staffing", 3.0, None, None, "spill"])
    risks.append(["Budget", 0.1 + 0.2])
    notes = workbook.create_sheet("Notes")
    notes.append(["Only a header row", None, "here"])
    workbook.create_sheet("Empty")
    if title:
        workbook.properties.title = title
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_sheets_and_rows():
    doc = parse(make_xlsx(), "risk_tracker.xlsx")
    assert doc.title == "Risk tracker"
    assert [(s.heading, s.text) for s in doc.sections] == [
        (
            "Risks",
            "Title: Vendor delay; Impact: High; Column C: extra; Due: 2024-05-01\n"
            "Title: Staffing; Impact: 3; Column E: spill\n"
            "Title: Budget; Impact: 0.3",
        ),
        ("Notes", "Only a header row | here"),
    ]
    assert all(s.page is None for s in doc.sections)


def test_xlsx_title_from_properties():
    assert parse(make_xlsx(title="Risk register"), "r.xlsx").title == "Risk register"


# --- corrupt Office files ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
@pytest.mark.parametrize("data", [b"not a zip at all", b"PK\x03\x04truncated", None], ids=["text", "zip", "other"])
def test_corrupt_office_file(kind, data):
    if data is None:  # a valid zip of the other kind: the package lacks the parts we need
        data = make_xlsx() if kind == "docx" else make_docx()
    with pytest.raises(IngestError, match=f"^corrupt {kind.upper()}: "):
        parse(data, f"file.{kind}")


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_encrypted_office_file(kind):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    with pytest.raises(IngestError, match=f"^encrypted {kind.upper()} \\(password-protected\\)"):
        parse(ole, f"secret.{kind}")
