"""KilnError: a failed call into the kiln C library, with its kiln_status."""
from . import _capi


class KilnError(Exception):
    """A kiln call failed. `status` is the kiln_status name ("SHAPE", "NO_SUCH_FILE", ...),
    `code` its number, `message` kiln's message naming the node, tensor or file."""

    def __init__(self, status, code, message):
        super().__init__(status, code, message)  # the arguments again: pickle needs them
        self.status = status
        self.code = code
        self.message = message

    def __str__(self):
        return f"{self.status}: {self.message}"


def check(status, err):
    """Raises the KilnError a kiln_status and its filled kiln_error describe, if any."""
    if status:
        name = _capi.lib.kiln_status_name(status).decode()
        raise KilnError(name, status, err.message.decode("utf-8", "replace"))
