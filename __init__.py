# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.

# The mount route must exist in every process that serves HTTP, whether or
# not it has loaded a database yet. Imported by its full name so that the
# route is registered once, even when test runners import this folder
# under another package name.
from trytond.modules.endpoint import routes  # noqa: F401
