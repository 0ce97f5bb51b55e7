"""The test run's settings: the product's own (webapp.settings) in development mode.

DEBUG is off unless set (webapp.env.debug_mode); tests run the development configuration
(a dev SECRET_KEY, no HTTPS redirect) unless the environment sets DEBUG. pytest-django still
runs each test with settings.DEBUG False, and the processes tests start inherit DEBUG=1.
Production mode has its own tests (test_settings.py, test_security.py, test_error_pages.py).
"""

import os

os.environ.setdefault("DEBUG", "1")

from webapp.settings import *  # noqa: F403
