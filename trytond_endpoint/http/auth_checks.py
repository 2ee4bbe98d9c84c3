"""What the ``signature`` and ``token`` auth modes need of a definition."""
from ..definition import BODY_METHODS
from .jwt_token import parse_scopes
from .signature import scheme_of

__all__ = ['check_auth']


def check_auth(definition):
    "``[(field, message)]`` of what the definition's auth mode lacks"
    errors = []
    if definition.auth == 'signature':
        if not definition.exec_user:
            errors.append(('exec_user',
                    "A signed endpoint needs a user to run as."))
        if not definition.signature_secret:
            errors.append(('signature_secret',
                    "A signed endpoint needs its secret."))
        if definition.method not in BODY_METHODS:
            # A signature covers a body, and a webhook posts one.
            errors.append(('method',
                    "A signed endpoint takes POST, PUT or PATCH."))
        try:
            scheme_of(definition)
        except ValueError as exception:
            errors.append(('signature_scheme', str(exception)))
    elif definition.auth == 'token':
        try:
            parse_scopes(definition.token_scopes)
        except ValueError as exception:
            errors.append(('token_scopes', str(exception)))
    return errors
