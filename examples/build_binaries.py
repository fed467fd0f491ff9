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
from openpyxl.styles import Alignment, Font

HERE = Path(__file__).resolve().parent
HANDBOOK = HERE / "handbook"

FIXED_DATE = _dt.datetime(2025, 1, 15, 9, 0, 0, tzinfo=_dt.UTC)
FIXED_NAIVE = FIXED_DATE.replace(tzinfo=None)
ZIP_DATE = (2025, 1, 15, 9, 0, 0)
AUTHOR = "Northwind Lattice"

# ---------------------------------------------------------------------------
# PDF content
#
# Each document is a list of pages; each page is a list of blocks:
#   ("title", text)  document title (large, bold)
#   ("meta", text)   small grey line under the title
#   ("h", text)      section heading
#   ("p", text)      paragraph, wrapped to the page width
#   ("li", text)     bullet item, wrapped with a hanging indent
# Page breaks are explicit, so the page of every fact is known in advance.
# ---------------------------------------------------------------------------

EXPENSE_POLICY = {
    "path": "travel/expense-policy.pdf",
    "title": "Travel and Expense Policy",
    "pages": [
        [
            ("title", "Travel and Expense Policy"),
            ("meta", "Owner: Finance. Version 4.0, effective 1 January 2025. Applies to all employees."),
            ("h", "1. Purpose and scope"),
            (
                "p",
                "This policy explains which costs Northwind Lattice reimburses when you travel or spend "
                "money on the company's behalf, and how to claim them. How to book flights, trains and "
                "hotels, including the nightly hotel limits, is described in Booking Business Travel.",
            ),
            ("h", "2. General principles"),
            (
                "p",
                "Spend company money as if it were your own and be ready to explain any cost to your "
                "manager. You should neither gain nor lose money because of a business trip. When in "
                "doubt, ask Finance before you spend, not afterwards.",
            ),
            ("h", "3. Company cards"),
            (
                "p",
                "Employees who travel more than four times a year, and all managers, receive a company "
                "credit card. Use it for business expenses only; personal charges made by mistake must "
                "be repaid within 14 days.",
            ),
            ("h", "4. Receipts"),
            (
                "p",
                "Keep an itemised receipt for every expense of EUR 25 or more. A card payment slip on "
                "its own is not a receipt. Photograph receipts with the Ledgerline mobile app; the "
                "photo counts as the original and you do not need to keep the paper copy.",
            ),
            ("h", "5. Submitting a claim"),
            (
                "p",
                "All expenses are claimed in Ledgerline, our expenses tool. Submit each claim within "
                "30 days of the date of the expense. Claims older than 90 days are not reimbursed, "
                "except with written approval from the Finance Director.",
            ),
        ],
        [
            ("h", "6. Meals and daily allowance (per diem)"),
            (
                "p",
                "Instead of claiming individual meals, employees travelling overnight on business "
                "receive a fixed daily meal allowance, known as the per diem. No meal receipts are needed.",
            ),
            ("li", "The standard per diem is EUR 48 per full day of travel."),
            ("li", "In London, New York, Zurich and Toronto the per diem is EUR 65 per full day."),
            ("li", "On the day you leave and the day you return, you receive half the daily amount."),
            (
                "li",
                "Deduct EUR 15 for each lunch or dinner that is provided free of charge, for example "
                "by a conference or a customer. Breakfast included in the hotel rate is not deducted.",
            ),
            (
                "p",
                "Day trips without an overnight stay do not qualify for a per diem. To claim it, select "
                "the category Per diem in Ledgerline and enter your departure and return times.",
            ),
            ("h", "7. Local transport"),
            (
                "p",
                "Use public transport where it is practical. Taxis may be used when carrying heavy "
                "equipment, when public transport is not available, or between 22:00 and 06:00.",
            ),
            (
                "p",
                "If you use your private car for business, you can claim a mileage allowance of "
                "EUR 0.23 per kilometre. Parking and tolls are reimbursed with receipts.",
            ),
            ("h", "8. Client entertainment"),
            (
                "p",
                "Meals with customers or partners must be approved by your manager in advance. The "
                "limit is EUR 90 per person, including drinks, tax and tip. Record the names and "
                "companies of all guests on the claim.",
            ),
        ],
        [
            ("h", "9. Costs that are not reimbursed"),
            ("p", "The following costs are personal and cannot be claimed:"),
            ("li", "hotel minibar, in-room films and spa treatments;"),
            ("li", "seat upgrades and extra legroom, unless approved for medical reasons;"),
            ("li", "traffic fines, parking fines and penalties of any kind;"),
            ("li", "costs for partners or family members travelling with you;"),
            ("li", "alcohol, except as part of approved client entertainment."),
            ("h", "10. Approval and payment"),
            (
                "p",
                "Your manager approves expense claims in Ledgerline within five working days. Approved "
                "claims are "
                "reimbursed by bank transfer with the next salary payment if they are approved by the "
                "20th of the month; claims approved later are paid the following month.",
            ),
            ("h", "11. Misuse"),
            (
                "p",
                "Finance checks a random sample of claims every month. Deliberately false claims are a "
                "serious disciplinary matter; honest mistakes are simply corrected.",
            ),
            ("h", "Questions"),
            ("p", "Contact the Finance team in the #ask-finance Slack channel."),
        ],
    ],
}

