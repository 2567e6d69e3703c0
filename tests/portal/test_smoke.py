from tests.portal.helpers import PortalBrowser


def test_sign_in_and_open_pages(portal_app, partners, clock):
    browser = PortalBrowser(portal_app).sign_in(partners.admin_a)
    for path in (
        "/portal/",
        "/portal/brands",
        f"/portal/brands/{partners.a.brand_id}",
        f"/portal/brands/{partners.a.brand_id}/review",
        "/portal/codes",
        "/portal/account",
    ):
        response = browser.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:2000])
