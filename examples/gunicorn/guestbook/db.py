"""A connection per request: on loopback it costs about a millisecond, and no state outlives
a request, so a database restart needs nothing from the app."""
from contextlib import closing

import pymysql
import pymysql.cursors

# What the database being down or gone looks like to PyMySQL.
UNAVAILABLE = (pymysql.err.OperationalError, pymysql.err.InterfaceError)


def connect(config, timeout):
    return closing(
        pymysql.connect(
            host=config.host,
            port=config.port,
            user=config.user,
            password=config.password,
            database=config.name,
            charset="utf8mb4",
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            # Times are stored and sent as UTC.
            init_command="SET time_zone = '+00:00'",
            cursorclass=pymysql.cursors.DictCursor,
        )
    )
