"""The OpenAPI document, derived from the app as it is built rather than kept by hand.

Litestar generates the operations from the handlers; :mod:`.document`
completes each one from the tables that make the behaviour (errors, guards,
use cases, transport limits, credentials), and :mod:`.closed_bodies` closes the
schemas of bodies that refuse unknown fields.
"""
