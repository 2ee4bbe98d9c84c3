# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The data policy's answers, kept from one request to the next.

What a user may read of a model (:func:`policy.fields_names`, the seed
REST's fields) depends only on the user's groups, whether they are an
administrator, the models' fields and the access rights; checking it again
on every request costs more than a small read.  The answers are kept per
groups in a Tryton cache, which every worker and server drops when the
access rights change (``ir.py``), as Tryton does for its own
``get_access``; a user's groups are Tryton's cached ones, so a change of
groups asks again.
"""
from trytond.cache import Cache
from trytond.pool import Pool
from trytond.transaction import Transaction

_CACHE = Cache('endpoint.policy_memo', context=False)
# Entries per groups: field lists are the caller's, hence a bound.
MAX_ENTRIES = 4096
_MISSING = object()


class _Answers:
    "The answers for one set of groups (its dict is shared by copies)"
    __slots__ = ('values',)

    def __init__(self):
        self.values = {}

    def __copy__(self):
        # Tryton's cache keeps a copy: the copy must hold the same answers.
        copy = _Answers.__new__(_Answers)
        copy.values = self.values
        return copy


def answers():
    """The kept answers of the current user's groups, or None when access
    is not checked (then everything is readable, and cheap to say)"""
    transaction = Transaction()
    if not transaction.check_access:
        return None
    User = Pool().get('res.user')
    key = (User.is_administrator(), User.get_groups())
    kept = _CACHE.get(key)
    if kept is None:
        kept = _CACHE.set(key, _Answers())
    return kept.values


def get(key, compute):
    """compute()'s answer for key under the user's groups; an answer is
    kept only when compute returns (a refusal is asked again), and only
    for a key that can be kept (a caller's unhashable value is not)"""
    values = answers()
    if values is None:
        return compute()
    try:
        value = values.get(key, _MISSING)
    except TypeError:
        return compute()
    if value is _MISSING:
        value = compute()
        if len(values) >= MAX_ENTRIES:
            values.clear()
        values[key] = value
    return value


def clear():
    "Drop the answers of every user, in every process, at commit"
    _CACHE.clear()
