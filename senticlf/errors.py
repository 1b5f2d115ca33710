"""The one exception type users see.

Every problem a user can fix (a missing file, a bad label, a tampered bundle) is raised as
:class:`SenticlfError` with a message that names the thing and says what to do. The CLI prints
it as a single line and exits non-zero; anything else is a bug and keeps its traceback.
"""


class SenticlfError(Exception):
    """A user-facing error: its message is the whole story, no traceback needed."""
