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

from registry.accounts.models import Role
from registry.policy import Permission, holds, open_to_anyone
from tests.web.conftest import World, login

ROLES = ["anonymous", "prescriber", "designee", "pharmacist", "rsp", "patient", "staff"]
SIGNED_IN = ROLES[1:]


def held(ok: int = 200, **special: int) -> dict[str, int]:
    """What a role that holds the page's permission gets: ``ok``, or a record-level
    ``special`` (another prescriber's patient is not found, only the RSP runs the pharmacy).
    Who holds it is the policy's table (registry.policy.HOLDERS); the others are refused at
    the door: 403, and anonymous to the sign-in page (302)."""
    return {"ok": ok, **special}


def expected(app: Any, endpoint: str, row: dict[str, int], role: str) -> int:
    permission = permission_of(app.view_functions[endpoint])
    if role == "anonymous" and not open_to_anyone(permission):
        return 302
    if role != "anonymous" and not holds(ROLE_OF[role], permission):
        return 403
    return row.get(role, row["ok"])


def permission_of(view: Any) -> Permission:
    while getattr(view, "permission", None) is None:
        view = view.__wrapped__
    return view.permission  # type: ignore[no-any-return]


ROLE_OF = {"prescriber": Role.PRESCRIBER, "designee": Role.DESIGNEE,
           "pharmacist": Role.PHARMACIST, "rsp": Role.PHARMACIST, "patient": Role.PATIENT,
           "staff": Role.STAFF}


PRESCRIBING = ("prescriber", "designee")
PHARMACY = ("pharmacist", "rsp")

Row = tuple[str, str, Callable[[World], str], dict[str, int]]

