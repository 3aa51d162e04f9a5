// Statements: if, for and the loop object, set and namespace, macros and call blocks, filter/with/generation.
import MuseEngine
import Testing

/// Expected strings are Python jinja2's output under transformers' settings (Tools/reference/gen_tables.py).
@Suite struct StatementTests {
    /// if / elif / else.
    @Test(arguments: [
        Case("{% if x %}1{% elif y %}2{% elif z %}3{% else %}4{% endif %}", context: #"{"x": 0, "y": null, "z": true}"#, "3"),
        Case("{% if x is defined and x > 2 %}big{% else %}small{% endif %}", context: #"{"x": 3}"#, "big"),
        Case("{% if not items %}none{% endif %}", context: #"{"items": []}"#, "none"),
    ])
    func conditionals(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// for loops: the loop object, filtering, else, unpacking, break/continue, iterating dicts and strings.
    @Test(arguments: [
        Case("{% for x in [1, 2, 3] if x > 1 %}{{ loop.index }}/{{ loop.length }}{{ loop.first }}{{ loop.last }}{{ loop.previtem }}{{ loop.nextitem }};{% else %}none{% endfor %}", "1/2TrueFalse3;2/2FalseTrue2;"),
        Case("{% for i in range(3) %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.cycle(\"a\", \"b\") }} {% endfor %}", "032a 121b 210a "),
        Case("{% for x in [1, 2, 3] %}{{ loop.previtem|default(\"-\") }}{{ loop.nextitem|default(\"-\") }}{% endfor %}", "-2132-"),
        Case("{% for x in [] %}a{% else %}none{% endfor %}|{% for x in [1] if false %}a{% else %}filtered{% endfor %}", "none|filtered"),
        Case("{% for x in [1, 2, 3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for x in [1, 2, 3] %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% endfor %}", "1|13"),
        Case("{% for a, b in [[1, 2], [3, 4]] %}{{ a }}{{ b }}{% endfor %}|{% for k in {\"a\": 1, \"b\": 2} %}{{ k }}{% endfor %}|{% for c in \"abc\" %}{{ c }}.{% endfor %}", "1234|ab|a.b.c."),
        Case("{% for i in [1, 2] %}{% for j in [3, 4] %}{{ loop.index }}{{ i }}{{ j }} {% endfor %}{{ loop.index }}|{% endfor %}", "113 214 1|123 224 2|"),
        Case("{% for message in messages[::-1] %}{{ (messages|length - 1) - loop.index0 }}{{ message.role }} {% endfor %}", context: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#, "1assistant 0user "),
    ])
    func forLoops(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Each loop iteration has its own scope; if blocks share their parent's; macros read their defining scope.
    @Test(arguments: [
        Case("{% for i in range(3) %}{% if i == 0 %}{% set x = \"a\" %}{% endif %}[{{ x }}]{% endfor %}", "[a][][]"),
        Case("{% set x = 1 %}{% for i in range(2) %}{{ x }}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}", "12121"),
        Case("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}", "2"),
        Case("{% macro m() %}[{{ y }}]{% endmacro %}{% set y = 1 %}{{ m() }}{% set y = 2 %}{{ m() }}", "[1][2]"),
        Case("{% for i in [1, 2] %}{% macro m() %}[{{ i }}]{% endmacro %}{{ m() }}{% endfor %}", "[1][2]"),
    ])
    func scoping(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// jinja2 binds names per scope at compile time: a name a scope assigns before mentioning it is Undefined for nested scopes until then.
    @Test(arguments: [
        Case("{% for i in [1] %}[{{ x }}]{% endfor %}{% set x = 5 %}{{ x }}", context: #"{"x": 3}"#, "[]5"),
        Case("{{ x }}{% set x = 5 %}{{ x }}|{% if true %}{{ x }}{% endif %}", context: #"{"x": 3}"#, "35|5"),
        Case("{% macro m() %}[{{ x }}]{% endmacro %}{{ m() }}{% set x = 5 %}{{ m() }}", context: #"{"x": 3}"#, "[][5]"),
        Case("{% for i in [1] %}[{{ x }}]{% endfor %}{% if c %}{% set x = 1 %}{% endif %}", context: #"{"x": 3, "c": false}"#, "[3]"),
        Case("{% for i in [1, 2] %}{% for j in [1] %}[{{ z }}]{% endfor %}{% set z = i %}{% endfor %}", context: #"{"z": 3}"#, "[][]"),
        Case("{% set y %}{% set x = 1 %}{% endset %}[{{ x }}]{% with %}{% set w = 2 %}{% endwith %}[{{ w }}]", "[][]"),
        Case("{% for m in [1] %}{% set x = x + 1 %}[{{ x }}]{% endfor %}{{ x }}", context: #"{"x": 3}"#, "[4]3"),
    ])
    func staticScoping(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// select/map/selectattr/reverse return generators in jinja2, which are true even when empty.
    @Test(arguments: [
        Case("{% if [1, 2]|select(\"gt\", 5) %}generator{% endif %}|{% if [1, 2]|select(\"gt\", 5)|list %}list{% endif %}|{{ [1, 2]|select(\"gt\", 5)|list|length }}", "generator||0"),
        Case("{{ \"x\" if none|selectattr(\"a\") else \"y\" }}{{ \"x\" if []|map(\"upper\") else \"y\" }}{{ \"x\" if []|reverse else \"y\" }}{{ \"x\" if \"\"|reverse else \"y\" }}", "xxxy"),
    ])
    func lazyFilterResults(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// set, tuple assignment, block set with filters, namespace attributes.
    @Test(arguments: [
        Case("{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set x = [1, 2] %}{% set x = x + [3] %}{{ x }}", "12|[1, 2, 3]"),
        Case("{%- set x = 1 %}\n{{ x }}\n{% set y -%}\n  hello {{ x }}\n{%- endset %}[{{ y }}]", "1\n[hello 1]"),
        Case("{% set y | upper %}hi{% endset %}{{ y }}", "HI"),
        Case("{% set ns = namespace(a=1) %}{% for i in [1, 2] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }} {{ ns }}", "4 <Namespace {'a': 4}>"),
        Case("{% set ns = namespace() %}{% set ns.a = 1 %}{% set ns.b = [ns.a] %}{{ ns.b }}{{ ns.c }}|{{ ns.a is defined }}{{ ns.c is defined }}", "[1]|TrueFalse"),
        Case("{% set ns = namespace({\"x\": 1}, y=2) %}{{ ns.x }}{{ ns.y }}", "12"),
        Case("{% set ns = namespace(found=false, index=-1) %}{% for m in messages %}{% if not ns.found and m.role == \"assistant\" %}{% set ns.found = true %}{% set ns.index = loop.index0 %}{% endif %}{% endfor %}{{ ns.found }}{{ ns.index }}", context: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#, "True1"),
    ])
    func assignments(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Macros: defaults computed per call, keyword arguments, varargs/kwargs, caller, recursion.
    @Test(arguments: [
        Case("{% macro m(a, b=a ~ \"x\") %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 2) }}{{ m(b=3, a=4) }}{{ m() }}", "[1|1x][1|2][4|3][|x]"),
        Case("{% macro m(a, b=2) -%} {{ a }}-{{ b }}-{{ kwargs }} {%- endmacro %}{{ m(1, 2, k=4) }}", "1-2-{'k': 4}"),
        Case("{% macro m(a) %}[{{ a }}{{ caller() }}]{% endmacro %}{% call m(1) %}inner{% endcall %}", "[1inner]"),
        Case("{% macro w() %}[{{ caller(\"A\", \"B\") }}]{% endmacro %}{% call(x, y) w() %}{{ x }}{{ y }}{% endcall %}", "[AB]"),
        Case("{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(5) }}", "54321"),
        Case("{% macro render_type(t) %}{% if t.type == \"array\" %}list[{{ render_type(t[\"items\"]) }}]{% else %}{{ t.type }}{% endif %}{% endmacro %}{{ render_type(schema) }}", context: #"{"schema": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}}"#, "list[list[string]]"),
        Case("{% macro m() %}x{% endmacro %}{{ m.name }} {{ m() ~ m() }} {{ m()|upper }}", "m xx X"),
    ])
    func macros(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// filter, with, generation, and the "print" tag.
    @Test(arguments: [
        Case("{% filter upper %}abc {{ \"d\" }}{% endfilter %}", "ABC D"),
        Case("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", "3[]"),
        Case("{% generation %}gen {{ 1 }}{% endgeneration %}", "gen 1"),
        Case("{% print \"x\" ~ 1 %}", "x1"),
    ])
    func blocks(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Global functions: range, dict, namespace, raise_exception is tested with errors.
    @Test(arguments: [
        Case("{{ range(5)|list }}{{ range(1, 10, 3)|list }}{{ range(5, 0, -2)|list }}{{ range(0)|list }}", "[0, 1, 2, 3, 4][1, 4, 7][5, 3, 1][]"),
        Case("{{ dict(a=1, b=\"x\") }}{{ dict(a=1)|tojson }}{{ dict({\"b\": 2}, c=3) }}{{ dict([[\"k\", \"v\"]]) }}", "{'a': 1, 'b': 'x'}{\"a\": 1}{'b': 2, 'c': 3}{'k': 'v'}"),
    ])
    func globals(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }
}