INCIDENT_RUNBOOK = {
    "path": "engineering/incident-response-runbook.pdf",
    "title": "Incident Response Runbook",
    "pages": [
        [
            ("title", "Incident Response Runbook"),
            ("meta", "Owner: Site Reliability Engineering. Audience: all engineers and on-call staff."),
            ("h", "1. What counts as an incident"),
            (
                "p",
                "An incident is any unplanned event that degrades or interrupts a service our customers "
                "rely on, or that puts the security of customer or company data at risk. If you are "
                "unsure whether something is an incident, declare one.",
            ),
            ("h", "2. Severity levels"),
            (
                "p",
                "Every incident gets a severity level when it is declared. The incident commander may "
                "raise or lower it as more is learned.",
            ),
            (
                "li",
                "SEV1 - Critical: the product is unavailable for many customers, data is being lost, "
                "or a security breach is confirmed.",
            ),
            (
                "li",
                "SEV2 - Major: an important feature is broken or badly degraded for a large group of "
                "customers, with no workaround.",
            ),
            ("li", "SEV3 - Minor: limited impact, a workaround exists, or only internal tools are affected."),
            ("h", "3. Declaring an incident"),
            (
                "p",
                "Anyone in the company can declare an incident. In any Slack channel, type the command "
                "/incident declare and choose a severity and a short name. The incident bot then:",
            ),
            ("li", "creates a dedicated channel named #inc-<date>-<short-name>;"),
            ("li", "pages the primary on-call engineer of the affected service;"),
            ("li", "for SEV1 and SEV2, also pages the incident commander on duty;"),
            ("li", "posts a link to the incident in #incidents so others can follow without interrupting."),
        ],
        [
            ("h", "4. Roles"),
            ("p", "For SEV1 and SEV2 incidents, three roles are always filled:"),
            (
                "li",
                "Incident commander (IC): coordinates the response, assigns tasks, decides. The IC "
                "does not debug; their job is to keep the overview.",
            ),
            ("li", "Communications lead: writes updates for the status page, Customer Success and leadership."),
            ("li", "Scribe: keeps a timeline of events, decisions and actions in the incident channel."),
            ("h", "5. Communication"),
            (
                "p",
                "The communications lead posts a first public notice on the status page within 15 "
                "minutes of a SEV1 or SEV2 being declared.",
            ),
            (
                "p",
                "After that, update the status page every 30 minutes for a SEV1 and every 60 minutes "
                "for a SEV2, even if there is nothing new to say. SEV3 incidents are usually not "
                "posted publicly.",
            ),
            ("h", "6. Escalation"),
            (
                "p",
                "If a SEV1 incident has not been mitigated within 60 minutes of being declared, the IC "
                "pages the VP of Engineering. If customer data may have been exposed, the IC pages the "
                "security on-call engineer immediately, whatever the severity, and the Security team "
                "informs the Data Protection Officer. Where the law requires it, the supervisory "
                "authority is notified within 72 hours.",
            ),
            ("h", "7. Mitigate first"),
            (
                "p",
                "The first goal is to stop the customer impact, not to find the root cause. Prefer "
                "fast, reversible actions: roll back the last deployment, turn off a feature flag, or "
                "fail over to the secondary region.",
            ),
        ],
        [
            ("h", "8. Closing an incident"),
            (
                "p",
                "The IC declares the incident resolved when customer impact has ended and monitoring "
                "has been normal for at least 30 minutes. The communications lead posts a final status "
                "page update, and the incident bot archives the channel after seven days.",
            ),
            ("h", "9. Postmortems"),
            (
                "p",
                "Every SEV1 and SEV2 incident gets a written postmortem. The draft is due within five "
                "business days of resolution and is reviewed in the weekly reliability review meeting.",
            ),
            (
                "p",
                "Postmortems are blameless: they describe what happened and how our systems can make "
                "the same failure less likely, and never name a person as the cause. Each action item "
                "is tracked as a ticket with the label postmortem-action. Action items from SEV1 "
                "incidents must be completed within 30 days.",
            ),
            ("h", "10. Practice"),
            ("p", "Each team runs a game day at least twice a year, simulating a realistic failure in the staging environment."),
            ("h", "Contacts"),
            (
                "p",
                "Questions about this runbook: #sre on Slack. To page the incident commander on duty "
                "outside an incident, use the PagerLoom schedule named IC-Primary.",
            ),
        ],
    ],
}

