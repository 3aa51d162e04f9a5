// tojson as transformers defines it: json.dumps with ensure_ascii=False and its separators.
import MuseEngine
import Testing

/// Expected strings are Python jinja2's output under transformers' settings (Tools/reference/gen_tables.py).
@Suite struct TojsonTests {
    /// Key order, separators, indentation, unicode, escapes and number formats.
    @Test(arguments: [
        Case("{{ x|tojson }}", context: #"{"x": {"a": [1, 2.5, null, true, "é\"\n"], "b": {}}}"#, "{\"a\": [1, 2.5, null, true, \"é\\\"\\n\"], \"b\": {}}"),
        Case("{{ x|tojson(indent=4) }}", context: #"{"x": {"a": [1, 2.5, null, true, "é\"\n"], "b": {}, "c": []}}"#, "{\n    \"a\": [\n        1,\n        2.5,\n        null,\n        true,\n        \"é\\\"\\n\"\n    ],\n    \"b\": {},\n    \"c\": []\n}"),
        Case("{{ x|tojson(indent=2) }}|{{ x|tojson(indent=\"\\t\") }}|{{ x|tojson(indent=0) }}", context: #"{"x": {"b": 1, "a": [1, {"c": "z"}]}}"#, "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    {\n      \"c\": \"z\"\n    }\n  ]\n}|{\n\t\"b\": 1,\n\t\"a\": [\n\t\t1,\n\t\t{\n\t\t\t\"c\": \"z\"\n\t\t}\n\t]\n}|{\n\"b\": 1,\n\"a\": [\n1,\n{\n\"c\": \"z\"\n}\n]\n}"),
        Case("{{ x|tojson(separators=(\",\", \":\")) }}|{{ x|tojson(sort_keys=true) }}|{{ [1, 2]|tojson(separators=(\";\", \"=\")) }}", context: #"{"x": {"b": 1, "a": [1, {"c": "z"}]}}"#, "{\"b\":1,\"a\":[1,{\"c\":\"z\"}]}|{\"a\": [1, {\"c\": \"z\"}], \"b\": 1}|[1;2]"),
        Case("{{ \"é😀\\u0001\\u2028\\x7f\\\\/\"|tojson }}|{{ \"é😀\"|tojson(ensure_ascii=true) }}|{{ \"<&>'\"|tojson }}", "\"é😀\\u0001\u{2028}\u{7f}\\\\/\"|\"\\u00e9\\ud83d\\ude00\"|\"<&>'\""),
        Case("{{ [1.0, 0.1, 1e16, 1e-7, -0.0, 123456789012345678] }}|{{ [1.0, 0.1, 1e16, 1e-7, -0.0, 123456789012345678]|tojson }}", "[1.0, 0.1, 1e+16, 1e-07, -0.0, 123456789012345678]|[1.0, 0.1, 1e+16, 1e-07, -0.0, 123456789012345678]"),
        Case("{{ [[]]|tojson(indent=2) }}|{{ {}|tojson(indent=2) }}|{{ none|tojson }}|{{ true|tojson }}|{{ \"s\"|tojson }}", "[\n  []\n]|{}|null|true|\"s\""),
        Case("{{ tool|tojson }}", context: #"{"tool": {"type": "function", "function": {"name": "get_weather", "description": "Get weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}"#, "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}"),
    ])
    func formatting(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }
}
