"""The one exception type of the architecture layer."""


class ArchitectureError(ValueError):
    """An architecture description is invalid; the message names the node and the reason.

    It subclasses ``ValueError`` (docs/architecture.md) so callers that only know
    ``ValueError`` still catch it, and a search gives such a genome a penalty with
    status ``invalid`` instead of training it.
    """
