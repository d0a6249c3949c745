"""Telegram handlers, one module per intent; ``register`` wires them all onto an Application."""
