# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.

# The mount route must exist in every process that serves HTTP, whether or
# not it has loaded a database yet.
from . import routes  # noqa: F401
