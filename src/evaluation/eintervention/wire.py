"""The answers of the rules as the lot 1 OpenAPI description puts them on the wire.

The rules (:mod:`.rules`) answer with the codes of the log files' answers, which
include the §6 rejections the lot 1 tables do not have (MAUVAIS_OI,
CODE_DO_INCONNU, CODE_OC_INCONNU). The OpenAPI response bodies
(``reponse_Intervention_DO``, ``reponse_Client_HS_OC_Par_Inter``) allow only the lot 1
codes, so over HTTP:

| rules' code | HTTP | body |
|---|---|---|
| 0 OK | 200 | the answer (``Ref_Interv_OI`` for M1/M3) |
| 1 CHAMPS_NON_RENSEIGNE, 2 MAUVAIS_FORMAT | 400 | the answer |
| M1/M3 3 CODE_OI_INCONNU, 4 PM_INCONNU; M5 3 REF_INTERV_OI_INCONNUE | 404 | the answer |
| M1/M3 5 MAUVAIS_OI | 404 | code 3 CODE_OI_INCONNU, description starting ``MAUVAIS_OI:`` |
| M1/M3 6 CODE_DO_INCONNU, M5 4 CODE_OC_INCONNU | 403 | the rules' answer (the spec gives 403 no body schema) |

Spec §6 says why 400 for codes 1 and 2 ("un code HTTP 400 remonte la même
information"). The store keeps the rules' answer (the ``messages`` table is the same
as for a log file); the journal keeps the HTTP status sent.
"""
from __future__ import annotations

from .fields import DESCRIPTION_MAX, OK, WRONG_OI
from .rules import Answer

FORBIDDEN_CODES = {"M5": {4}, "M1": {6}, "M3": {6}}


def http_status(kind: str | None, code: int) -> int:
    """The HTTP status of an answer with ``code`` to a message of ``kind``."""
    if code == OK:
        return 200
    if code in (1, 2):
        return 400
    if code in FORBIDDEN_CODES.get(kind or "M1", ()):
        return 403
    return 404


def body(kind: str | None, answer: Answer) -> dict:
    """The JSON body of the answer, within the OpenAPI response schema of its status."""
    code, libelle, text = answer.code, answer.libelle, answer.description
    if kind != "M5" and code == WRONG_OI:
        code, libelle = 3, "CODE_OI_INCONNU"
        text = f"MAUVAIS_OI: {text}"
        if len(text) > DESCRIPTION_MAX:
            text = text[:DESCRIPTION_MAX - 1] + "…"
    out: dict = {"Code_Reponse": code, "Libelle_Reponse": libelle}
    if text:
        out["Description_Reponse"] = text
    if kind != "M5" and code == OK:
        out["Ref_Interv_OI"] = answer.ref_interv_oi
    return out
