# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class EndpointValidationError(ValidationError):
    pass


class SyncError(UserError):
    pass


class VersionError(UserError):
    pass
