"""How large a request body may be."""

# Bytes; ``[endpoint] max_body_size`` replaces it.
DEFAULT_MAX_BODY_SIZE = 10 * 2 ** 20
# Seconds a client has to send a body; ``[endpoint] body_timeout``.
DEFAULT_BODY_TIMEOUT = 30


def body_limit(public, *, tryton_public, tryton_authenticated, module,
        endpoint=None):
    """The smallest of Tryton's limit for the auth mode (``[request]
    max_size`` or ``max_size_authenticated``), the module's own and the
    endpoint's when it has one."""
    limit = min(tryton_public if public else tryton_authenticated, module)
    if endpoint:
        limit = min(limit, endpoint)
    return limit
