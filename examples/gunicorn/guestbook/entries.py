"""Guestbook entries: checking input, reading and writing them."""

# Each field and its longest allowed length (the column sizes in migrations/).
FIELDS = {"name": 80, "message": 1000}
LIST_LIMIT_MAX = 100


class Invalid(ValueError):
    """Bad input, naming the field that is wrong."""

    def __init__(self, field, problem):
        super().__init__(f"{field} {problem}")
        self.field = field


def validate(data, allow_unknown=False):
    """The entry's fields, trimmed; raises Invalid naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise Invalid("body", "must be a JSON object with name and message")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown and not allow_unknown:
        raise Invalid(unknown[0], "is not a field of an entry")
    entry = {}
    for field, longest in FIELDS.items():
        value = data.get(field)
        if not isinstance(value, str):
            raise Invalid(field, "must be a string")
        value = value.strip()
        if not value:
            raise Invalid(field, "must not be empty")
        if len(value) > longest:
            raise Invalid(field, f"must be at most {longest} characters")
        entry[field] = value
    return entry


def parse_limit(value, default=20):
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= LIST_LIMIT_MAX:
        raise Invalid("limit", f"must be a whole number from 1 to {LIST_LIMIT_MAX}")
    return int(value)


def as_json(row):
    return {
        "id": row["id"],
        "name": row["name"],
        "message": row["message"],
        "createdAt": row["created_at"].isoformat(timespec="milliseconds") + "Z",
    }


_COLUMNS = "SELECT id, name, message, created_at FROM entries"


def newest(conn, limit):
    with conn.cursor() as cursor:
        cursor.execute(f"{_COLUMNS} ORDER BY id DESC LIMIT %s", (limit,))
        return cursor.fetchall()


def find(conn, entry_id):
    with conn.cursor() as cursor:
        cursor.execute(f"{_COLUMNS} WHERE id = %s", (entry_id,))
        return cursor.fetchone()


def add(conn, entry):
    """Stores an entry and returns it as stored; only after the commit has returned."""
    with conn.cursor() as cursor:
        cursor.execute("INSERT INTO entries (name, message) VALUES (%s, %s)", (entry["name"], entry["message"]))
        entry_id = cursor.lastrowid
    row = find(conn, entry_id)
    conn.commit()
    return row
