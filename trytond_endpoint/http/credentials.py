"""Credentials checked for shape before Tryton sees them.

Tryton hands a session's user id and a login's name and password to the
database as they come: a user id beyond the database's integers, or a NUL
byte (which PostgreSQL text refuses), ends in a server error. Such a
request is the client's mistake: 400, naming the header.
"""
import base64
import binascii
import re
from http.cookies import CookieError, SimpleCookie

from ..problem import Problem

SESSION_COOKIE = 'tryton_session'
# Record ids are PostgreSQL integers.
MAX_ID = 2 ** 31 - 1
_CONTROL = re.compile('[\x00-\x1f\x7f]')


def check_credentials(environ):
    "Problem 400 when the Authorization header or the session cookie is bad"
    header = environ.get('HTTP_AUTHORIZATION')
    if header:
        _check_authorization(header)
    cookie = environ.get('HTTP_COOKIE')
    if cookie and SESSION_COOKIE in cookie:
        _check_cookie(cookie)


def _bad(part, detail):
    return Problem(400, f"{part}: {detail}",
        errors=[{'header': part, 'detail': detail}])


def _check_text(part, text):
    if _CONTROL.search(text):
        raise _bad(part, "it holds a control character.")


def _check_authorization(header):
    scheme, _, token = header.strip().partition(' ')
    scheme = scheme.lower()
    token = token.strip()
    _check_text('Authorization', token)
    if scheme not in {'basic', 'session'}:
        return
    try:
        decoded = base64.b64decode(token, validate=True).decode('utf-8')
    except (binascii.Error, ValueError):
        # Not credentials at all: Tryton refuses them with 401.
        return
    _check_text('Authorization', decoded)
    if scheme == 'session':
        parts = decoded.split(':', 3)
        if len(parts) >= 2:
            _check_user_id('Authorization', parts[1])


def _check_cookie(header):
    cookie = SimpleCookie()
    try:
        cookie.load(header)
    except CookieError:
        return
    morsel = cookie.get(SESSION_COOKIE)
    if morsel is None:
        return
    value = morsel.value
    _check_text('Cookie', value)
    parts = value.rsplit(':', 2)
    if len(parts) == 3:
        _check_user_id('Cookie', parts[1])


def _check_user_id(part, text):
    digits = text.strip().lstrip('-')
    if digits.isdigit() and digits.isascii() and (
            len(digits) > 10 or int(digits) > MAX_ID):
        raise _bad(part, "the session's user id is out of range.")
