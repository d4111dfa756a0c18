"""Every page as every role (and anonymous): the expected status, and nobody else's record.

Each row names an endpoint, a method and a URL built from the test world, with the status
each role gets. POSTs carry a fresh one-time form token, the confirmation of a safety act and
no other data, so they reach the operation (which checks the permission) and at worst come back
with field errors.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from tests.web.conftest import World, login

ROLES = ["anonymous", "prescriber", "designee", "pharmacist", "rsp", "patient", "staff"]
SIGNED_IN = ROLES[1:]


def only(*roles: str, ok: int = 200, **special: int) -> dict[str, int]:
    """``ok`` for the named roles, 403 for other signed-in roles, 302 (to login) for anonymous."""
    table = {role: (ok if role in roles else 403) for role in SIGNED_IN}
    table["anonymous"] = 302
    table.update(special)
    return table


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


PRESCRIBING = ("prescriber", "designee")
PHARMACY = ("pharmacist", "rsp")

Row = tuple[str, str, Callable[[World], str], dict[str, int]]

ROWS: list[Row] = [
    ("auth.home", "GET", lambda w: "/", everyone(302)),
    ("auth.login", "GET", lambda w: "/login", everyone(200)),
    ("auth.login", "POST", lambda w: "/login", everyone(200)),
    ("auth.activate", "GET", lambda w: "/activate", everyone(200)),
    ("auth.activate", "POST", lambda w: "/activate", everyone(200)),
    ("auth.enroll", "GET", lambda w: "/enroll", everyone(200)),
    ("auth.enroll", "POST", lambda w: "/enroll", everyone(200)),
    ("auth.register_pharmacy_page", "GET", lambda w: "/register-pharmacy", everyone(200)),
    ("auth.register_pharmacy_page", "POST", lambda w: "/register-pharmacy", everyone(200)),
    # prescriber and designee pages
    ("prescribers.patients", "GET", lambda w: "/prescriber/", only(*PRESCRIBING)),
    ("prescribers.attest", "GET", lambda w: "/prescriber/attest", only("prescriber")),
    ("prescribers.attest", "POST", lambda w: "/prescriber/attest", only("prescriber")),
    ("prescribers.designee_attest", "GET", lambda w: "/prescriber/designee-attest",
     only("designee")),
    ("prescribers.designee_attest", "POST", lambda w: "/prescriber/designee-attest",
     only("designee")),
    ("prescribers.act_for", "GET", lambda w: "/prescriber/act-for", only("designee")),
    ("prescribers.act_for", "POST", lambda w: "/prescriber/act-for", only("designee")),
    ("prescribers.designees", "GET", lambda w: "/prescriber/designees", only("prescriber")),
    ("prescribers.designees", "POST", lambda w: "/prescriber/designees", only("prescriber")),
    ("prescribers.unlink", "POST", lambda w: f"/prescriber/designees/{w.des_b.id}/unlink",
     only("prescriber", ok=404)),
    ("patients.register", "GET", lambda w: "/patients/new", only(*PRESCRIBING)),
    ("patients.register", "POST", lambda w: "/patients/new", only(*PRESCRIBING)),
    ("patients.take_on", "GET", lambda w: "/patients/take-on", only("prescriber")),
    ("patients.take_on", "POST", lambda w: "/patients/take-on", only("prescriber")),
    ("patients.transfer", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/transfer",
     only("staff", prescriber=403, designee=403)),
    ("patients.transfer", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/transfer",
     only("staff")),
    ("patients.detail", "GET", lambda w: f"/patients/{w.pat_a.registry_id}",
     only(*PRESCRIBING, "staff")),
    ("patients.detail", "GET", lambda w: f"/patients/{w.pat_b.registry_id}",
     only(*PRESCRIBING, "staff", ok=404, staff=200)),
    ("patients.detail", "GET", lambda w: "/patients/0000000000",
     only(*PRESCRIBING, "staff", ok=404)),
    ("patients.card", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/card",
     only(*PRESCRIBING, "staff")),
    ("patients.card", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/card",
     only(*PRESCRIBING, "staff", ok=404, staff=200)),
    ("pregnancies.enter_test", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/tests",
     only(*PRESCRIBING)),
    ("pregnancies.enter_test", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/tests",
     only(*PRESCRIBING)),
    ("pregnancies.enter_test", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/tests",
     only(*PRESCRIBING, ok=404)),
    ("cycles.counseling", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/counseling",
     only("prescriber")),
    ("cycles.counseling", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/counseling",
     only("prescriber")),
    ("cycles.counseling", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/counseling",
     only("prescriber", ok=404)),
    ("patients.risk_category", "GET",
     lambda w: f"/patients/{w.pat_a.registry_id}/risk-category", only("prescriber")),
    ("patients.risk_category", "POST",
     lambda w: f"/patients/{w.pat_a.registry_id}/risk-category", only("prescriber")),
    ("patients.risk_category", "GET",
     lambda w: f"/patients/{w.pat_b.registry_id}/risk-category", only("prescriber", ok=404)),
    ("patients.finish", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/end-treatment",
     only("prescriber")),
    ("patients.finish", "POST", lambda w: f"/patients/{w.pat_b.registry_id}/end-treatment",
     only("prescriber", ok=404)),
    ("patients.care", "POST", lambda w: f"/patients/{w.pat_b.registry_id}/care",
     only("prescriber", ok=404)),
    ("patients.care", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/care",
     only("prescriber", ok=302)),
    ("patients.new_course", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/new-course",
     only("prescriber")),
    ("patients.deactivate", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/deactivate",
     only("prescriber", "staff")),
    ("patients.deactivate", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/deactivate",
     only("prescriber", "staff", ok=404, staff=200)),
    ("patients.deactivate", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/deactivate",
     only("prescriber", "staff")),
    ("patients.reissue", "POST",
     lambda w: f"/patients/{w.pat_a.registry_id}/activation-code", only(*PRESCRIBING, ok=302)),
    ("patients.reissue", "POST",
     lambda w: f"/patients/{w.pat_b.registry_id}/activation-code", only(*PRESCRIBING, ok=404)),
    ("pregnancies.report", "GET",
     lambda w: f"/patients/{w.pat_a.registry_id}/report-pregnancy",
     only(*PRESCRIBING, "staff")),
    ("pregnancies.report", "POST",
     lambda w: f"/patients/{w.pat_b.registry_id}/report-pregnancy",
     only(*PRESCRIBING, "staff", ok=404, staff=200)),
    # the patient's own pages
    ("me.home", "GET", lambda w: "/me/", only("patient")),
    ("me.card", "GET", lambda w: "/me/card", only("patient")),
    ("me.history", "GET", lambda w: "/me/history", only("patient")),
    ("cycles.questions", "GET", lambda w: "/me/questions", only("patient")),
    ("cycles.questions", "POST", lambda w: "/me/questions", only("patient")),
    ("cycles.contraception", "GET", lambda w: "/me/contraception", only("patient")),
    ("cycles.contraception", "POST", lambda w: "/me/contraception", only("patient")),
    ("pregnancies.report_self", "GET", lambda w: "/me/report-pregnancy", only("patient")),
    ("pregnancies.report_self", "POST", lambda w: "/me/report-pregnancy", only("patient")),
    # pharmacy
    ("authorizations.authorize", "GET", lambda w: "/pharmacy/authorize", only(*PHARMACY)),
    ("authorizations.authorize", "POST", lambda w: "/pharmacy/authorize", only(*PHARMACY)),
    ("authorizations.recent", "GET", lambda w: "/pharmacy/authorizations", only(*PHARMACY)),
    ("authorizations.recent", "GET", lambda w: f"/pharmacy/authorizations?rma={w.rma2.rma}",
     only(*PHARMACY)),
    ("authorizations.detail", "GET", lambda w: f"/pharmacy/authorizations/{w.rma1.rma}",
     only(*PHARMACY)),
    ("authorizations.detail", "GET", lambda w: f"/pharmacy/authorizations/{w.rma2.rma}",
     only(*PHARMACY, ok=404)),
    ("authorizations.dispense", "POST",
     lambda w: f"/pharmacy/authorizations/{w.rma1.rma}/dispense", only(*PHARMACY)),
    ("authorizations.dispense", "POST",
     lambda w: f"/pharmacy/authorizations/{w.rma2.rma}/dispense", only(*PHARMACY, ok=404)),
    ("authorizations.reverse", "POST",
     lambda w: f"/pharmacy/authorizations/{w.rma1.rma}/reverse", only(*PHARMACY)),
    ("authorizations.reverse", "POST",
     lambda w: f"/pharmacy/authorizations/{w.rma2.rma}/reverse", only(*PHARMACY, ok=404)),
    ("pharmacies.manage", "GET", lambda w: "/pharmacy/", only(*PHARMACY)),
    ("pharmacies.activate", "POST", lambda w: "/pharmacy/activate",
     only("rsp", pharmacist=403)),
    ("pharmacies.add", "POST", lambda w: "/pharmacy/pharmacists", only("rsp", pharmacist=403)),
    ("pharmacies.training", "POST", lambda w: f"/pharmacy/pharmacists/{w.rph1.id}/training",
     only("rsp", pharmacist=403)),
    ("pharmacies.training", "POST", lambda w: f"/pharmacy/pharmacists/{w.rph2.id}/training",
     only(*PHARMACY, ok=404)),
    ("pharmacies.remove", "POST", lambda w: f"/pharmacy/pharmacists/{w.rph2.id}/remove",
     only(*PHARMACY, ok=404)),
    ("pharmacies.remove", "POST", lambda w: f"/pharmacy/pharmacists/{w.rph1.id}/remove",
     only("rsp", ok=302, pharmacist=403)),
    # program staff
    ("staff.dashboard", "GET", lambda w: "/staff/", only("staff")),
    ("staff.search", "GET", lambda w: "/staff/search?q=a", only("staff")),
    ("staff.report", "GET", lambda w: "/staff/report", only("staff")),
    ("staff.audit", "GET", lambda w: "/staff/audit?subject=patient", only("staff")),
    ("staff.audit_csv", "GET", lambda w: "/staff/audit.csv?subject=patient", only("staff")),
    ("staff.report_csv", "GET", lambda w: "/staff/report.csv", only("staff")),
    ("staff.audit_verify", "POST", lambda w: "/staff/audit/verify", only("staff")),
    ("compliance.actions", "GET", lambda w: "/staff/compliance/", only("staff")),
    ("compliance.actions", "POST", lambda w: "/staff/compliance/", only("staff")),
    ("pregnancies.registry", "GET", lambda w: "/staff/pregnancies", only("staff")),
    ("pregnancies.case", "GET", lambda w: f"/staff/pregnancies/{w.report_b.id}",
     only("staff")),
    ("pregnancies.case", "GET", lambda w: "/staff/pregnancies/999999", only("staff", ok=404)),
    ("pregnancies.follow_up", "POST",
     lambda w: f"/staff/pregnancies/{w.report_b.id}/follow-up", only("staff")),
    ("pregnancies.lift", "POST", lambda w: f"/staff/pregnancies/{w.report_b.id}/lift",
     only("staff")),
    # account links and messages
    ("accounts.forgot_password", "GET", lambda w: "/forgot-password", everyone(200)),
    ("accounts.forgot_password", "POST", lambda w: "/forgot-password", everyone(200)),
    ("accounts.reset_password", "GET", lambda w: "/reset-password/not-a-link", everyone(410)),
    ("accounts.reset_password", "POST", lambda w: "/reset-password/not-a-link", everyone(410)),
    ("accounts.confirm_email", "GET", lambda w: "/confirm-email/not-a-link", everyone(410)),
    ("accounts.confirm_email", "POST", lambda w: "/confirm-email/not-a-link", everyone(410)),
    ("notifications.messages", "GET", lambda w: "/messages", only(*SIGNED_IN)),
    ("notifications.read_one", "POST", lambda w: "/messages/999999/read",
     only(*SIGNED_IN, ok=404)),
    ("notifications.preferences", "GET", lambda w: "/preferences", only(*SIGNED_IN)),
    ("notifications.mail_list", "GET", lambda w: "/staff/mail", only("staff")),
    ("notifications.mail_one", "GET", lambda w: "/staff/mail/20260101T000000-00000001.eml",
     only("staff", ok=404)),
    # state-changing rows that succeed go last, so they do not change what the rows above see
    ("notifications.read_all", "POST", lambda w: "/messages/read", only(*SIGNED_IN, ok=302)),
    ("notifications.preferences", "POST", lambda w: "/preferences", only(*SIGNED_IN, ok=302)),
    ("prescribers.unlink", "POST", lambda w: f"/prescriber/designees/{w.des_a.id}/unlink",
     only("prescriber", ok=302)),
    ("auth.logout", "POST", lambda w: "/logout", everyone(302)),
    ("i18n.switch", "POST", lambda w: "/language", everyone(400)),  # no language chosen
]


def forbidden_text(world: World, role: str) -> list[str]:
    """What each role must never see: the other prescriber's patient, the other pharmacy."""
    if role in ("anonymous", "staff"):
        return []
    other = [world.pat_b.registry_id, world.pat_b.last_name, world.rma2.rma, world.ph2.name,
             world.dr_b.user.last_name]
    if role in ("pharmacist", "rsp"):
        other.append(world.rph2.user.last_name)
    return other


