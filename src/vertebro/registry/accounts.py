"""Accounts: passwords, browser sessions, API tokens and sign-in throttling (issue 11).

Who a user is, what role and which site they have, comes from the registry's own ``app_user``
rows; this module only proves that a request comes from that user. What the user may then
see or change is decided by :class:`~vertebro.registry.Registry`'s service methods, called
with the user as the acting user: there is no second access-control path.

Secrets are stored only as hashes: passwords with Argon2id (argon2-cffi, its RFC 9106
defaults), session and API tokens (256 random bits) with SHA-256. Every sign-in, failure,
throttled attempt, sign-out, password change, token change and deactivation is an
``account_event`` row written through the ORM, so the audit hook records it in the audit
trail; the hash-carrying tables are written with Core statements that the hook does not see.

Timeouts follow NIST SP 800-63B section 4.2.3 (AAL2): reauthenticate after 12 hours, and after
30 minutes of inactivity. Throttling follows section 5.2.2 (rate limiting, at most 100
consecutive failures on one account): here 10 failures per account and 30 per client address
within 15 minutes refuse further attempts, even correct ones, until the window has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from vertebro.errors import InvalidInput, RegistryError

from . import audit
from .models import AccountEvent, ApiToken, Site, User, UserCredential, WebSession
from .service import Registry

__all__ = ["POLICY", "Accounts", "Policy", "Principal", "SignInRefused"]


@dataclass(frozen=True)
class Policy:
    """Session lifetime and throttling (sources in the module docstring)."""

    session_lifetime: dt.timedelta = dt.timedelta(hours=12)
    idle_timeout: dt.timedelta = dt.timedelta(minutes=30)
    throttle_window: dt.timedelta = dt.timedelta(minutes=15)
    max_failures_per_account: int = 10
    max_failures_per_address: int = 30
    min_password_length: int = 12
    max_password_length: int = 1024
    #: a session's last-seen time is written at most this often (not on every request)
    touch_every: dt.timedelta = dt.timedelta(minutes=1)


POLICY = Policy()


@dataclass(frozen=True)
class Principal:
    """The signed-in user, as the registry knows them: role and site code (None for
    researchers and site-less admins)."""

    username: str
    role: str
    site: str | None


class SignInRefused(RegistryError):
    """Wrong user name or password, or too many recent failures (the message says which,
    never whether the user exists)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _clip(value: str | None, n: int) -> str | None:
    return None if value is None else value[:n]


