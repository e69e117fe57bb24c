"""Creating and changing users: validation, and API tokens that are stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.store import Store
from pipelines.store_users import User
from pipelines.taxonomy import unknown_categories

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# Longest accepted values: a name is one line in a mail header (RFC 5322 allows 998
# characters a line), and interests are embedded on every page view, so 5 MB of them
# would cost seconds of CPU each time.
MAX_CHARS = {"email": 254, "name": 200, "timezone": 64, "interests": 5000}
MAX_CATEGORIES = 50


class AccountError(ValueError):
    """A value a user gave that cannot be stored; the message says what to give instead."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "glean_" + secrets.token_urlsafe(32)


def clean_fields(**fields) -> dict:
    """Validate user fields given by name; returns them normalised. None leaves a field as it is,
    except ``anti_trend``, where it means "follow the deployment's default" and is stored as such."""
    out = {}
    for name, value in fields.items():
        if value is None:
            if name == "anti_trend":
                out[name] = None
            continue
        if isinstance(value, str) and len(value) > MAX_CHARS.get(name, len(value)):
            raise AccountError(f"the {name} is {len(value)} characters long; at most {MAX_CHARS[name]} are kept")
        if name == "email":
            value = value.strip()
            if not EMAIL_RE.match(value):
                raise AccountError(f"{value!r} is not an email address")
        elif name == "timezone":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise AccountError(f"unknown timezone {value!r}: use a name like Europe/Berlin") from None
        elif name == "digest_hour":
            value = int(value)
            if not 0 <= value <= 23:
                raise AccountError("the digest hour is a whole hour from 0 to 23")
        elif name == "categories":
            if len(value) > MAX_CATEGORIES:
                raise AccountError(f"at most {MAX_CATEGORIES} categories can be followed")
            value = [c.strip() for c in value if c.strip()]
            bad = unknown_categories(value)
            if bad:
                raise AccountError(f"not arXiv categories: {', '.join(bad)} (use codes like cs.CL)")
        elif name == "anti_trend":
            value = float(value)
            if not 0 <= value <= 3:
                raise AccountError("anti-trending strength goes from 0 (off) to 3 (strong)")
        elif name == "name":
            if any(ord(c) < 32 or ord(c) == 127 for c in value):
                raise AccountError("a name is one line, without control characters")
            value = value.strip()
        elif name == "interests":
            value = value.strip()
        out[name] = value
    return out


def create_user(store: Store, email: str, **fields) -> tuple[User, str]:
    """A new user and their API token (shown once; only its hash is kept)."""
    token = new_token()
    values = clean_fields(email=email, **fields)
    user = store.add_user(token_hash=hash_token(token), now=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          **values)
    return user, token


def rotate_token(store: Store, user_id: int) -> str:
    token = new_token()
    store.set_token_hash(user_id, hash_token(token))
    return token


def user_for_token(store: Store, token: str) -> User | None:
    return store.user_by_token_hash(hash_token(token)) if token else None
