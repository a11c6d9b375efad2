"""Errors caused by user input: the CLI prints them as one line, never a traceback."""


class UserError(Exception):
    """Something the user can fix: a bad path, file, device, model or setting.

    The message says what is wrong, where, and how to fix it.
    """


class AudioInputError(UserError):
    """An audio source cannot be opened or decoded."""


class ModelError(UserError):
    """A model file is missing, unreadable, or its metadata is missing or inconsistent."""