RELOCATION_GUIDE = {
    "path": "people/relocation-guide.pdf",
    "title": "Relocation Guide",
    "pages": [
        [
            ("title", "Relocation Guide"),
            ("meta", "Owner: People Team - Global Mobility. For employees moving at the company's request."),
            ("h", "1. Who this guide is for"),
            (
                "p",
                "This guide applies when Northwind Lattice asks you to move, or agrees to help you "
                "move, to work from one of our offices: new hires who relocate to join us, and current "
                "employees transferring between offices. Support applies only when the new office is "
                "more than 100 km from your current home. Moves you make for personal reasons while "
                "keeping your role are not covered.",
            ),
            ("h", "2. Our relocation partner"),
            (
                "p",
                "We work with Harbourline Mobility, an external relocation company. Once your move is "
                "confirmed, you are assigned a personal relocation consultant at Harbourline who will "
                "guide you through every step, from visas to finding a school.",
            ),
            ("h", "3. Before the move"),
            (
                "li",
                "Immigration: the company pays all visa and work permit fees, and the cost of an "
                "immigration lawyer, for you and your accompanying family.",
            ),
            (
                "li",
                "Look-see trip: one trip of up to three days to the new city for you and your "
                "partner, to explore neighbourhoods and view homes with a Harbourline agent.",
            ),
            ("li", "Tax advice: two hours with an international tax adviser, paid by the company."),
            (
                "p",
                "Start the immigration process as early as possible. In our experience a work permit "
                "takes between four and twelve weeks, depending on the country.",
            ),
        ],
        [
            ("h", "4. Financial support"),
            ("p", "The relocation package consists of a lump sum and a set of costs paid directly by the company."),
            (
                "li",
                "Relocation lump sum: EUR 6,000 for the employee, plus EUR 1,500 for each accompanying "
                "family member. The lump sum is paid with your first salary in the new location and "
                "is meant for costs such as furniture, deposits and registration fees.",
            ),
            (
                "li",
                "Moving household goods: shipping of up to 20 cubic metres, including packing and "
                "insurance, booked through Harbourline.",
            ),
            ("li", "Temporary housing: a furnished apartment for up to 30 nights after arrival."),
            ("li", "Travel: one-way travel to the new location for you and your family."),
            ("li", "Language lessons: up to 60 hours of lessons in the local language during your first year."),
            ("p", "The lump sum is taxable income in most countries. Harbourline's tax adviser can explain how it affects you."),
            ("h", "5. Finding a home and school"),
            (
                "p",
                "Harbourline offers two days of accompanied home search and helps you review rental "
                "contracts. If you have children, your consultant can arrange visits to local and "
                "international schools. School fees are not paid by the company.",
            ),
        ],
        [
            ("h", "6. Repayment"),
            (
                "p",
                "Relocation is a significant investment. If you resign, or are dismissed for gross "
                "misconduct, shortly after moving, part of the cost must be repaid:",
            ),
            ("li", "within 12 months of your start date in the new location: 100% of the lump sum and direct costs;"),
            ("li", "between 12 and 24 months: 50%;"),
            ("li", "after 24 months: nothing."),
            ("p", "You do not repay anything if your role is made redundant or the company asks you to move again."),
            ("h", "7. Settling in"),
            (
                "p",
                "Your local People Team partner will meet you in your first week to help with practical "
                "matters such as registering with the municipality and opening a bank account.",
            ),
            ("h", "8. Moving checklist"),
            ("li", "Sign the relocation agreement and return it to the People Team."),
            ("li", "Share passport copies for everyone moving with you."),
            ("li", "Book your look-see trip with Harbourline."),
            ("li", "Update your address in the HR portal after arrival."),
            ("p", "Questions: email mobility@nwlattice.example."),
        ],
    ],
}

