"""Spanish and English: every page a patient sees, in Spanish with nothing left in English;
the language switch, Accept-Language, the stored choice, dates, and the question bank."""

from __future__ import annotations

import ast
import functools
import re
from datetime import date
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.accounts.models import Role, User
from registry.audit.models import AuditEntry
from registry.authorizations.models import AuthorizationStatus
from registry.cycles.models import ComprehensionAttempt
from registry.cycles.operations import bank_data, comprehension_questions
from registry.i18n.words import BUILT_STEPS, SHOWN_AS_STORED
from registry.patients.models import Patient
from registry.patients.schemas import TreatmentEnding
from registry.pregnancies.models import (
    PregnancyOutcome,
    PregnancyTestPurpose,
    PregnancyTestResult,
    PregnancyTestSetting,
)
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from registry.rules import fmt
from tests import factories as f
from tests.web.conftest import login

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "translations/es/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
SPANISH = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}

# Where the words a patient reads are written: every message found there needs Spanish.
PATIENT_SOURCES = [
    "templates/base.html", "templates/_forms.html", "templates/_decision.html",
    "templates/error.html", "templates/confirm.html", "templates/auth/login.html",
    "templates/auth/activate.html", "templates/patients/home.html",
    "templates/patients/card.html", "templates/patients/history.html",
    "templates/patients/_history.html", "templates/cycles/questions.html",
    "templates/cycles/contraception.html", "templates/cycles/_methods.html",
    "templates/pregnancies/report.html",
    "registry/web/timeline.py", "registry/cycles/forms.py", "registry/cycles/views.py",
    "registry/cycles/operations.py", "registry/rules/contraception.py",
    "registry/i18n/words.py", "registry/web/support.py", "registry/security.py",
    "registry/validation.py",
]
METHODS = {
    "templates/": "jinja2", "registry/rules/": "registry.i18n.extract.extract_program_text",
    "registry/cycles/operations.py": "registry.i18n.extract.extract_program_text",
    "registry/security.py": "registry.i18n.extract.extract_program_text",
    "registry/validation.py": "registry.i18n.extract.extract_program_text",
}

# Words of English that are not Spanish words: one of them on a Spanish page is a string
# nobody translated.
_ENGLISH_WORDS = """
the your you and with this that is are was not of to for be will has have from by on at
it its an or if what when which who how there their they them our we my please sign
answer enter choose check nothing today next home card history yes none passed wrong
"""
ENGLISH = frozenset(_ENGLISH_WORDS.split())


# --- reading a page as a person does ----------------------------------------------------


