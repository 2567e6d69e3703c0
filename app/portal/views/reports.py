"""Monthly reports (app/billing): the counted users of the last 12 months as a server-rendered SVG
bar chart with a table alternative (no JavaScript), and each month's CSV download (the admin
API's report: the closed version when the month is closed, else running figures)."""

from __future__ import annotations

from datetime import datetime

from flask import request, url_for

from app.api.admin.auth import acting_partner
from app.api.admin.reports import csv_response
from app.billing.reports import checked_month, csv_chunks, latest_report, live_rows, stored_rows, totals_of
from app.db import session
from app.portal.pages import Crumb, render_page
from app.portal.screens import form_id, partner_picker
from app.portal.web import bp, now, portal_actor, portal_view

MONTHS = 12
CHART = {"width": 640, "height": 240, "left": 48, "bottom": 40, "top": 16}


def last_months(today: datetime, count: int = MONTHS) -> list[str]:
    """The ``count`` months up to and including ``today``'s, oldest first (``YYYY-MM``)."""
    year, month = today.year, today.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def month_figures(partner_id: int, month: str) -> dict:
    """One month's counted users: the closed version's totals, else the running count."""
    report = latest_report(session(), partner_id, month)
    if report is not None:
        return {"month": month, "users": int(report.totals.get("users", 0)), "closed": report.version, "running": False}
    users = totals_of(live_rows(session(), partner_id, month)).users
    return {"month": month, "users": users, "closed": None, "running": now().strftime("%Y-%m") <= month}


def chart(figures: list[dict]) -> dict:
    """Bar geometry of the SVG chart (the template draws it; the table carries the same numbers)."""
    width, height = CHART["width"], CHART["height"]
    plot_w = width - CHART["left"] - 8
    plot_h = height - CHART["bottom"] - CHART["top"]
    top = max([f["users"] for f in figures] + [1])
    step = plot_w / max(len(figures), 1)
    bars = []
    for n, f in enumerate(figures):
        h = round(plot_h * f["users"] / top, 1)
        bars.append(
            {
                **f,
                "x": round(CHART["left"] + n * step + step * 0.15, 1),
                "w": round(step * 0.7, 1),
                "y": round(CHART["top"] + plot_h - h, 1),
                "h": h,
                "label_x": round(CHART["left"] + n * step + step / 2, 1),
            }
        )
    return {**CHART, "bars": bars, "max": top, "base_y": CHART["top"] + plot_h}


def _partner():
    actor = portal_actor()
    return acting_partner(form_id(request.args.get("partner_id", "")) if actor.is_operator else None)


@bp.route("/reports", methods=["GET"])
@portal_view()
def reports():
    """The last 12 months' counted users: chart, table and CSV links (operators first pick a partner)."""
    if portal_actor().is_operator and form_id(request.args.get("partner_id", "")) is None:
        return partner_picker("portal.reports", "Monthly reports")
    partner = _partner()
    figures = [month_figures(partner.id, month) for month in last_months(now())]
    return render_page(
        "portal/reports.html",
        title="Monthly reports",
        crumbs=[Crumb("Home", url_for("portal.home")), Crumb("Monthly reports")],
        partner=partner,
        figures=figures,
        chart=chart(figures),
        operator=portal_actor().is_operator,
    )


@bp.route("/reports/usage.csv", methods=["GET"])
@portal_view()
def report_csv():
    """One month's report (``?month=YYYY-MM``) as CSV, one row per counted user."""
    partner = _partner()
    month = checked_month(request.args.get("month", "")[:7])
    report = latest_report(session(), partner.id, month)
    rows = stored_rows(session(), report) if report is not None else live_rows(session(), partner.id, month)
    return csv_response(csv_chunks(rows), f"usage-{partner.slug}-{month}.csv")
