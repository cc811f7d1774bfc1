"""OAuth client credentials as PowerSchool issues them to a plugin with `<oauth/>`.

One client id and secret per sandbox (kept in the database, so a persisted sandbox keeps them
across restarts). A token lives 30 days by default; asking again while it is valid returns the same
token with the remaining lifetime, which is what PowerSchool appears to do. Tokens are stored too,
so a client holding one survives a sandbox restart like it survives a PowerSchool restart.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
import uuid

from sandbox.store import Store

__all__ = ["Auth", "DEFAULT_TOKEN_TTL"]

DEFAULT_TOKEN_TTL = 30 * 24 * 3600


class Auth:
    def __init__(
        self,
        store: Store,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_ttl: int = DEFAULT_TOKEN_TTL,
    ) -> None:
        self.store = store
        self.token_ttl = token_ttl
        with store.lock:
            store.conn.execute(
                "CREATE TABLE IF NOT EXISTS SANDBOX_TOKENS (TOKEN TEXT PRIMARY KEY, EXPIRES REAL)"
            )
            self.client_id = client_id or store.meta("client_id") or str(uuid.uuid4())
            self.client_secret = (
                client_secret or store.meta("client_secret") or secrets.token_hex(18)
            )
            store.set_meta("client_id", self.client_id)
            store.set_meta("client_secret", self.client_secret)

    def __repr__(self) -> str:
        return f"Auth(client_id={self.client_id!r}, client_secret='**********')"

    def credentials_ok(self, authorization: str | None) -> bool:
        """Whether an `Authorization: Basic ...` header carries this sandbox's id and secret."""
        if not authorization or not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, sep, secret = decoded.partition(":")
        return (
            bool(sep)
            and hmac.compare_digest(client_id, self.client_id)
            and hmac.compare_digest(secret, self.client_secret)
        )

    def issue(self) -> tuple[str, int]:
        """The current token and its remaining seconds; a new one when none is valid."""
        now = time.time()
        with self.store.lock:
            row = self.store.conn.execute(
                "SELECT TOKEN, EXPIRES FROM SANDBOX_TOKENS WHERE EXPIRES > ? "
                "ORDER BY EXPIRES DESC LIMIT 1",
                (now,),
            ).fetchone()
            if row:
                return row[0], max(1, int(row[1] - now))
            token = str(uuid.uuid4())
            self.store.conn.execute(
                "INSERT INTO SANDBOX_TOKENS VALUES (?, ?)", (token, now + self.token_ttl)
            )
            return token, self.token_ttl

    def valid(self, authorization: str | None) -> str | None:
        """The bearer token of a request if it is known and unexpired, else None."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization[7:].strip()
        with self.store.lock:
            row = self.store.conn.execute(
                "SELECT 1 FROM SANDBOX_TOKENS WHERE TOKEN = ? AND EXPIRES > ?", (token, time.time())
            ).fetchone()
        return token if row else None

    def expire(self, token: str | None = None) -> None:
        """Expire one token, or every token (the next call gets 401 and must re-authenticate)."""
        with self.store.lock:
            if token is None:
                self.store.conn.execute("DELETE FROM SANDBOX_TOKENS")
            else:
                self.store.conn.execute("DELETE FROM SANDBOX_TOKENS WHERE TOKEN = ?", (token,))
