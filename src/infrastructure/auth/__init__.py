"""Credentials: bearer tokens and the principal they identify."""

from infrastructure.auth.tokens import Principal, TokenError, TokenService

__all__ = ["Principal", "TokenError", "TokenService"]
