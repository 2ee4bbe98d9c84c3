"""Cost of decoding and validating one request body with a cached contract.

Run from the repository root: ``python bench/validation.py``. It prints
figures for a ~2 KB JSON order and a ~2 KB XML document; it asserts
nothing about time (machines differ), only that the sample bodies are
valid.
"""
import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trytond_endpoint.contracts import (
    compile_request_schema,
    decode_body,
)

JSON_SCHEMA = """
type: object
additionalProperties: false
required: [reference, customer, date, lines]
properties:
  reference: {type: string, maxLength: 32}
  customer:
    type: object
    required: [name, email]
    properties:
      name: {type: string}
      email: {type: string, format: email}
      vat: {type: [string, 'null']}
  date: {type: string, format: date}
  currency: {type: string, default: EUR, enum: [EUR, USD, GBP]}
  comment: {type: string}
  lines:
    type: array
    minItems: 1
    items:
      type: object
      additionalProperties: false
      required: [product, quantity, unit_price]
      properties:
        product: {type: string, pattern: '^[A-Z]{3}-[0-9]{4}$'}
        description: {type: string}
        quantity: {type: integer, minimum: 1}
        unit_price: {type: number, exclusiveMinimum: 0}
        discount: {type: number, minimum: 0, maximum: 1, default: 0}
"""

XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="order">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="reference" type="xs:string"/>
        <xs:element name="customer" type="xs:string"/>
        <xs:element name="date" type="xs:date"/>
        <xs:element name="line" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="product" type="xs:string"/>
              <xs:element name="description" type="xs:string"/>
              <xs:element name="quantity" type="xs:positiveInteger"/>
              <xs:element name="unit_price" type="xs:decimal"/>
            </xs:sequence>
            <xs:attribute name="number" type="xs:int" use="required"/>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


def json_order(lines=17):
    return json.dumps({
            'reference': 'SO-2024-000123',
            'customer': {
                'name': 'Dunder Mifflin', 'email': 'orders@example.com',
                'vat': None},
            'date': '2024-05-17',
            'comment': 'Deliver to the loading dock, ring twice.',
            'lines': [{
                    'product': f'ABC-{1000 + i}',
                    'description': f'Paper, box of 500, batch {i}',
                    'quantity': i + 1,
                    'unit_price': 12.5 + i,
                    } for i in range(lines)],
            }).encode()


def xml_order(lines=13):
    body = ''.join(
        f'<line number="{i}"><product>ABC-{1000 + i}</product>'
        f'<description>Paper, box of 500</description>'
        f'<quantity>{i + 1}</quantity><unit_price>{12.5 + i}</unit_price>'
        '</line>' for i in range(lines))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><order>'
        '<reference>SO-2024-000123</reference>'
        '<customer>Dunder Mifflin</customer><date>2024-05-17</date>'
        f'{body}</order>').encode()


def measure(label, data, content_type, contract, number=2000):
    decode_body(data, content_type, {}, contract=contract)  # valid sample
    decode_body(data, content_type, {})
    checked = min(timeit.repeat(
            lambda: decode_body(data, content_type, {}, contract=contract),
            number=number, repeat=5)) / number
    parsed = min(timeit.repeat(
            lambda: decode_body(data, content_type, {}),
            number=number, repeat=5)) / number
    print(f'{label}: {len(data)} bytes, '
        f'decode + validate {checked * 1e3:.3f} ms, '
        f'decode only {parsed * 1e3:.3f} ms, '
        f'validation {(checked - parsed) * 1e3:.3f} ms')


def main():
    json_contract = compile_request_schema(JSON_SCHEMA, 'application/json')
    xml_contract = compile_request_schema(XSD, 'application/xml')
    measure('JSON order', json_order(), 'application/json', json_contract)
    measure('XML order', xml_order(), 'application/xml', xml_contract)


if __name__ == '__main__':
    main()
