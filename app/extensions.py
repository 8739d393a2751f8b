"""The extension singletons, created unbound and initialised in create_app()."""
from flask_appbuilder import Model
from flask_appbuilder.utils.legacy import get_sqla_class
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

SQLA = get_sqla_class()
# One metadata for FAB's security tables and ours, so Alembic sees both.
db = SQLA(metadata=Model.metadata)
migrate = Migrate()
mail = Mail()
csrf = CSRFProtect()
