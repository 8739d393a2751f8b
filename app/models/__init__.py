"""Every model, imported once so the metadata is complete (Alembic, create_all)."""
from flask_appbuilder.security.sqla.models import User  # noqa: F401  (FAB's staff accounts)

from .audit import AuditEntry  # noqa: F401
from .calendar import Attendance, Broadcast, Closure, Transfer  # noqa: F401
from .citizen import Citizen, IdentityClaim, Learner, OneTimeCode  # noqa: F401
from .course import Course, FlowTemplate, FlowTemplatePhase, Phase  # noqa: F401
from .notification import DeliveryAttempt, Notification  # noqa: F401
from .payment import Payment, PaymentSlip, Receipt, ReconciliationBatch, SlipSerial  # noqa: F401
from .refund import Refund, RemittanceBatch  # noqa: F401
from .registration import Registration, RegistrationEvent  # noqa: F401
from .staff import StaffProfile  # noqa: F401
from .survey import SurveyResponse  # noqa: F401
from .venue import DiscountRule, Term, Venue  # noqa: F401
