"""Settings from the environment, checked at start: a wrong one stops the app with its name."""
from dataclasses import dataclass
from pathlib import Path


class ConfigError(SystemExit):
    """Ends the start with a message saying which setting is wrong."""

    def __init__(self, message):
        super().__init__(f"guestbook: {message}")


@dataclass(frozen=True)
class DatabaseConfig:
    host: str
    port: int
    name: str
    user: str
    password: str


def _port(env, name, default):
    value = env.get(name, default)
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigError(f"{name} must be a port number (1-65535), got {value!r}")
    return int(value)


def _required(env, name):
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"{name} must be set")
    return value


def load_port(env):
    return _port(env, "PORT", "5000")


def _password(env):
    path = env.get("DB_PASSWORD_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\n")
        except OSError as err:
            raise ConfigError(f"DB_PASSWORD_FILE {path} cannot be read: {err.strerror}") from err
    return _required(env, "DB_PASSWORD")


def load_database(env):
    return DatabaseConfig(
        host=_required(env, "DB_HOST"),
        port=_port(env, "DB_PORT", "3306"),
        name=_required(env, "DB_NAME"),
        user=_required(env, "DB_USER"),
        password=_password(env),
    )
