"""The text of the demo handbook's DOCX and XLSX documents (fictional, CC0); ``build_binaries.py`` lays it out."""

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
