"""The summary report's default period is the same for the staff page and the API."""

from __future__ import annotations

from datetime import date

from registry.reports import default_period_start
from tests.web.conftest import login


def test_default_start_is_thirty_days_ending_on_the_end():
    assert default_period_start(date(2026, 3, 20)) == date(2026, 2, 19)


def test_page_and_api_agree_when_only_the_end_is_given(app, world):
    web = app.test_client()
    login(web, world.staff)
    page = web.get("/staff/report?date_to=2026-03-20").get_data(as_text=True)
    assert 'value="2026-02-19"' in page

    api = app.test_client()
    token = api.post("/api/v1/tokens", json={"email": world.staff.email,
                                             "password": "correct-horse-battery"}).get_json()
    answer = api.get("/api/v1/reports/summary?to=2026-03-20",
                     headers={"Authorization": f"Bearer {token['token']}"})
    assert answer.status_code == 200
    assert (answer.get_json()["from"], answer.get_json()["to"]) == ("2026-02-19", "2026-03-20")