PDF_DOCS = [EXPENSE_POLICY, INCIDENT_RUNBOOK, RELOCATION_GUIDE]


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

PARENTAL_LEAVE = {
    "path": "people/parental-leave-policy.docx",
    "title": "Parental Leave Policy",
    "blocks": [
        ("h1", "Parental Leave Policy"),
        ("p", "Owner: People Team. Applies to all employees in all offices, from their first day of employment."),
        (
            "p",
            "Becoming a parent is one of the biggest events in anyone's life. This policy describes "
            "the paid leave and support Northwind Lattice offers to new parents, however their family "
            "grows: birth, adoption, foster care or surrogacy.",
        ),
        ("h2", "How much paid leave you receive"),
        (
            "p",
            "Where local law provides statutory parental pay, the company tops it up so that you "
            "receive your full base salary for the periods below.",
        ),
        (
            "li",
            "The birth parent receives 20 weeks of parental leave at full pay. Up to four of these "
            "weeks may be taken before the expected due date.",
        ),
        (
            "li",
            "Every other parent, including adoptive parents, foster parents and parents through "
            "surrogacy, receives 12 weeks of parental leave at full pay.",
        ),
        (
            "p",
            "Leave must be taken within 12 months of the birth or placement of the child. You may take "
            "it in one continuous period or split it into up to three blocks of at least two weeks each.",
        ),
        ("h2", "Telling us about your leave"),
        (
            "p",
            "Let your manager and the People Team know about your plans at least 15 weeks before the "
            "expected due date or placement date, or as soon as you reasonably can. The People Team "
            "will then confirm your leave dates and pay in writing. All information you share is "
            "treated confidentially.",
        ),
        ("h2", "During your leave"),
        (
            "p",
            "Your benefits continue as normal during parental leave, including health insurance and "
            "pension contributions. Annual leave continues to accrue, and you can add it to the end "
            "of your parental leave.",
        ),
        (
            "p",
            "You may agree up to 10 keeping-in-touch days with your manager, for example to attend "
            "team events or training. These are paid as normal working days and do not reduce your "
            "leave. They are entirely optional.",
        ),
        ("h2", "Returning to work"),
        (
            "p",
            "To make the return easier, you can use a phased return: during your first four weeks "
            "back, you work 60% of your normal hours while receiving full pay. Agree the schedule "
            "with your manager before your leave ends.",
        ),
        (
            "p",
            "You return to the same role, or to an equivalent role on the same terms if your old role "
            "no longer exists. You may also request flexible or part-time working; we consider every "
            "request seriously and respond within four weeks.",
        ),
        ("h2", "Pregnancy loss and fertility treatment"),
        (
            "p",
            "Employees who experience a pregnancy loss, and their partners, receive up to two weeks "
            "of paid leave. Employees undergoing fertility treatment may take up to five days of paid "
            "leave per year for appointments.",
        ),
        ("h2", "Questions"),
        ("p", "Contact your People Team partner, or write in confidence to people@nwlattice.example."),
    ],
}

