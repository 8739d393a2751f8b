"""Identity types for discounts (身分別) and which of them need a clerk's verification."""
from flask_babel import lazy_gettext as _l

IDENTITIES = {
    "low_income": _l("Low-income household"),        # 低收入戶
    "middle_low_income": _l("Middle-low-income household"),  # 中低收入戶
    "disabled": _l("Person with disabilities"),       # 身心障礙
    "senior": _l("Senior (65+)"),                     # 樂齡
    "returning": _l("Returning student"),             # 舊生
    "indigenous": _l("Indigenous person"),            # 原住民
}
#: Computed by the system (age, history); never claimed.
AUTOMATIC = {"senior", "returning"}
#: Claimed with an uploaded proof; count only once a clerk of the venue verified it.
NEEDS_PROOF = {"low_income", "middle_low_income", "disabled", "indigenous"}


def label(identity: str) -> str:
    return str(IDENTITIES.get(identity, identity))
