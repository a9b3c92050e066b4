"""User-facing errors: each one becomes a single line on stderr and exit code 2."""


class UserError(Exception):
    """A mistake the user can fix (bad params, missing or corrupt data); never a bug."""

    exit_code = 2


class ConfigError(UserError):
    """params.yaml holds a value the pipeline cannot accept."""


class DataError(UserError):
    """Input data is missing, corrupt or does not fit the params."""