ROWS: list[Row] = [
    ("auth.home", "GET", lambda w: "/", held(ok=302)),
    ("auth.login", "GET", lambda w: "/login", held(ok=200)),
    ("auth.login", "POST", lambda w: "/login", held(ok=200)),
    ("auth.activate", "GET", lambda w: "/activate", held(ok=200)),
    ("auth.activate", "POST", lambda w: "/activate", held(ok=200)),
    ("auth.enroll", "GET", lambda w: "/enroll", held(ok=200)),
    ("auth.enroll", "POST", lambda w: "/enroll", held(ok=200)),
    ("auth.register_pharmacy_page", "GET", lambda w: "/register-pharmacy", held(ok=200)),
    ("auth.register_pharmacy_page", "POST", lambda w: "/register-pharmacy", held(ok=200)),
    # prescriber and designee pages
    ("prescribers.patients", "GET", lambda w: "/prescriber/", held()),
    ("prescribers.attest", "GET", lambda w: "/prescriber/attest", held()),
    ("prescribers.attest", "POST", lambda w: "/prescriber/attest", held()),
    ("prescribers.designee_attest", "GET", lambda w: "/prescriber/designee-attest",
     held()),
    ("prescribers.designee_attest", "POST", lambda w: "/prescriber/designee-attest",
     held()),
    ("prescribers.act_for", "GET", lambda w: "/prescriber/act-for", held()),
    ("prescribers.act_for", "POST", lambda w: "/prescriber/act-for", held()),
    ("prescribers.designees", "GET", lambda w: "/prescriber/designees", held()),
    ("prescribers.designees", "POST", lambda w: "/prescriber/designees", held()),
    ("prescribers.unlink", "POST", lambda w: f"/prescriber/designees/{w.des_b.id}/unlink",
     held(ok=404)),
    ("patients.register", "GET", lambda w: "/patients/new", held()),
    ("patients.register", "POST", lambda w: "/patients/new", held()),
    ("patients.take_on", "GET", lambda w: "/patients/take-on", held()),
    ("patients.take_on", "POST", lambda w: "/patients/take-on", held()),
    ("patients.transfer", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/transfer",
     held(prescriber=403, designee=403)),
    ("patients.transfer", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/transfer",
     held()),
    ("patients.detail", "GET", lambda w: f"/patients/{w.pat_a.registry_id}",
     held()),
    ("patients.detail", "GET", lambda w: f"/patients/{w.pat_b.registry_id}",
     held(ok=404, staff=200)),
    ("patients.detail", "GET", lambda w: "/patients/0000000000",
     held(ok=404)),
    ("patients.card", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/card",
     held()),
    ("patients.card", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/card",
     held(ok=404, staff=200)),
    ("pregnancies.enter_test", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/tests",
     held()),
    ("pregnancies.enter_test", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/tests",
     held()),
    ("pregnancies.enter_test", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/tests",
     held(ok=404)),
    ("cycles.counseling", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/counseling",
     held()),
    ("cycles.counseling", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/counseling",
     held()),
    ("cycles.counseling", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/counseling",
     held(ok=404)),
    ("patients.risk_category", "GET",
     lambda w: f"/patients/{w.pat_a.registry_id}/risk-category", held()),
    ("patients.risk_category", "POST",
     lambda w: f"/patients/{w.pat_a.registry_id}/risk-category", held()),
    ("patients.risk_category", "GET",
     lambda w: f"/patients/{w.pat_b.registry_id}/risk-category", held(ok=404)),
    ("patients.finish", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/end-treatment",
     held()),
    ("patients.finish", "POST", lambda w: f"/patients/{w.pat_b.registry_id}/end-treatment",
     held(ok=404)),
    ("patients.care", "POST", lambda w: f"/patients/{w.pat_b.registry_id}/care",
     held(ok=404)),
    ("patients.care", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/care",
     held(ok=302)),
    ("patients.new_course", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/new-course",
     held()),
    ("patients.deactivate", "GET", lambda w: f"/patients/{w.pat_a.registry_id}/deactivate",
     held()),
    ("patients.deactivate", "GET", lambda w: f"/patients/{w.pat_b.registry_id}/deactivate",
     held(ok=404, staff=200)),
    ("patients.deactivate", "POST", lambda w: f"/patients/{w.pat_a.registry_id}/deactivate",
     held()),
    ("patients.reissue", "POST",
     lambda w: f"/patients/{w.pat_a.registry_id}/activation-code", held(ok=302)),
    ("patients.reissue", "POST",
     lambda w: f"/patients/{w.pat_b.registry_id}/activation-code", held(ok=404)),
    ("pregnancies.report", "GET",
     lambda w: f"/patients/{w.pat_a.registry_id}/report-pregnancy",
     held()),
    ("pregnancies.report", "POST",
     lambda w: f"/patients/{w.pat_b.registry_id}/report-pregnancy",
     held(ok=404, staff=200)),
    # the patient's own pages
    ("me.home", "GET", lambda w: "/me/", held()),
    ("me.card", "GET", lambda w: "/me/card", held()),
    ("me.history", "GET", lambda w: "/me/history", held()),
    ("cycles.questions", "GET", lambda w: "/me/questions", held()),
    ("cycles.questions", "POST", lambda w: "/me/questions", held()),
    ("cycles.contraception", "GET", lambda w: "/me/contraception", held()),
    ("cycles.contraception", "POST", lambda w: "/me/contraception", held()),
    ("pregnancies.report_self", "GET", lambda w: "/me/report-pregnancy", held()),
    ("pregnancies.report_self", "POST", lambda w: "/me/report-pregnancy", held()),
    # pharmacy
    ("authorizations.authorize", "GET", lambda w: "/pharmacy/authorize", held()),
    ("authorizations.authorize", "POST", lambda w: "/pharmacy/authorize", held()),
    ("authorizations.recent", "GET", lambda w: "/pharmacy/authorizations", held()),
    ("authorizations.recent", "GET", lambda w: f"/pharmacy/authorizations?rma={w.rma2.rma}",
     held()),
    ("authorizations.detail", "GET", lambda w: f"/pharmacy/authorizations/{w.rma1.rma}",
     held()),
    ("authorizations.detail", "GET", lambda w: f"/pharmacy/authorizations/{w.rma2.rma}",
     held(ok=404)),
    ("authorizations.dispense", "POST",
     lambda w: f"/pharmacy/authorizations/{w.rma1.rma}/dispense", held()),
    ("authorizations.dispense", "POST",
     lambda w: f"/pharmacy/authorizations/{w.rma2.rma}/dispense", held(ok=404)),
    ("authorizations.reverse", "POST",
     lambda w: f"/pharmacy/authorizations/{w.rma1.rma}/reverse", held()),
    ("authorizations.reverse", "POST",
     lambda w: f"/pharmacy/authorizations/{w.rma2.rma}/reverse", held(ok=404)),
    ("pharmacies.manage", "GET", lambda w: "/pharmacy/", held()),
    ("pharmacies.activate", "POST", lambda w: "/pharmacy/activate",
     held(pharmacist=403)),
    ("pharmacies.add", "POST", lambda w: "/pharmacy/pharmacists", held(pharmacist=403)),
    ("pharmacies.training", "POST", lambda w: f"/pharmacy/pharmacists/{w.rph1.id}/training",
     held(pharmacist=403)),
    ("pharmacies.training", "POST", lambda w: f"/pharmacy/pharmacists/{w.rph2.id}/training",
     held(ok=404)),
    ("pharmacies.remove", "POST", lambda w: f"/pharmacy/pharmacists/{w.rph2.id}/remove",
     held(ok=404)),
    ("pharmacies.remove", "POST", lambda w: f"/pharmacy/pharmacists/{w.rph1.id}/remove",
     held(ok=302, pharmacist=403)),
    # program staff
    ("staff.dashboard", "GET", lambda w: "/staff/", held()),
    ("staff.search", "GET", lambda w: "/staff/search?q=a", held()),
    ("staff.report", "GET", lambda w: "/staff/report", held()),
    ("staff.audit", "GET", lambda w: "/staff/audit?subject=patient", held()),
    ("staff.audit_csv", "GET", lambda w: "/staff/audit.csv?subject=patient", held()),
    ("staff.report_csv", "GET", lambda w: "/staff/report.csv", held()),
    ("staff.audit_verify", "POST", lambda w: "/staff/audit/verify", held()),
    ("pharmacy_systems.systems", "GET", lambda w: "/staff/pharmacy-systems/", held()),
    ("pharmacy_systems.register", "POST", lambda w: "/staff/pharmacy-systems/", held()),
    ("pharmacy_systems.rotate", "POST", lambda w: "/staff/pharmacy-systems/999999/credential",
     held(ok=404)),
    ("pharmacy_systems.deactivate", "POST",
     lambda w: "/staff/pharmacy-systems/999999/deactivate", held(ok=404)),
    ("compliance.actions", "GET", lambda w: "/staff/compliance/", held()),
    ("compliance.actions", "POST", lambda w: "/staff/compliance/", held()),
    ("pregnancies.registry", "GET", lambda w: "/staff/pregnancies", held()),
    ("ehr_systems.systems", "GET", lambda w: "/staff/systems/", held()),
    ("ehr_systems.systems", "POST", lambda w: "/staff/systems/", held()),  # form errors shown
    ("ehr_systems.system", "GET", lambda w: "/staff/systems/999999", held(ok=404)),
    ("ehr_systems.system", "POST", lambda w: "/staff/systems/999999", held(ok=404)),
    # the CDS Hooks doors: open at the door; a call without the EHR's signed JWT is 401
    ("cds.discovery", "GET", lambda w: "/cds-services", held()),
    ("cds.call", "POST", lambda w: "/cds-services/isotretinoin-order-sign", held(ok=401)),
    ("pregnancies.case", "GET", lambda w: f"/staff/pregnancies/{w.report_b.id}",
     held()),
    ("pregnancies.case", "GET", lambda w: "/staff/pregnancies/999999", held(ok=404)),
    ("pregnancies.follow_up", "POST",
     lambda w: f"/staff/pregnancies/{w.report_b.id}/follow-up", held()),
    ("pregnancies.lift", "POST", lambda w: f"/staff/pregnancies/{w.report_b.id}/lift",
     held()),
    # account links and messages
    ("accounts.forgot_password", "GET", lambda w: "/forgot-password", held(ok=200)),
    ("accounts.forgot_password", "POST", lambda w: "/forgot-password", held(ok=200)),
    ("accounts.reset_password", "GET", lambda w: "/reset-password/not-a-link", held(ok=410)),
    ("accounts.reset_password", "POST", lambda w: "/reset-password/not-a-link", held(ok=410)),
    ("accounts.confirm_email", "GET", lambda w: "/confirm-email/not-a-link", held(ok=410)),
    ("accounts.confirm_email", "POST", lambda w: "/confirm-email/not-a-link", held(ok=410)),
    ("notifications.messages", "GET", lambda w: "/messages", held()),
    ("notifications.read_one", "POST", lambda w: "/messages/999999/read",
     held(ok=404)),
    ("notifications.preferences", "GET", lambda w: "/preferences", held()),
    ("notifications.mail_list", "GET", lambda w: "/staff/mail", held()),
    ("notifications.mail_one", "GET", lambda w: "/staff/mail/20260101T000000-00000001.eml",
     held(ok=404)),
    # state-changing rows that succeed go last, so they do not change what the rows above see
    ("notifications.read_all", "POST", lambda w: "/messages/read", held(ok=302)),
    ("notifications.preferences", "POST", lambda w: "/preferences", held(ok=302)),
    ("prescribers.unlink", "POST", lambda w: f"/prescriber/designees/{w.des_a.id}/unlink",
     held(ok=302)),
    ("auth.logout", "POST", lambda w: "/logout", held(ok=302)),
    ("i18n.switch", "POST", lambda w: "/language", held(ok=400)),  # no language chosen
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


# Doors for other systems, not pages: they authenticate the system itself (no sign-in, no
# cookie) and are tested with it (tests/interop). The FHIR door declares its permission as a
# page does (its callers hold API tokens of our roles).
MACHINE_DOORS = ("/api/", "/ncpdp/")


def test_every_page_declares_its_permission(app: Any) -> None:
    """Every page says which permission it needs (``@requires``), so the table decides."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and not rule.rule.startswith(MACHINE_DOORS):
            assert isinstance(permission_of(app.view_functions[rule.endpoint]), Permission)


# Every door for other systems answers 401, never the sign-in page; their roles are tried in
# tests/interop.
DOORS = (*MACHINE_DOORS, "/fhir/")


def test_every_web_endpoint_is_in_the_matrix(app: Any) -> None:
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint != "static" and not r.rule.startswith(DOORS)}
    assert endpoints - {row[0] for row in ROWS} == set()


@pytest.mark.parametrize("role", ROLES)
def test_page_permissions(app: Any, world: World, role: str) -> None:
    client = app.test_client()
    if role != "anonymous":
        login(client, world.users()[role])
    forbidden = forbidden_text(world, role)
    problems = []
    for endpoint, method, url_of, row in ROWS:
        want = expected(app, endpoint, row, role)
        url = url_of(world)
        if method == "GET":
            response = client.get(url)
        else:
            token = secrets.token_urlsafe(16)
            prefixes = ["", "f-", "l-", f"t{world.rph1.id}-", f"t{world.rph2.id}-"]
            # "confirmed": the second step of a safety act, so that it reaches the operation
            response = client.post(url, data={**{p + "form_token": token for p in prefixes},
                                              "confirmed": "yes"})
        if response.status_code != want:
            problems.append(f"{method} {url} ({endpoint}): {response.status_code}, "
                            f"expected {want}")
        if response.status_code == 302 and role == "anonymous" and want == 302 and (
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
        if url.startswith("/cds-services"):
            # The CDS Hooks doors answer EHRs in JSON, never a page (and never HTML).
            if response.mimetype != "application/json":
                problems.append(f"{method} {url} answers {response.mimetype}, not JSON")
        elif response.status_code == 200 and response.mimetype != "text/html":
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
