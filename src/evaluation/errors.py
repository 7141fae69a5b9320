"""Errors that opeval reports to the user as one line (the CLI prints them and exits 1)."""


class OpevalError(Exception):
    """Base class: a problem the user can act on, stated in one line."""


class InputError(OpevalError):
    """An input file cannot be read as the kind it was given as."""


class LoadRejected(OpevalError):
    """A ``--strict`` load met rejected rows and was rolled back."""
