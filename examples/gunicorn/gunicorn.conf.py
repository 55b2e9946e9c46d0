"""gunicorn's settings: loopback only, threads, a drain on SIGTERM, JSON logs."""
import os

from guestbook.config import load_port
from guestbook.logs import LOGGING

bind = f"127.0.0.1:{load_port(os.environ)}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
# The app is imported once, in the master: a bad setting stops the start with its message
# instead of every worker failing in turn.
preload_app = True
# Longer than nginx's upstream keepalive_timeout (60 s), so nginx always closes an idle
# connection first and never sends a request on one gunicorn is closing.
keepalive = 75
# On SIGTERM the master stops listening and the workers finish what they hold for up to
# this long: under the compose stop_grace_period, after which Docker kills.
graceful_timeout = 10
timeout = 30
# Each request is logged by the app, with nginx's request id; no second access log.
accesslog = None
logconfig_dict = LOGGING
