# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.pool import PoolMeta
from trytond.res import user as tryton_user
from trytond.transaction import Transaction

from .auth import collected_delays


class UserApplication(metaclass=PoolMeta):
    __name__ = 'res.user.application'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.application.selection.append(('endpoint', "Endpoints"))


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    @classmethod
    def get_login(cls, login, parameters):
        # Tryton delays a login by sleeping when its transaction ends; an
        # endpoint login collects that delay instead, to refuse the
        # logins that come before it has passed (see auth.py).
        delays = collected_delays()
        if delays is None:
            return super().get_login(login, parameters)
        registered = Transaction()._atexit
        known = len(registered)
        try:
            return super().get_login(login, parameters)
        finally:
            kept = []
            for func, args, kwargs in registered[known:]:
                if (func is tryton_user.time.sleep and len(args) == 1
                        and not kwargs):
                    delays.append(args[0])
                else:
                    kept.append((func, args, kwargs))
            registered[known:] = kept