def test_every_web_endpoint_is_in_the_matrix(app: Any) -> None:
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint != "static" and not r.rule.startswith("/api/")}
    assert endpoints - {row[0] for row in ROWS} == set()


@pytest.mark.parametrize("role", ROLES)
def test_page_permissions(app: Any, world: World, role: str) -> None:
    client = app.test_client()
    if role != "anonymous":
        login(client, world.users()[role])
    forbidden = forbidden_text(world, role)
    problems = []
    for endpoint, method, url_of, expected in ROWS:
        url = url_of(world)
        if method == "GET":
            response = client.get(url)
        else:
            token = secrets.token_urlsafe(16)
            prefixes = ["", "f-", "l-", f"t{world.rph1.id}-", f"t{world.rph2.id}-"]
            # "confirmed": the second step of a safety act, so that it reaches the operation
            response = client.post(url, data={**{p + "form_token": token for p in prefixes},
                                              "confirmed": "yes"})
        if response.status_code != expected[role]:
            problems.append(f"{method} {url} ({endpoint}): {response.status_code}, "
                            f"expected {expected[role]}")
        if response.status_code == 302 and role == "anonymous" and expected[role] == 302 and (
            endpoint not in ("auth.home", "auth.logout")
        ):
            assert "/login" in response.headers["Location"], url
        if "no-store" not in response.headers.get("Cache-Control", ""):
            problems.append(f"{method} {url} may be cached: no Cache-Control: no-store")
        body = response.get_data(as_text=True)
        # A searched-for value is echoed back to the one who typed it; that shows nothing new.
        leaked = [text for text in forbidden if text in body and text not in url]
        if leaked:
            problems.append(f"{method} {url} shows another's record: {leaked}")
        if response.status_code == 200 and response.mimetype != "text/html":
            # a download (the CSV exports): said to be one, never shown as a page
            if not response.headers.get("Content-Disposition", "").startswith("attachment"):
                problems.append(f"{method} {url} sends {response.mimetype} as a page")
        elif response.status_code == 200:
            ids = re.findall(r'\sid="([^"]+)"', body)
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                problems.append(f"{method} {url} repeats element ids {repeated}")
            if "<h1" not in body or '<html lang="en">' not in body:
                problems.append(f"{method} {url} has no heading or language")
        if endpoint == "auth.logout" and role != "anonymous":
            login(client, world.users()[role])
    assert problems == []
