"""The guestbook: pages it renders itself and a JSON API, on Flask, PyMySQL and MySQL."""
import logging
import os
import time

import pymysql
from flask import Flask, g, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from . import entries
from .config import load_database
from .db import UNAVAILABLE, connect

# nginx's id for each request (its X-Request-Id), logged with every line about it.
REQUEST_ID_HEADER = "X-Request-Id"
# Bodies larger than nginx lets through never come; this is the app's own bound.
MAX_BODY_BYTES = 16 * 1024
# Seconds: a request waits this long for the database, the readiness check less.
QUERY_TIMEOUT = 10
READY_TIMEOUT = 2
PAGE_ENTRIES = 50
# The app is imported once, in gunicorn's master (preload_app): one start time for all workers.
STARTED = time.time()

log = logging.getLogger("guestbook")


def _wants_json():
    """JSON errors for the API, HTML for pages: where nginx draws the same line for its own."""
    return request.path.startswith("/api/")


def _problem(status, error, message, **extra):
    response = jsonify(statusCode=status, error=error, message=message, **extra)
    response.status_code = status
    return response


def create_app(env=os.environ):
    database = load_database(env)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False

    def db(timeout=QUERY_TIMEOUT):
        return connect(database, timeout)

    @app.before_request
    def start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response):
        fields = {
            "requestId": request.headers.get(REQUEST_ID_HEADER),
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
        }
        log.info("request", extra={"fields": fields})
        return response

    @app.errorhandler(entries.Invalid)
    def invalid(err):
        return _problem(400, "Bad Request", str(err), field=err.field)

    def database_down(err):
        log.warning("database unavailable", extra={"fields": {"code": err.args[0] if err.args else None}})
        if not _wants_json():
            return render_template("unavailable.html"), 503, {"Retry-After": "5"}
        response = _problem(503, "Service Unavailable", "the database is unreachable; try again shortly")
        response.headers["Retry-After"] = "5"
        return response

    for unavailable in UNAVAILABLE:
        app.register_error_handler(unavailable, database_down)

    @app.errorhandler(HTTPException)
    def http_error(err):
        if not _wants_json():
            return err
        return _problem(err.code, err.name, err.description)

    @app.errorhandler(Exception)
    def crash(err):
        log.exception("unhandled error", extra={"fields": {"requestId": request.headers.get(REQUEST_ID_HEADER)}})
        if not _wants_json():
            return InternalServerError()
        return _problem(500, "Internal Server Error", "internal error; quote the X-Request-Id header when reporting it")

    @app.get("/live")
    def live():
        return {"status": "ok"}

    @app.get("/ready")
    def ready():
        try:
            with db(READY_TIMEOUT) as conn, conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        except pymysql.MySQLError as err:
            reason = f"database unreachable ({err.args[0] if err.args else type(err).__name__})"
            return {"status": "unavailable", "reason": reason}, 503, {"Retry-After": "5"}
        return {"status": "ok"}

    @app.get("/")
    def page():
        with db() as conn:
            rows = entries.newest(conn, PAGE_ENTRIES)
        return render_template("index.html", entries=rows, error=None, values={})

    @app.post("/")
    def add_from_form():
        try:
            entry = entries.validate(request.form.to_dict(), allow_unknown=True)
        except entries.Invalid as err:
            with db() as conn:
                rows = entries.newest(conn, PAGE_ENTRIES)
            return render_template("index.html", entries=rows, error=err, values=request.form), 400
        with db() as conn:
            entries.add(conn, entry)
        # See other: a reload of the page then repeats no POST.
        return redirect("/", code=303)

    @app.get("/api/entries")
    def list_entries():
        limit = entries.parse_limit(request.args.get("limit"))
        with db() as conn:
            rows = entries.newest(conn, limit)
        return {"entries": [entries.as_json(row) for row in rows]}

    @app.post("/api/entries")
    def create_entry():
        entry = entries.validate(request.get_json(silent=True))
        with db() as conn:
            row = entries.add(conn, entry)
        return entries.as_json(row), 201, {"Location": f"/api/entries/{row['id']}"}

    @app.get("/api/entries/<int:entry_id>")
    def get_entry(entry_id):
        with db() as conn:
            row = entries.find(conn, entry_id)
        if row is None:
            return _problem(404, "Not Found", f"no entry {entry_id}")
        return entries.as_json(row)

    # For the stack's monitor on the app's loopback port (nginx never passes /internal/):
    # answering at all is what says the app is up, the start time tells a restart.
    @app.get("/internal/metrics")
    def metrics():
        text = (
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
            "# TYPE process_start_time_seconds gauge\n"
            f"process_start_time_seconds {STARTED:.3f}\n"
        )
        return text, 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}

    return app
