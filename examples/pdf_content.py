"""The text of the demo handbook's PDF documents (fictional, CC0); ``build_binaries.py`` lays it out."""

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
