"""Password hashing with Argon2id (``argon2-cffi``), and the rules a new password must meet.

Only the PHC-format hash (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``) is stored. Parameters are
argon2-cffi's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes, 4 lanes); a hash made
with older parameters is re-hashed on the next successful login (:func:`needs_rehash`).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from spatial.errors import InvalidInput

MIN_LENGTH = 10
"""Fewest characters a password may have."""
MAX_LENGTH = 200
"""Most characters a password may have (argon2 takes any length; this bounds the work)."""


@lru_cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def check_policy(password: str) -> None:
    """Raise InvalidInput (422) unless ``password`` is 10–200 characters and not blank."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"密码至少需要 {MIN_LENGTH} 个字符",
            f"a password needs at least {MIN_LENGTH} characters",
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(
            f"密码最多 {MAX_LENGTH} 个字符", f"a password has at most {MAX_LENGTH} characters"
        )
    if not password.strip() or "\x00" in password:
        raise InvalidInput("密码不能为空白或含 NUL 字符", "a password cannot be blank or hold NUL")


def hash_password(password: str) -> str:
    """The Argon2id PHC string of ``password`` (after :func:`check_policy`)."""
    check_policy(password)
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; False for a mismatch or no hash.

    Without a stored hash a dummy hash is still verified, so an unknown user or a user without
    a password takes as long to refuse as a wrong password.
    """
    target = stored_hash or _dummy_hash()
    try:
        ok = _hasher().verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """True when ``stored_hash`` was made with other parameters than the current ones."""
    return _hasher().check_needs_rehash(stored_hash)


@lru_cache
def _dummy_hash() -> str:
    return _hasher().hash("tuzheng-no-such-user-placeholder")