ON_CALL = {
    "path": "engineering/on-call-agreement.docx",
    "title": "On-Call Agreement",
    "blocks": [
        ("h1", "On-Call Agreement"),
        (
            "p",
            "Owner: Engineering leadership, agreed with the Employee Council. Applies to all engineers "
            "in teams that own production services.",
        ),
        (
            "p",
            "Our customers depend on our services around the clock. This agreement sets out what we "
            "expect from engineers who are on call, and what the company provides in return.",
        ),
        ("h2", "How the rotation works"),
        (
            "p",
            "Each team that owns a production service runs its own rotation with a primary and a "
            "secondary on-call engineer. A shift lasts one week and hands over on Monday at 10:00 "
            "local time, during a short handover meeting.",
        ),
        ("li", "Nobody is on call for more than one week in every four."),
        ("li", "Nobody is on call for two consecutive weeks unless they ask to swap."),
        (
            "li",
            "Engineers join the rotation after completing the on-call training and shadowing one "
            "full shift, usually after three months with the company.",
        ),
        (
            "p",
            "Schedules and pages are managed in PagerLoom. Swap shifts there, and make sure the swap "
            "is confirmed by the colleague taking over.",
        ),
        ("h2", "What we expect while on call"),
        ("li", "Acknowledge a page within 15 minutes, at any time of day or night."),
        (
            "li",
            "Carry your laptop and have a reliable internet connection, so you can start working within 30 minutes of a page.",
        ),
        ("li", "Stay fit to work: no alcohol or anything else that would impair your judgement."),
        ("li", "Escalate to the secondary on-call engineer if you cannot resolve a problem, or if a page is not acknowledged."),
        ("p", "Follow the Incident Response Runbook when a page turns into an incident."),
        ("h2", "Compensation"),
        (
            "p",
            "Being available outside working hours limits your personal life, whether or not you are "
            "paged. Every engineer on call receives a fixed on-call stipend in addition to salary:",
        ),
        ("li", "Primary on-call: EUR 420 per week."),
        ("li", "Secondary on-call: EUR 180 per week."),
        ("li", "For each public holiday on call, an extra EUR 90, on top of the weekly amount."),
        (
            "p",
            "The stipend is paid with the salary of the month after the shift. It is paid in full even if you received no pages.",
        ),
        ("h2", "Rest after night-time pages"),
        (
            "p",
            "If you work on a page for more than one hour between 23:00 and 07:00, start work no "
            "earlier than 11:00 the next morning. If the night work lasted more than three hours, take "
            "the next working day off as a paid recovery day. Tell your manager; no approval is needed.",
        ),
        ("h2", "Leaving the rotation"),
        (
            "p",
            "On-call duty is part of the engineering role in service-owning teams, but circumstances "
            "change. Talk to your manager if you need a break from the rotation, for example because of "
            "caring responsibilities or health reasons. Requests are handled confidentially.",
        ),
        ("h2", "Review"),
        ("p", "This agreement, including the stipend amounts, is reviewed every year in September."),
    ],
}

