"""Flask extension singletons, bound to the app in ``create_app``."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from tracker.core.db import Base
from tracker.core.translations import TrackerBabel

db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = TrackerBabel()
# Limits are declared per route (login only); no global default limit.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