class Accounts:
    """Sign-in for the web, over one :class:`Registry`. ``now`` is injectable for tests."""

    def __init__(
        self,
        registry: Registry,
        *,
        policy: Policy = POLICY,
        now: Callable[[], dt.datetime] = audit.now,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.registry = registry
        self.policy = policy
        self._now = now
        self._hasher = hasher or PasswordHasher()
        # verified against when the user does not exist, so both paths cost one Argon2 hash
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    # ---------------------------------------------------------------- helpers
    def _event(self, s: Session, username: str, event: str, address: str | None = None,
               detail: str | None = None) -> None:
        s.add(AccountEvent(at=self._now(), username=_clip(username, 64) or "", event=event,
                           address=_clip(address, 64), detail=_clip(detail, 200)))
        s.flush()

    def _user(self, s: Session, username: str) -> User | None:
        return s.scalar(select(User).where(User.username == username))

    def _principal(self, s: Session, user_id: int) -> Principal | None:
        row = s.execute(
            select(User.username, User.role, User.active, Site.code)
            .outerjoin(Site, User.site_id == Site.id).where(User.id == user_id)
        ).first()
        if row is None or not row.active:
            return None
        return Principal(row.username, row.role, row.code)

    # ---------------------------------------------------------------- passwords
    def set_password(self, username: str, password: str, *, actor: str | None = None) -> None:
        """Set ``username``'s password (a trusted operator on the database host, or an admin
        through ``actor``). Ends the user's sessions: a new password means sign in again."""
        p = self.policy
        if len(password) < p.min_password_length:
            raise InvalidInput.field("password", f"at least {p.min_password_length} characters")
        if len(password) > p.max_password_length:
            raise InvalidInput.field("password", f"at most {p.max_password_length} characters")
        if password.strip().lower() == username.lower():
            raise InvalidInput.field("password", "must not be the user name")
        if actor is not None:
            with self.registry.session(actor) as (_, who):
                assert who is not None
                if who.role != "admin":
                    raise RegistryError(f"only an admin may set another user's password "
                                        f"({who.username} is a {who.role})")
        digest = self._hasher.hash(password)
        with self.registry.session(actor or username, resolve=False) as (s, _):
            user = self._user(s, username)
            if user is None:
                raise RegistryError(f"no user {username!r} (an admin adds users)")
            at = self._now()
            if s.get(UserCredential, user.id) is None:
                s.execute(insert(UserCredential).values(user_id=user.id, password_hash=digest,
                                                        changed_at=at))
            else:
                # Core on the connection: the audit hook refuses ORM bulk updates, and
                # these hash-carrying rows are not audited (their account_event rows are)
                s.connection().execute(update(UserCredential)
                                       .where(UserCredential.user_id == user.id)
                                       .values(password_hash=digest, changed_at=at))
            self._revoke_all(s, user.id, at)
            self._event(s, username, "password_set", detail=f"by {actor or 'operator'}")

    # ---------------------------------------------------------------- sign-in
    def _throttled(self, s: Session, username: str, address: str | None) -> bool:
        since = self._now() - self.policy.throttle_window
        failed = AccountEvent.event.in_(("sign_in_failed", "sign_in_throttled"))
        by_user = s.scalar(select(func.count()).select_from(AccountEvent).where(
            AccountEvent.username == username, AccountEvent.at >= since, failed)) or 0
        if by_user >= self.policy.max_failures_per_account:
            return True
        if address is None:
            return False
        by_addr = s.scalar(select(func.count()).select_from(AccountEvent).where(
            AccountEvent.address == address, AccountEvent.at >= since, failed)) or 0
        return by_addr >= self.policy.max_failures_per_address

    def sign_in(self, username: str, password: str, address: str | None) -> str:
        """A new session token for ``username`` if the password is right; raises
        :class:`SignInRefused` otherwise. Every outcome is an audited account event."""
        username = username.strip()[:64]
        minutes = int(self.policy.throttle_window.total_seconds() // 60)
        # the failure events must survive the refusal, so they commit on their own
        with self.registry.session(username or "(blank)", resolve=False) as (s, _):
            if self._throttled(s, username, address):
                self._event(s, username, "sign_in_throttled", address)
                refused = SignInRefused(f"too many failed sign-ins: try again in {minutes} "
                                        "minutes")
            else:
                user = self._user(s, username)
                stored = (s.scalar(select(UserCredential.password_hash)
                                   .where(UserCredential.user_id == user.id))
                          if user is not None else None)
                ok = self._verify(stored, password) and user is not None and user.active
                if ok and user is not None:
                    token = secrets.token_urlsafe(32)
                    at = self._now()
                    s.execute(insert(WebSession).values(
                        token_hash=_digest(token), user_id=user.id, created_at=at,
                        last_seen_at=at, expires_at=at + self.policy.session_lifetime))
                    self._event(s, username, "sign_in", address)
                    return token
                self._event(s, username, "sign_in_failed", address)
                refused = SignInRefused("wrong user name or password")
        raise refused

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def session_user(self, token: str) -> Principal | None:
        """The user of a live session, or None (unknown, expired, idle, revoked, or the user
        was deactivated). Refreshes the idle clock."""
        at = self._now()
        with self.registry.session(None, resolve=False) as (s, _):
            row = s.execute(select(WebSession).where(WebSession.token_hash == _digest(token))
                            ).scalar()
            if row is None or row.revoked_at is not None:
                return None
            if at >= _aware(row.expires_at) or at - _aware(row.last_seen_at) >= \
                    self.policy.idle_timeout:
                return None
            who = self._principal(s, row.user_id)
            if who is not None and at - _aware(row.last_seen_at) >= self.policy.touch_every:
                s.connection().execute(update(WebSession).where(WebSession.id == row.id)
                          .values(last_seen_at=at))
            return who

    def sign_out(self, token: str, address: str | None = None) -> None:
        """End the session (no-op for an unknown or ended one)."""
        with self.registry.session(None, resolve=False) as (s, _):
            row = s.execute(select(WebSession).where(WebSession.token_hash == _digest(token),
                                                     WebSession.revoked_at.is_(None))).scalar()
            if row is None:
                return
            s.connection().execute(update(WebSession).where(WebSession.id == row.id)
                      .values(revoked_at=self._now()))
            name = s.scalar(select(User.username).where(User.id == row.user_id)) or ""
            s.info["actor"] = name
            self._event(s, name, "sign_out", address)

    def _revoke_all(self, s: Session, user_id: int, at: dt.datetime,
                    *, tokens: bool = False) -> None:
        s.connection().execute(update(WebSession).where(WebSession.user_id == user_id,
                                           WebSession.revoked_at.is_(None))
                  .values(revoked_at=at))
        if tokens:
            s.connection().execute(update(ApiToken).where(ApiToken.user_id == user_id,
                                             ApiToken.revoked_at.is_(None))
                      .values(revoked_at=at))

    def deactivate(self, actor: str, username: str) -> None:
        """Deactivate a user through the service layer (admin only there), then revoke every
        session and API token of theirs."""
        self.registry.deactivate_user(actor, username)
        with self.registry.session(actor, resolve=False) as (s, _):
            user = self._user(s, username)
            assert user is not None  # deactivate_user refused otherwise
            self._revoke_all(s, user.id, self._now(), tokens=True)
            self._event(s, username, "deactivated", detail=f"by {actor}")

    # ---------------------------------------------------------------- API tokens
    def create_token(self, actor: str, label: str) -> str:
        """A new API token for ``actor`` (returned once; only its hash is kept)."""
        label = label.strip()
        if not 1 <= len(label) <= 100:
            raise InvalidInput.field("label", "1 to 100 characters")
        token = "vt_" + secrets.token_urlsafe(32)
        with self.registry.session(actor) as (s, who):
            assert who is not None
            s.execute(insert(ApiToken).values(token_hash=_digest(token), user_id=who.id,
                                              label=label, created_at=self._now()))
            self._event(s, actor, "token_created", detail=label)
        return token

    def list_tokens(self, actor: str) -> list[dict[str, Any]]:
        with self.registry.session(actor) as (s, who):
            assert who is not None
            rows = s.execute(select(ApiToken).where(ApiToken.user_id == who.id)
                             .order_by(ApiToken.id)).scalars()
            return [{"id": t.id, "label": t.label, "created_at": t.created_at.isoformat(),
                     "revoked": t.revoked_at is not None} for t in rows]

    def revoke_token(self, actor: str, token_id: int) -> None:
        with self.registry.session(actor) as (s, who):
            assert who is not None
            done = s.connection().execute(update(ApiToken).where(
                ApiToken.id == token_id, ApiToken.user_id == who.id,
                ApiToken.revoked_at.is_(None)).values(revoked_at=self._now()))
            if not getattr(done, "rowcount", 0):
                raise RegistryError(f"no API token {token_id} of {actor}")
            self._event(s, actor, "token_revoked", detail=str(token_id))

    def token_user(self, token: str) -> Principal | None:
        """The user of a live API token, or None."""
        with self.registry.session(None, resolve=False) as (s, _):
            user_id = s.scalar(select(ApiToken.user_id).where(
                ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None)))
            return None if user_id is None else self._principal(s, user_id)

    # ---------------------------------------------------------------- reading
    def events(self, actor: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """The latest account events, newest first (admins)."""
        with self.registry.session(actor) as (s, who):
            assert who is not None
            if who.role != "admin":
                raise RegistryError(f"only an admin may read sign-in events ({who.username} "
                                    f"is a {who.role})")
            rows = s.scalars(select(AccountEvent).order_by(AccountEvent.id.desc()).limit(limit))
            return [{"at": e.at.isoformat(), "username": e.username, "event": e.event,
                     "address": e.address, "detail": e.detail} for e in rows]

    def has_password(self, username: str) -> bool:
        with self.registry.session(None, resolve=False) as (s, _):
            return bool(s.scalar(select(func.count()).select_from(UserCredential).join(
                User, User.id == UserCredential.user_id).where(User.username == username)))


def _aware(t: dt.datetime) -> dt.datetime:
    # SQLite gives naive datetimes back; every stored time is UTC
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)