class VisibleText(HTMLParser):
    """The text a person reads (and a screen reader announces): text nodes, the title, and
    aria-label / placeholder / data-label attributes; not scripts, styles, nor an element
    marked as another language (the switch's "English" is meant to be in English)."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                      "meta", "source", "track", "wbr", "path", "rect"})
    ATTRIBUTES = ("aria-label", "placeholder", "data-label", "title")

    def __init__(self, language: str) -> None:
        super().__init__(convert_charrefs=True)
        self.language = language
        self.hidden = 0
        self.stack: list[bool] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        other = (a.get("lang") or self.language) != self.language or tag in ("script", "style")
        if not (self.hidden or other):
            self.parts += [str(a[k]) for k in self.ATTRIBUTES if a.get(k)]
        if tag in self.VOID or tag.endswith("/"):
            return
        self.stack.append(other)
        self.hidden += other

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if not self.hidden:
            self.parts += [str(a[k]) for k in self.ATTRIBUTES if a.get(k)]

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or not self.stack:
            return
        self.hidden -= self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.parts.append(" ".join(data.split()))


def visible(html: str, language: str = "es") -> list[str]:
    parser = VisibleText(language)
    parser.feed(html)
    return parser.parts


def english_left(html: str, known: set[str]) -> list[str]:
    """Pieces of visible text that are still English: an English-only word, or a whole
    English message of the catalog. Names and ids of the test world are ``known``."""
    found = []
    for part in visible(html):
        words = {w for w in re.findall(r"[A-Za-z]+", part) if w not in known}
        if {w.lower() for w in words} & ENGLISH:
            found.append(part)
    return found


def catalog() -> Any:
    with PO.open("rb") as handle:
        return read_po(handle, locale="es")


@functools.cache
def _translated_phrases() -> tuple[str, ...]:
    """The catalog's msgids of two words or more, without placeholders, whose Spanish
    differs (read once: every page the walks check looks for each of them)."""
    return tuple(m.id for m in catalog() if isinstance(m.id, str) and m.id and m.string
                 and m.string != m.id and " " in m.id.strip() and "%(" not in m.id)


def untranslated_catalog_text(html: str) -> list[str]:
    """English msgids (of two words or more, without placeholders) shown as they are."""
    text = "\n".join(visible(html))
    return [phrase for phrase in _translated_phrases() if phrase in text]


def page(client: FlaskClient, url: str, *, data: dict[str, Any] | None = None,
         status: int = 200) -> str:
    response = client.post(url, data=data) if data is not None else client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def spanish_client(app: Any) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = SPANISH["Accept-Language"]
    return client


def assert_all_spanish(html: str, known: set[str], where: str) -> None:
    assert '<html lang="es">' in html, where
    assert english_left(html, known) == [], where
    assert untranslated_catalog_text(html) == [], where


# --- the catalog -----------------------------------------------------------------------


def test_the_compiled_catalog_is_the_po_file():
    """messages.mo (what the app reads) says exactly what messages.po says: `make
    translations` was run after the last edit of the .po."""
    with MO.open("rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    written = {m.id: m.string for m in catalog() if m.id and m.string and not m.fuzzy}
    assert compiled == written


def _extracted(path: str) -> list[tuple[str, list[str]]]:
    method = next((m for prefix, m in METHODS.items() if path.startswith(prefix)), "python")
    keywords = {"_": None, "gettext": None, "N_": None, "_l": None, "lazy_gettext": None,
                "ngettext": (1, 2)}
    return [(message if isinstance(message, str) else message[0], comments)
            for _, message, comments, _ in extract_from_file(
                method, str(ROOT / path), keywords=keywords, comment_tags=())]


def test_every_patient_facing_message_has_spanish():
    po = {m.id: m for m in catalog() if m.id}
    missing = []
    for path in PATIENT_SOURCES:
        for message, _ in _extracted(path):
            entry = po.get(message)
            if entry is None or not entry.string:
                missing.append(f"{path}: {message!r}")
    assert missing == [], "run `make translations` and translate:\n" + "\n".join(missing)


def test_every_next_step_of_the_rules_has_spanish():
    """The next steps are read by the patient (home page, timeline, the one sentence)."""
    po = {m.id: m for m in catalog() if m.id}
    steps = [m for path in sorted((ROOT / "registry/rules").glob("*.py"))
             for m, comments in _extracted(str(path.relative_to(ROOT)))
             if "next step" in comments]
    assert len(steps) >= 20
    assert [s for s in steps if not (po.get(s) and po[s].string)] == []


def test_every_step_the_rules_build_from_parts_is_in_the_catalog():
    """A step built from parts (``wording.step_new_cycle_test``: "Enter a new {next_test}
    pregnancy test{setting_hint}.") has its finished sentences in registry/i18n/words.py,
    each with Spanish."""
    po = {m.id: m for m in catalog() if m.id}
    built = []
    for path in sorted((ROOT / "registry/rules").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.FunctionDef) and node.name.startswith("step_")
                    and isinstance(node.body[-1], ast.Return)
                    and isinstance(node.body[-1].value, ast.JoinedStr)):
                built.append(node.body[-1].value)
    assert built, "the rules have steps built from parts"
    for joined in built:
        pattern = "".join(re.escape(v.value) if isinstance(v, ast.Constant) else ".*"
                          for v in joined.values)
        matching = [s for s in BUILT_STEPS if re.fullmatch(pattern, s)]
        assert matching, f"no sentence of words.BUILT_STEPS matches {pattern}"
        assert all(po.get(s) and po[s].string for s in matching)


def test_every_stored_word_shown_to_a_patient_is_in_the_catalog():
    po = {m.id: m for m in catalog() if m.id}
    vocabularies = [Role, PregnancyTestResult, PregnancyTestSetting, PregnancyTestPurpose,
                    AuthorizationStatus, PregnancyOutcome]
    for vocabulary in vocabularies:
        for value in vocabulary:
            shown = value.value.replace("_", " ")
            assert shown in SHOWN_AS_STORED, shown
            assert po[shown].string, shown


def test_the_catalog_has_every_message_of_the_code(tmp_path):
    """A string wrapped since the last `make translations` is missing from messages.po."""
    from babel.messages.frontend import CommandLineInterface

    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"),
                                "-k", "_l", "-o", str(pot), str(ROOT)])
    with pot.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    have = {m.id for m in catalog() if m.id}
    assert wanted - have == set(), "run `make translations`"


# --- dates -----------------------------------------------------------------------------


def test_dates_in_spanish_and_english():
    assert fmt(date(2026, 3, 3)) == "Tue 3 Mar 2026"
    assert fmt(date(2026, 3, 3), "en") == "Tue 3 Mar 2026"
    assert fmt(date(2026, 3, 3), "es") == "mar 3 de marzo de 2026"
    assert fmt(date(2026, 12, 10), "es") == "jue 10 de diciembre de 2026"
    assert fmt(date(2026, 9, 6), "es") == "dom 6 de septiembre de 2026"


# --- the walk: every page a patient sees -------------------------------------------------


def _known(patient: Patient) -> set[str]:
    return {patient.first_name, patient.last_name, "Pat", "Ient", "RMA", "QR", "ID", "DIU",
            "English", "Dr", "Alder", "Birch", "Pharmacy", "Registry", "Error", "Ph"}


def _walk(client: FlaskClient, patient: Patient, known: set[str], state: str) -> int:
    pages = 0
    for url in ("/me/", "/me/card", "/me/history", "/me/questions", "/me/contraception",
                "/me/report-pregnancy"):
        assert_all_spanish(page(client, url), known, f"{state}: {url}")
        pages += 1
    return pages


def test_every_patient_page_is_in_spanish(app, session: Session, clock):
    """A patient's pages, in every state a cycle goes through, with their errors and
    messages: no English word, and no message of the catalog left in English."""
    clock.to("2026-03-02")
    dr = f.prescriber(session, last_name="Alder")
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr, first_name="Avery", last_name="Applewood")
    known = _known(p) | {"Avery", "Applewood", ph.name, *ph.name.split()}
    client = spanish_client(app)

    # Before sign-in: the sign-in and activation pages, with their errors, and a 404.
    assert_all_spanish(page(client, "/login"), known, "login")
    html = page(client, "/login", data={"email": "nobody@example.org", "password": "x"})
    assert "Correo electrónico o contraseña incorrectos." in html
    assert_all_spanish(html, known, "login failed")
    assert_all_spanish(page(client, "/activate"), known, "activate")
    html = page(client, "/activate", data={"registry_id": "123", "activation_code": "x",
                                           "password": "short", "form_token": "t1"})
    assert_all_spanish(html, known, "activation errors")
    assert_all_spanish(page(client, "/no-such-page", status=404), known, "404")
    assert client.get("/me/").headers["Location"].startswith("/login")

    # Screening entered: waiting for the confirmation test.
    f.enter_test(session, p)
    login(client, p.user)
    walked = _walk(client, p, known, "screening")
    html = page(client, "/me/")
    assert "Lo siguiente, su médico:" in html  # the next step and its first day, in Spanish
    assert "Introducir la prueba de embarazo de confirmación (laboratorio o consultorio)." in html

    # Confirmation and counseling: the questions and the contraception are open.
    clock.forward(days=30)
    f.enter_test(session, p)
    f.counsel(session, p)
    session.flush()
    login(client, p.user)  # a month later: the earlier sign-in has timed out
    walked += _walk(client, p, known, "cycle open")
    _, asked = comprehension_questions(session, p.user)
    wrong = {f"q_{q.id}": next(c["id"] for c in q.choices if c["id"] != q.correct_choice)
             for q in asked}
    html = page(client, "/me/questions", data={**wrong, "form_token": "t2"})
    assert "respuestas no son correctas" in html
    assert_all_spanish(html, known, "questions wrong")
    html = page(client, "/me/questions", data={"form_token": "t3"})  # nothing answered
    assert_all_spanish(html, known, "questions unanswered")
    html = page(client, "/me/contraception", data={"method_1": "iud", "form_token": "t4"})
    assert "Elija exactamente dos métodos" in html
    assert_all_spanish(html, known, "contraception errors")
    response = client.post("/me/contraception", data={
        "method_1": "iud", "method_2": "vaginal_sponge", "form_token": "t5"},
        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Su anticoncepción no coincide" in html
    assert_all_spanish(html, known, "contraception mismatch")
    response = client.post("/me/questions", data={
        **{f"q_{q.id}": q.correct_choice for q in asked}, "form_token": "t6"},
        follow_redirects=True)
    assert "Aprobó: todas las respuestas son correctas." in response.get_data(as_text=True)
    f.attest(session, p)

    # Authorized and waiting at the pharmacy.
    outcome = f.authorize(session, rph, p)
    assert outcome.authorization is not None
    session.flush()
    walked += _walk(client, p, known, "authorized")
    assert "Su receta está autorizada y le espera en la farmacia" in page(client, "/me/")
    f.dispense(session, rph, outcome)
    session.flush()
    walked += _walk(client, p, known, "dispensed")

    # Reporting a pregnancy: the confirmation page, then every page blocked.
    html = page(client, "/me/report-pregnancy", data={"reported_on": "2026-04-01",
                                                      "form_token": "t7"})
    assert "Está a punto de notificar que puede estar embarazada." in html
    assert_all_spanish(html, known, "report confirm")
    report_pregnancy(session, dr.user, p, PregnancyReportInput(reported_on=clock_today()))
    session.flush()
    walked += _walk(client, p, known, "pregnancy reported")
    assert walked == 30


def clock_today() -> date:
    from registry import clock

    return clock.today()


def test_the_walk_finds_english(app, session: Session, clock):
    """The walk's check is not blind: the same page in English fails it."""
    clock.to("2026-03-02")
    p = f.patient(session, f.prescriber(session))
    f.enter_test(session, p)
    client = app.test_client()
    login(client, p.user)
    html = page(client, "/me/")
    assert english_left(html.replace('lang="en"', 'lang="es"'), _known(p))
    assert untranslated_catalog_text(html.replace('lang="en"', 'lang="es"'))


def test_a_patient_who_cannot_get_pregnant_reads_spanish(app, session: Session, clock):
    clock.to("2026-03-02")
    p = f.patient(session, f.prescriber(session), can_get_pregnant=False)
    f.counsel(session, p)
    client = spanish_client(app)
    login(client, p.user)
    known = _known(p)
    for url in ("/me/", "/me/questions", "/me/contraception", "/me/history", "/me/card"):
        assert_all_spanish(page(client, url), known, url)
    assert "No necesita introducir anticoncepción" in page(client, "/me/contraception")


def test_the_end_of_treatment_timeline_in_spanish(app, session: Session, clock):
    from registry.patients.operations import end_treatment

    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    f.ready_for_first_prescription(session, p, clock)
    end_treatment(session, dr.user, p, TreatmentEnding(last_dose_on=clock_today()))
    session.flush()
    client = spanish_client(app)
    login(client, p.user)
    html = page(client, "/me/")
    assert "Última dosis" in html
    assert "Siga usando anticoncepción hasta este día" in html
    assert_all_spanish(html, _known(p), "treatment ended")


# --- choosing the language ---------------------------------------------------------------


def test_the_browser_language_before_sign_in(client):
    english = client.get("/login", headers={"Accept-Language": "fr, en;q=0.5"})
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "<h1>Sign in</h1>" in english.get_data(as_text=True)
    spanish = client.get("/login", headers=SPANISH)
    html = spanish.get_data(as_text=True)
    assert '<html lang="es">' in html
    assert "<h1>Iniciar sesión</h1>" in html
    assert 'data-testid="language-en"' in html  # the switch offers the other language
    neither = client.get("/login", headers={"Accept-Language": "de"})
    assert '<html lang="en">' in neither.get_data(as_text=True)


def test_the_switch_before_sign_in_is_kept_in_the_session(client):
    response = client.post("/language", data={"language": "es", "next": "/activate"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/activate"
    html = page(client, "/activate")
    assert "<h1>Active su cuenta</h1>" in html  # the choice beats the browser (English here)
    client.post("/language", data={"language": "en", "next": "/login"})
    assert "<h1>Sign in</h1>" in page(client, "/login")


@pytest.mark.parametrize("bad", ["fr", "", "es; DROP"])
def test_the_switch_refuses_other_languages(client, bad):
    response = client.post("/language", data={"language": bad})
    assert response.status_code == 400
    assert "Language: choose one of English, Español." in response.get_data(as_text=True)


def test_the_switch_refuses_to_leave_the_site(client):
    response = client.post("/language", data={"language": "es",
                                              "next": "https://elsewhere.example/"})
    assert response.headers["Location"] == "/"


def test_a_signed_in_patient_s_choice_is_stored_and_follows_them(app, session: Session, clock):
    clock.to("2026-03-02")
    p = f.patient(session, f.prescriber(session))
    f.enter_test(session, p)
    client = app.test_client()
    login(client, p.user)
    assert "Where you are now" in page(client, "/me/")
    response = client.post("/language", data={"language": "es", "next": "/me/"})
    assert response.headers["Location"] == "/me/"
    user = session.get(User, p.user_id)
    assert user is not None
    session.refresh(user)
    assert user.language == "es"
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "user:language")).scalars().one()
    assert (entry.user_id, entry.subject_id) == (user.id, str(user.id))
    assert (entry.before, entry.after) == ({"language": None}, {"language": "es"})

    # Another browser, in English: the stored choice wins once signed in.
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    assert "<h1>Sign in</h1>" in page(other, "/login")
    login(other, p.user)
    html = page(other, "/me/")
    assert '<html lang="es">' in html
    assert "Dónde está ahora" in html
    # Choosing the same language again records nothing new.
    other.post("/language", data={"language": "es"})
    assert len(session.execute(select(AuditEntry).where(
        AuditEntry.action == "user:language")).scalars().all()) == 1


def test_the_language_chosen_before_sign_in_survives_signing_in_and_out(app, session, clock):
    clock.to("2026-03-02")
    p = f.patient(session, f.prescriber(session))
    client = app.test_client()
    client.post("/language", data={"language": "es"})
    login(client, p.user)
    assert '<html lang="es">' in page(client, "/me/")
    response = client.post("/logout", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Ha cerrado la sesión." in html
    assert '<html lang="es">' in html


def test_the_api_stays_in_english(client):
    """Accept-Language does not change the API: its messages are the rules' English."""
    response = client.post("/api/v1/tokens", json={"email": "nobody@example.org",
                                                    "password": "not-this-one"}, headers=SPANISH)
    assert response.status_code == 401
    assert response.get_json()["detail"] == "Wrong email or password."
    response = client.post("/api/v1/tokens", json={}, headers=SPANISH)
    assert response.get_json()["errors"]["email"] == ["This field is required."]


# --- the question bank -------------------------------------------------------------------


def test_the_bank_has_every_question_in_spanish_with_the_same_choices():
    data = bank_data()
    assert data["languages"] == ["en", "es"]
    for q in data["questions"]:
        es = q["es"]
        assert es["text"], q["key"]
        assert es["explanation"], q["key"]
        assert [c["id"] for c in es["choices"]] == [c["id"] for c in q["choices"]], q["key"]
        assert es["text"] != q["text"]
        assert all(c["text"] for c in es["choices"])


def test_questions_are_served_in_the_patient_s_language_and_scored_the_same(
        app, session: Session, clock):
    clock.to("2026-03-02")
    p = f.patient(session, f.prescriber(session))
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    f.counsel(session, p)
    session.flush()
    _, asked = comprehension_questions(session, p.user)
    client = spanish_client(app)
    login(client, p.user)
    html = page(client, "/me/questions")
    for q in asked:
        spanish = q.in_language("es")
        assert spanish["text"] in unescape(html)
        assert q.text not in html
        for choice in spanish["choices"]:
            assert choice["text"] in unescape(html)
    answers = {f"q_{q.id}": q.correct_choice for q in asked}
    response = client.post("/me/questions", data={**answers, "form_token": "es-1"})
    assert response.status_code == 302
    attempt = session.execute(select(ComprehensionAttempt).where(
        ComprehensionAttempt.patient_id == p.id)).scalars().one()
    assert attempt.passed
    assert attempt.answers == {str(q.id): q.correct_choice for q in asked}
    english = app.test_client()
    login(english, p.user)
    html = page(english, "/me/questions")
    assert all(q.text in unescape(html) for q in asked)


def test_a_message_written_outside_a_request_uses_the_user_s_language(app, session, clock):
    """What notifications use: force_locale with the user's stored language."""
    from flask_babel import force_locale, gettext

    from registry.i18n import current_language, language_of, text
    from registry.rules.reasons import NextStep
    from registry.web.timeline import step_when

    clock.to("2026-03-02")
    p = f.patient(session, f.prescriber(session))
    assert p.user is not None
    assert language_of(p.user) == "en"
    p.user.language = "es"
    step = NextStep("patient", "Answer this month's comprehension questions.",
                    due_on=date(2026, 3, 3))
    with force_locale(language_of(p.user)):
        assert current_language() == "es"
        assert text(step.action) == "Responder las preguntas de comprensión de este mes."
        assert step_when(step) == "a más tardar el mar 3 de marzo de 2026"
        assert gettext("You are signed out.") == "Ha cerrado la sesión."
        assert text("Use at least 12 characters.") == "Use al menos 12 caracteres."
    assert current_language() == "en"
    assert step_when(step) == "by Tue 3 Mar 2026"