HARDWARE_REQUEST = {
    "path": "it/hardware-request-procedure.docx",
    "title": "Hardware Request Procedure",
    "blocks": [
        ("h1", "Hardware Request Procedure"),
        (
            "p",
            "Owner: IT Operations. This procedure explains how to order work equipment and how long "
            "it takes. For rules on caring for your laptop, see Looking After Your Laptop.",
        ),
        ("h2", "Standard equipment"),
        ("p", "Every employee is entitled to the standard equipment kit without further approval:"),
        ("li", "a company laptop (the model depends on your role);"),
        ("li", "one 27-inch external monitor for the office or for home;"),
        ("li", "a keyboard, a mouse and a noise-cancelling headset;"),
        ("li", "a laptop stand and the necessary cables and adapters."),
        ("p", "Remote and hybrid employees may request a second monitor for their home office."),
        ("h2", "How to request equipment"),
        (
            "p",
            "Open the helpdesk portal and choose the form Hardware request (HW-1). Select items from "
            "the catalogue where possible; catalogue items are tested and supported by IT. Add a short "
            "business reason for anything outside the standard kit.",
        ),
        ("h2", "Approvals"),
        ("li", "Standard kit items: no approval needed."),
        ("li", "Other items up to EUR 150: approved by IT automatically."),
        ("li", "Items above EUR 150: approval by your manager."),
        ("li", "Items above EUR 1,000, or any non-catalogue laptop: approval by your department head."),
        ("p", "Approvals happen inside the ticket; you do not need to send emails."),
        ("h2", "Delivery times"),
        (
            "p",
            "Items in stock are ready for collection at the office IT desk, or shipped to your home, "
            "within three working days of approval. Items that must be ordered from a supplier take "
            "up to three weeks. The ticket shows the expected delivery date.",
        ),
        ("h2", "Laptop replacement"),
        (
            "p",
            "Laptops are replaced every 36 months. IT contacts you about two months before your "
            "laptop reaches that age and arranges the swap, including data migration. A laptop may be "
            "replaced earlier if it is faulty or no longer meets the needs of your role; request this "
            "through the same form, with a short explanation.",
        ),
        ("h2", "Accessibility equipment"),
        (
            "p",
            "Ergonomic chairs, vertical mice, screen readers and other accessibility equipment are "
            "provided whenever you need them, without the usual approval limits. Choose the "
            "Accessibility request option in the form; requests are handled confidentially.",
        ),
        ("h2", "Returning equipment"),
        (
            "p",
            "Equipment remains company property. Return items you no longer need to the IT desk so "
            "they can be reused. When you leave the company, return all equipment on your last "
            "working day.",
        ),
    ],
}

DOCX_DOCS = [PARENTAL_LEAVE, ON_CALL, HARDWARE_REQUEST]


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


# ---------------------------------------------------------------------------
# XLSX content
# ---------------------------------------------------------------------------

OFFICE_HEADER = [
    "Office",
    "Role",
    "Street address",
    "Postal code",
    "City",
    "Country",
    "Reception phone",
    "Employees",
    "Time zone",
    "Opened",
    "Getting there",
]
OFFICE_ROWS = [
    [
        "Rotterdam",
        "Headquarters",
        "Maaskade Noord 88",
        "3011 ZK",
        "Rotterdam",
        "Netherlands",
        "+31 10 555 0140",
        180,
        "Europe/Amsterdam",
        2009,
        "Ten minutes on foot from Rotterdam Centraal station. Bicycle storage on the ground floor; "
        "car parking spaces must be booked in the desk booking app.",
    ],
    [
        "Lisbon",
        "Engineering hub",
        "Rua do Vento Norte 118, Piso 4",
        "1250-096",
        "Lisboa",
        "Portugal",
        "+351 21 555 0118",
        85,
        "Europe/Lisbon",
        2016,
        "Metro to Baixa-Chiado, then five minutes on foot. Reception is on the 4th floor. "
        "No car parking; use the public garage opposite the building.",
    ],
    [
        "Krakow",
        "Engineering hub",
        "ul. Zielona Brama 7",
        "30-552",
        "Krakow",
        "Poland",
        "+48 12 555 0107",
        70,
        "Europe/Warsaw",
        2019,
        "Tram stop directly in front of the building. Reception is on the ground floor. "
        "Underground parking with 20 bookable spaces.",
    ],
    [
        "Toronto",
        "Sales and customer support",
        "455 Harbourfront Lane, Suite 1200",
        "M5J 2N8",
        "Toronto",
        "Canada",
        "+1 416 555 0455",
        45,
        "America/Toronto",
        2021,
        "Five minutes on foot from Union Station. Sign in at the building security desk in the "
        "lobby before going up to Suite 1200.",
    ],
]


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
