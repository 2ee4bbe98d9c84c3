# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.pool import PoolMeta

from . import policy_memo


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('endpoint.log|clean', "Remove Old Endpoint Log Lines"))
        cls.method.selection.extend([
                ('endpoint.signature.seen|clean',
                    "Forget Expired Webhook Signatures"),
                ('endpoint.rate_limit|clean',
                    "Remove Ended Rate Limit Windows"),
                ('endpoint.idempotency|clean',
                    "Forget Old Idempotency Keys"),
                ])


class ModelAccess(metaclass=PoolMeta):
    __name__ = 'ir.model.access'

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        policy_memo.clear()


class ModelFieldAccess(metaclass=PoolMeta):
    __name__ = 'ir.model.field.access'

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        policy_memo.clear()
