"""Adapters behind the domain's ports, and the container that chooses them."""
