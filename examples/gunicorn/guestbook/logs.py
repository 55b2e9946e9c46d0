"""One JSON object per line on stdout, for the app's lines and gunicorn's own alike."""
import json
import logging


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": int(record.created * 1000),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["err"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


# gunicorn's logconfig_dict (each key replaces gunicorn's default for it): its error log,
# the app's logger and anything else through the formatter above.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "guestbook": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}
