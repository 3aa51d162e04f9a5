// Expressions: literals, operators with Python semantics, lookups, tests, methods, printing.
import MuseEngine
import Testing

/// Expected strings are Python jinja2's output under transformers' settings (Tools/reference/gen_tables.py).
@Suite struct ExpressionTests {
    /// Literals and how Python prints them.
    @Test(arguments: [
        Case("{{ 42 }} {{ -7 }} {{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }}", "42 -7 1000 31 15 5"),
        Case("{{ 1.5 }} {{ 1e3 }} {{ 1.5e-7 }} {{ 2.0 }} {{ 1e16 }} {{ 9999999999999998.0 }} {{ 0.0001 }} {{ 0.00001 }}", "1.5 1000.0 1.5e-07 2.0 1e+16 9999999999999998.0 0.0001 1e-05"),
        Case("{{ true }} {{ True }} {{ false }} {{ none }} {{ None }}", "True True False None None"),
        Case("{{ 'single' }} {{ \"double\" }} {{ 'a' 'b' }} {{ 'it''s' }}", "single double ab its"),
        Case("{{ \"\\n|\\t|\\\\|\\\"|\\x41|\\u00e9|\\U0001F600|\\101|\\q\" }}", "\n|\t|\\|\"|A|é|😀|A|\\q"),
        Case("{{ [1, \"a\", none, true, 1.5, {\"k\": \"v\"}] }}", "[1, 'a', None, True, 1.5, {'k': 'v'}]"),
        Case("{{ {\"b\": 1, \"a\": [2]} }}", "{'b': 1, 'a': [2]}"),
        Case("{{ [\"it's\", \"say \\\"hi\\\"\", \"\\n\\t\\u0001\", \"é😀\"] }}", "[\"it's\", 'say \"hi\"', '\\n\\t\\x01', 'é😀']"),
        Case("{{ [] }}{{ {} }}", "[]{}"),
    ])
    func literals(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Arithmetic: true division, floor division and modulo toward negative infinity, int/float/bool mixing.
    @Test(arguments: [
        Case("{{ 1 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 5.5 % 2 }} {{ -7.5 // 2 }}", "0.5 2.0 3 -4 2 -2 1.5 -4.0"),
        Case("{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 0.5 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}", "1024 0.5 1.4142135623730951 64 4"),
        Case("{{ 1 + 1.5 }} {{ true + 1 }} {{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 10 - 2 - 3 }} {{ 2 * 3 % 4 }}", "2.5 2 0.30000000000000004 0.3333333333333333 5 2"),
        Case("{{ \"ab\" * 3 }} {{ 3 * \"ab\" }} {{ \"ab\" * 0 }} {{ [1] * 3 }} {{ [1, 2] + [3] }} {{ \"a\" + \"b\" }}", "ababab ababab  [1, 1, 1] [1, 2, 3] ab"),
        Case("{{ \"a\" ~ 1 ~ none ~ true ~ 1.5 ~ [1] }}{{ (1 + 2) ~ 3 }}{{ 1 ~ (2 + 3) }}", "a1NoneTrue1.5[1]3315"),
        Case("{{ \"%s and %s\" % (\"a\", \"b\") }} {{ \"%d%%\" % 5 }} {{ \"%05.1f\" % 3.14159 }}", "a and b 5% 003.1"),
        Case("{{ -x }} {{ +x }} {{ -(1.5) }} {{ -x|abs }}", context: #"{"x": 4}"#, "-4 4 -1.5 4"),
    ])
    func arithmetic(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Comparisons (chained, across numeric types, lexicographic) and and/or returning operands.
    @Test(arguments: [
        Case("{{ 1 == 1.0 }} {{ true == 1 }} {{ 1 == \"1\" }} {{ none == none }} {{ {\"a\": 1, \"b\": 2} == {\"b\": 2, \"a\": 1} }} {{ [1, 2] == [1, 2] }}", "True True False True True True"),
        Case("{{ 5 > 3 > 1 }} {{ 1 < 2 < 1 }} {{ [1, 2] < [1, 3] }} {{ [1] < [1, 0] }} {{ \"B\" < \"a\" }} {{ \"é\" > \"z\" }} {{ 2 >= 2 }} {{ 1 != 2 }}", "True False True True True True True True"),
        Case("{{ 1 in [1, 2] }} {{ 3 not in [1, 2] }} {{ \"b\" in \"abc\" }} {{ \"k\" in {\"k\": 1} }} {{ \"x\" in missing }} {{ not 1 == 2 }}", "True True True True False True"),
        Case("{{ x or y or \"z\" }}|{{ x and y }}|{{ 0 or none }}|{{ \"\" and 1 }}|{{ not not 1 }}", context: #"{"x": 0, "y": null}"#, "z|0|None||True"),
        Case("{{ \"a\" if x else \"b\" }}{{ \"c\" if not x }}{{ \"d\" if x }}{{ \"e\" if false else \"f\" if true else \"g\" }}", context: #"{"x": 0}"#, "bcf"),
    ])
    func comparisonsAndLogic(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Attribute and item lookup, negative indexes, slices, and Undefined for anything missing.
    @Test(arguments: [
        Case("{{ messages[0][\"role\"] }} {{ messages[-1].content }} {{ messages|length }} {{ messages[5] }}|{{ messages.nothing }}|", context: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#, "user b 2 ||"),
        Case("{{ x.y.z }} {{ x[\"y\"][\"z\"] }} {{ x.y[\"z\"] }} {{ x.missing }}|{{ x[\"missing\"] }}|", context: #"{"x": {"y": {"z": "deep"}}}"#, "deep deep deep ||"),
        Case("{{ \"abc\"[::-1] }} {{ \"abc\"[1:] }} {{ \"Hello\"[1:3] }} {{ [1, 2, 3, 4][-2:] }} {{ [1, 2, 3, 4][::2] }} {{ [1, 2, 3, 4][::-2] }} {{ [1, 2, 3][5:] }} {{ [1, 2, 3][-100:100] }}", "cba bc el [3, 4] [1, 3] [4, 2] [] [1, 2, 3]"),
        Case("{{ \"é😀x\"[1] }} {{ \"héllo\"[1:3] }} {{ \"abc\"[-1] }} {{ [1, 2][-3] }}|{{ [1, 2][true] }}", "😀 él c |2"),
        Case("{{ d.items is defined }} {{ d[\"items\"] }} {{ d.get(\"items\") }} {{ s.foo }}|{{ n.foo }}|{{ n[0] }}|", context: #"{"d": {"items": 5}, "s": "str", "n": null}"#, "True 5 5 |||"),
    ])
    func lookups(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Undefined prints as nothing, iterates as empty, has length 0, and is falsy.
    @Test(arguments: [
        Case("[{{ missing }}]{{ missing|length }}{{ missing is defined }}{{ missing is undefined }}{{ missing ~ \"a\" }}{{ \"a\" if missing else \"b\" }}", "[]0FalseTrueab"),
        Case("{% for x in missing %}x{% else %}empty{% endfor %}{{ missing|default(\"d\") }}{{ missing|list }}", "emptyd[]"),
        Case("{{ none }} {{ none is none }} {{ none is defined }} {{ none|default(\"d\") }} {{ none|default(\"d\", true) }}", "None True True None d"),
    ])
    func undefinedSemantics(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// The "is" tests.
    @Test(arguments: [
        Case("{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 10 is divisibleby(3) }}{{ 2.0 is odd }}{{ 3.0 is odd }}", "TrueTrueTrueFalseFalseTrue"),
        Case("{{ \"a\" is string }}{{ 1 is number }}{{ true is number }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ 1 is boolean }}", "TrueTrueTrueTrueFalseTrueTrueFalse"),
        Case("{{ {} is mapping }}{{ [] is mapping }}{{ \"a\" is iterable }}{{ 1 is iterable }}{{ none is iterable }}{{ \"ab\" is sequence }}{{ 1 is sequence }}{{ {} is sequence }}", "TrueFalseTrueFalseFalseTrueFalseTrue"),
        Case("{{ true is true }}{{ 1 is true }}{{ false is false }}{{ none is none }}{{ none is sameas none }}{{ 1 is sameas true }}", "TrueFalseTrueTrueTrueFalse"),
        Case("{{ 1 is eq 1.0 }}{{ 2 is ge 2 }}{{ 2 is lt 1 }}{{ 3 is gt 2 }}{{ 3 is ne 3 }}{{ \"x\" is in \"xyz\" }}{{ \"a\" is lower }}{{ \"A\" is upper }}", "TrueTrueFalseTrueFalseTrueTrueTrue"),
        Case("{{ x is not none }}{{ y is not defined }}{{ \"upper\" is filter }}{{ \"nope\" is test }}{{ range is callable }}{{ \"a\".upper is callable }}", context: #"{"x": 3}"#, "TrueTrueTrueFalseTrueTrue"),
    ])
    func isTests(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Python str methods.
    @Test(arguments: [
        Case("{{ \"abc\".startswith(\"a\") }}{{ \"abc\".endswith((\"x\", \"c\")) }}{{ \"abcabc\".startswith(\"b\", 1) }}{{ \"abc\".endswith(\"b\", 0, 2) }}", "TrueTrueTrueTrue"),
        Case("[{{ \"  a b \".strip() }}|{{ \"xxaxx\".lstrip(\"x\") }}|{{ \"xxaxx\".rstrip(\"x\") }}|{{ \"\\n\\tx\\u3000\".strip() }}]", "[a b|axx|xxa|x]"),
        Case("{{ \"a,b,,c\".split(\",\") }}{{ \" a  b \".split() }}{{ \"a b c\".split(\" \", 1) }}{{ \"a,b,c\".rsplit(\",\", 1) }}{{ \"\".split() }}{{ \"\".split(\",\") }}", "['a', 'b', '', 'c']['a', 'b']['a', 'b c']['a,b', 'c'][]['']"),
        Case("{{ \"a\\nb\\r\\nc\".splitlines() }}{{ \"Hello World\".lower() }}{{ \"hello\".upper() }}{{ \"hello world\".title() }}{{ \"hELLO\".capitalize() }}{{ \"AbC\".swapcase() }}", "['a', 'b', 'c']hello worldHELLOHello WorldHelloaBc"),
        Case("{{ \"a-b-c\".replace(\"-\", \"+\") }}{{ \"a-b-c\".replace(\"-\", \"\", 1) }}{{ \"abc\".replace(\"\", \"-\") }}", "a+b+cab-c-a-b-c-"),
        Case("{{ \"abcabc\".find(\"c\") }}{{ \"abcabc\".find(\"c\", 3) }}{{ \"abc\".find(\"z\") }}{{ \"abcabc\".rfind(\"b\") }}{{ \"abcabc\".count(\"b\") }}{{ \"abc\".index(\"c\") }}", "25-1422"),
        Case("{{ \"x\".join([\"a\", \"b\"]) }}{{ \"-\".join(\"ab\") }}{{ \"{}-{}\".format(1, \"z\") }}{{ \"{0}{1}{0}\".format(\"a\", \"b\") }}{{ \"{a}:{b!r}\".format(a=1, b=\"x\") }}", "axba-b1-zaba1:'x'"),
        Case("{{ \"a b\".partition(\" \")|join(\"/\") }}{{ \"12\".zfill(4) }}{{ \"-1\".zfill(4) }}{{ \"ab\".ljust(4, \"*\") }}|{{ \"ab\".rjust(4) }}|{{ \"ab\".center(6) }}|{{ \"prefix-x\".removeprefix(\"prefix-\") }}", "a/ /b0012-001ab**|  ab|  ab  |x"),
        Case("{{ \"123\".isdigit() }}{{ \"abc\".isalpha() }}{{ \" \".isspace() }}{{ \"abc\".islower() }}{{ \"ABC\".isupper() }}{{ \"a1\".isalnum() }}", "TrueTrueTrueTrueTrueTrue"),
        Case("{{ \"<think>x</think>answer\".split(\"</think>\")[-1] }}|{{ content.split(\"</think>\")[0].rstrip(\"\\n\").split(\"<think>\")[-1].lstrip(\"\\n\") }}", context: #"{"content": "<think>\nreason\n</think>\n\nanswer"}"#, "answer|reason"),
    ])
    func stringMethods(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// dict and list methods (including in-place mutation, which transformers' sandbox forbids but is harmless).
    @Test(arguments: [
        Case("{{ d.items()|list|length }}{{ d.items()|map(\"last\")|list }}{{ d.keys()|list }}{{ d.values()|list }}{{ d.get(\"a\") }}{{ d.get(\"z\", 9) }}{{ d.get(\"z\") }}", context: #"{"d": {"a": 1, "b": [2, 3]}}"#, "2[1, [2, 3]]['a', 'b'][1, [2, 3]]19None"),
        Case("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", context: #"{"d": {"a": 1, "b": [2, 3]}}"#, "a=1;b=[2, 3];"),
        Case("{{ [1, 2, 3].index(2) }}{{ [1, 2, 2].count(2) }}{{ {\"a\": 1}.get(\"a\") }}", "121"),
    ])
    func dictAndListMethods(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Dicts built in a template may have int, float, bool and None keys, as in Python.
    @Test(arguments: [
        Case("{{ {1: 2, \"1\": 3} }}|{{ {1: 2}[1] }}|{{ {1: 2}|tojson }}|{{ {none: 1, true: 2, 1.5: 3}|tojson }}|{{ 1 in {1: 2} }}|{{ {1.0: 5}[1] }}", "{1: 2, '1': 3}|2|{\"1\": 2}|{\"null\": 1, \"true\": 2, \"1.5\": 3}|True|5"),
        Case("{% for k, v in {1024: 256, 2048: 512}|dictsort %}{{ k + 1 }}:{{ v }} {% endfor %}", "1025:256 2049:512 "),
    ])
    func nonStringKeys(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Markup from |safe and |escape: "+" escapes the plain side, "~" does not.
    @Test(arguments: [
        Case("{{ (\"<\"|safe + \"<\") }}|{{ \"<\" + \"<\"|safe }}|{{ (\"<\"|safe) ~ \"<\" }}|{{ (\"<\"|safe) * 2 }}|{{ \"<\"|e|e }}|{{ \"<b>\"|escape }}|{{ (\"a<\"|safe)|upper + \"<\" }}", "<&lt;|&lt;<|<<|<<|&lt;|&lt;b&gt;|A<&lt;"),
    ])
    func markup(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }
}
