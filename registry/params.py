"""The rule parameters of the running app (from its configuration)."""

from __future__ import annotations

from flask import current_app, has_app_context

from registry.rules.params import Parameters


def current() -> Parameters:
    if not has_app_context():
        return Parameters()
    params = current_app.extensions.get("registry.params")
    if params is None:
        params = Parameters.from_config(current_app.config)
        current_app.extensions["registry.params"] = params
    return params


def setting(key: str) -> object:
    """A configuration value of the running app."""
    return current_app.config[key]
