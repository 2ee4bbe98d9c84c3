"""The engine behind the Tryton ``endpoint`` module.

Plain Python without the Tryton ORM: route maps, the snippet sandbox,
request contracts, problem responses and the OpenAPI document.
"""
