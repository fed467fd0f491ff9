"""The admin console at ``/admin``: usage and cost over time by model, use case, group and
user (inline SVG charts and tables), abstention and fallback rates, answer feedback to
review, the audit log with filters, connector syncs, plugin health (``inhouse doctor``) and
budgets, each table also as CSV. Server-rendered: no script.

- ``routes``: the pages, for members of an ``[ui] admins`` group;
- ``queries``: what they show, read from the ledger, the audit log, feedback and budgets;
- ``charts``: the SVG line and bar charts; ``layout``: the HTML; ``export``: the CSV.
"""

from inhouse_ui.console.routes import router

__all__ = ["router"]
