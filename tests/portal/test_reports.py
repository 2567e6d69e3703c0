"""Monthly reports in the portal: 12 months as an SVG chart with a table, and the CSV download."""

from __future__ import annotations

from datetime import UTC, datetime

from app.portal.views.reports import chart, last_months
from tests.portal.helpers import PortalBrowser
from tests.portal.seed_b import seed_licensing


def test_last_months_cross_the_year():
    months = last_months(datetime(2026, 2, 10, tzinfo=UTC))
    assert months[0] == "2025-03" and months[-1] == "2026-02" and len(months) == 12


def test_chart_bars_scale_to_the_largest_month():
    bars = chart([{"month": "2026-01", "users": 0, "closed": None}, {"month": "2026-02", "users": 4, "closed": 1}])
    assert bars["bars"][0]["h"] == 0 and bars["bars"][1]["y"] == bars["top"] and bars["max"] == 4


def test_reports_page_and_csv(portal_app, partners, clock):
    seed_licensing(portal_app, partners.a.partner_id)
    browser = PortalBrowser(portal_app).sign_in(partners.viewer_a)
    page = browser.get("/portal/reports")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in body and "<table>" in body
    month = clock.now.strftime("%Y-%m")
    assert f'<th scope="row">{month}</th>\n      <td>1</td>' in body
    response = browser.get(f"/portal/reports/usage.csv?month={month}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.splitlines()[0].startswith("user_id") or "user" in text.splitlines()[0]
    assert "anna@example.com" in text
    assert browser.get("/portal/reports/usage.csv?month=2026-13").status_code == 422
    other = PortalBrowser(portal_app).sign_in(partners.admin_b)
    assert "anna@example.com" not in other.get(f"/portal/reports/usage.csv?month={month}").get_data(as_text=True)
    operator_page = PortalBrowser(portal_app).sign_in(partners.operator, clock).get("/portal/reports")
    assert operator_page.status_code == 200 and f"partner_id={partners.a.partner_id}" in operator_page.get_data(
        as_text=True
    )
