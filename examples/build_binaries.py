"""Build the binary documents (PDF, DOCX, XLSX) of the Northwind Lattice demo handbook.

The Northwind Lattice handbook is a fictional corpus written for inhouse's demo
(licence CC0). Markdown, HTML and text documents are kept as source files;
this script generates the rest:

    handbook/travel/expense-policy.pdf
    handbook/engineering/incident-response-runbook.pdf
    handbook/people/relocation-guide.pdf
    handbook/people/parental-leave-policy.docx
    handbook/engineering/on-call-agreement.docx
    handbook/it/hardware-request-procedure.docx
    handbook/office/office-locations.xlsx

Run it from anywhere:

    python examples/build_binaries.py

Requires fpdf2, python-docx and openpyxl. The output is deterministic: fixed
creation dates, explicit PDF line breaks and page breaks (so every fact stays
on the page the tests expect), and normalised ZIP timestamps for DOCX/XLSX.
Running it twice produces byte-identical files.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import zipfile
from pathlib import Path

import docx
import openpyxl
from docx.shared import Pt
from fpdf import FPDF
from office_content import DOCX_DOCS, OFFICE_HEADER, OFFICE_ROWS
from openpyxl.styles import Alignment, Font
from pdf_content import PDF_DOCS

HERE = Path(__file__).resolve().parent
HANDBOOK = HERE / "handbook"

FIXED_DATE = _dt.datetime(2025, 1, 15, 9, 0, 0, tzinfo=_dt.UTC)
FIXED_NAIVE = FIXED_DATE.replace(tzinfo=None)
ZIP_DATE = (2025, 1, 15, 9, 0, 0)
AUTHOR = "Northwind Lattice"


class HandbookPDF(FPDF):
    def __init__(self, doc_title: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc_title = doc_title
        self.total_pages = 0

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(120, 120, 120)
        self.cell(0, 10, f"Northwind Lattice - {self.doc_title} - Page {self.page_no()} of {self.total_pages}", align="C")
        self.set_text_color(0, 0, 0)


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """Greedy word wrap using the real font metrics, so line breaks are explicit."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = word if not current else current + " " + word
        if pdf.get_string_width(candidate) <= width:
            current = candidate
        else:
            if current:
                lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def build_pdf(spec: dict) -> Path:
    pdf = HandbookPDF(spec["title"])
    pdf.total_pages = len(spec["pages"])
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(spec["title"])
    pdf.set_author(AUTHOR)
    pdf.set_subject("Northwind Lattice employee handbook (fictional demo corpus)")
    pdf.set_creator("examples/build_binaries.py")
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 20, 20)
    body_width = pdf.w - pdf.l_margin - pdf.r_margin
    bottom_limit = pdf.h - 22

    for page in spec["pages"]:
        pdf.add_page()
        for kind, text in page:
            text.encode("latin-1")  # fail early on characters the core fonts cannot show
            if kind == "title":
                pdf.set_font("Helvetica", "B", 18)
                pdf.cell(body_width, 10, text, new_x="LMARGIN", new_y="NEXT")
            elif kind == "meta":
                pdf.set_font("Helvetica", "I", 9)
                pdf.set_text_color(90, 90, 90)
                pdf.cell(body_width, 6, text, new_x="LMARGIN", new_y="NEXT")
                pdf.set_text_color(0, 0, 0)
                pdf.ln(2)
            elif kind == "h":
                pdf.ln(3)
                pdf.set_font("Helvetica", "B", 12)
                pdf.cell(body_width, 7, text, new_x="LMARGIN", new_y="NEXT")
            elif kind == "p":
                pdf.set_font("Helvetica", "", 10.5)
                for line in _wrap(pdf, text, body_width):
                    pdf.cell(body_width, 5.2, line, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1.5)
            elif kind == "li":
                pdf.set_font("Helvetica", "", 10.5)
                indent = 6
                for i, line in enumerate(_wrap(pdf, text, body_width - indent)):
                    pdf.set_x(pdf.l_margin)
                    pdf.cell(indent, 5.2, "-" if i == 0 else "")
                    pdf.cell(body_width - indent, 5.2, line, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            else:
                raise ValueError(f"unknown block kind {kind!r}")
            if pdf.get_y() > bottom_limit:
                raise RuntimeError(f"{spec['path']}: page {pdf.page_no()} overflows; move a block to the next page")

    out = HANDBOOK / spec["path"]
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out


# ---------------------------------------------------------------------------
# DOCX content: ("h1"|"h2"|"p"|"li", text)
# ---------------------------------------------------------------------------


def build_docx(spec: dict) -> Path:
    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)

    props = document.core_properties
    props.title = spec["title"]
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.subject = "Northwind Lattice employee handbook (fictional demo corpus)"
    props.revision = 1
    props.created = FIXED_NAIVE
    props.modified = FIXED_NAIVE
    props.last_printed = FIXED_NAIVE

    for kind, text in spec["blocks"]:
        if kind == "h1":
            document.add_heading(text, level=1)
        elif kind == "h2":
            document.add_heading(text, level=2)
        elif kind == "p":
            document.add_paragraph(text)
        elif kind == "li":
            document.add_paragraph(text, style="List Bullet")
        else:
            raise ValueError(f"unknown block kind {kind!r}")

    buffer = io.BytesIO()
    document.save(buffer)
    out = HANDBOOK / spec["path"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_normalise_zip(buffer.getvalue()))
    return out


def build_xlsx() -> Path:
    wb = openpyxl.Workbook()
    wb.properties.title = "Office Locations"
    wb.properties.creator = AUTHOR
    wb.properties.lastModifiedBy = AUTHOR
    wb.properties.created = FIXED_NAIVE
    wb.properties.modified = FIXED_NAIVE

    ws = wb.active
    ws.title = "Offices"
    ws.append(OFFICE_HEADER)
    for row in OFFICE_ROWS:
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=cell.column == len(OFFICE_HEADER))
    widths = [12, 26, 34, 12, 12, 13, 18, 11, 18, 8, 70]
    for idx, width in enumerate(widths, start=1):
        ws.column_dimensions[openpyxl.utils.get_column_letter(idx)].width = width
    ws.freeze_panes = "A2"

    buffer = io.BytesIO()
    wb.save(buffer)
    out = HANDBOOK / "office/office-locations.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_normalise_zip(buffer.getvalue()))
    return out


# ---------------------------------------------------------------------------
# Determinism helpers
# ---------------------------------------------------------------------------

_MODIFIED_RE = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite an OOXML zip with fixed timestamps so repeated builds are byte-identical."""
    stamp = FIXED_NAIVE.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            blob = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                blob = _MODIFIED_RE.sub(rb"\g<1>" + stamp + rb"\g<2>", blob)
            zinfo = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            zinfo.compress_type = zipfile.ZIP_DEFLATED
            zinfo.external_attr = 0o644 << 16
            dst.writestr(zinfo, blob)
    return out.getvalue()


def main() -> None:
    built = [build_pdf(spec) for spec in PDF_DOCS]
    built += [build_docx(spec) for spec in DOCX_DOCS]
    built.append(build_xlsx())
    for path in built:
        print(f"{path.relative_to(HERE)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
