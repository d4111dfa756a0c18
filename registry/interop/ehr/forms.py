"""The staff form for an EHR system: the key set pasted as JSON, NPIs one per line."""

from __future__ import annotations

from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.web.support import OneTimeForm


class EhrSystemForm(OneTimeForm):
    name = StringField("Name")
    issuer = StringField("Issuer (iss)", description="Exactly as the EHR writes it in its JWTs.")
    client_id = StringField("Client id")
    jwks_text = TextAreaField("Public keys (JWK Set, JSON)",
                              description='{"keys": [...]}: public keys only, never a private '
                              "key.")
    fhir_base_url = StringField("FHIR server (fhirServer)")
    npis_text = TextAreaField("Prescribers served (NPIs)", validators=[Optional()],
                              description="One NPI per line (or separated by commas).")


class EhrSystemEditForm(EhrSystemForm):
    issuer = StringField("Issuer (iss)", render_kw={"readonly": True},
                         description="Fixed: another issuer is another system.")
    active = BooleanField("Active", description="Unticked: the system's calls are refused.")
