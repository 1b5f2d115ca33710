"""The one exception type users see.

Every problem a user can fix (a missing file, a bad label, a tampered bundle) is raised as
:class:`SenticlfError` with a message that names the thing and says what to do. The CLI prints
it as a single line and exits non-zero; anything else is a bug and keeps its traceback.
"""


class SenticlfError(Exception):
    """A user-facing error: its message is the whole story, no traceback needed."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type name): enough for a one-line error.

    Third-party libraries (ONNX Runtime, transformers, Optimum) raise multi-line messages whose
    first line says what went wrong and whose rest is context a user does not need.
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
