"""Credentials: bearer tokens and the principal they identify."""

from infrastructure.auth.tokens import TokenService

__all__ = ["TokenService"]
