// Filters, one row per behaviour, including argument forms templates use.
import MuseEngine
import Testing

/// Expected strings are Python jinja2's output under transformers' settings (Tools/reference/gen_tables.py).
@Suite struct FilterTests {
    /// Text filters.
    @Test(arguments: [
        Case("[{{ \"  x  \"|trim }}|{{ \"xxaxx\"|trim(\"x\") }}|{{ 5|trim }}]", "[x|a|5]"),
        Case("{{ \"hello world-foo(bar\"|title }}|{{ \"hELLO wORLD\"|capitalize }}|{{ \"AbC\"|lower }}|{{ \"abc\"|upper }}", "Hello World-Foo(Bar|Hello world|abc|ABC"),
        Case("{{ \"a-b\"|replace(\"-\", \"+\") }}{{ \"aaa\"|replace(\"a\", \"b\", 2) }}{{ \"a\\nb\"|replace(\"\\n\", \" \") }}", "a+bbbaa b"),
        Case("{{ \"a\\nb\\n\\nc\"|indent(2) }}|{{ \"a\\nb\"|indent(2, true) }}|{{ \"x\\n\\ny\\n\"|indent(2, true, true) }}|{{ \"x\\ny\"|indent(\"> \") }}", "a\n  b\n\n  c|  a\n  b|  x\n  \n  y\n  |x\n> y"),
        Case("{{ \"abc\"|center(7) }}|{{ \"Hello World\"|truncate(5) }}|{{ \"Hello World\"|truncate(5, true) }}|{{ \"a b c\"|wordcount }}", "  abc  |He...|He...|3"),
        Case("{{ \"%s-%d\"|format(\"a\", 3) }}{{ 3|string + \"x\" }}{{ 1.0|string }}{{ none|string }}{{ [1]|string }}", "a-33x1.0None[1]"),
    ])
    func textFilters(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// length, first/last, list, reverse, join, sort, unique, min/max/sum, batch.
    @Test(arguments: [
        Case("{{ \"é\"|length }}{{ \"😀x\"|length }}{{ [1, 2]|count }}{{ {\"a\": 1}|length }}{{ missing|length }}", "12210"),
        Case("{{ \"abc\"|list }}{{ \"abc\"|first }}{{ \"abc\"|last }}{{ {\"a\": 1, \"b\": 2}|first }}{{ {\"a\": 1, \"b\": 2}|last }}{{ []|first }}|{{ [1, 2, 3]|reverse|list }}{{ \"abc\"|reverse }}", "['a', 'b', 'c']acab|[3, 2, 1]cba"),
        Case("{{ [1, 2, 3]|join }}|{{ [1, 2, 3]|join(\", \") }}|{{ [{\"n\": \"a\"}, {\"n\": \"b\"}]|join(\"-\", attribute=\"n\") }}", "123|1, 2, 3|a-b"),
        Case("{{ [3, 1, 2]|sort }}{{ [\"b\", \"A\", \"a\"]|sort }}{{ [\"B\", \"a\", \"C\"]|sort(reverse=true) }}{{ [\"B\", \"a\", \"C\"]|sort(case_sensitive=true) }}", "[1, 2, 3]['A', 'a', 'b']['C', 'B', 'a']['B', 'C', 'a']"),
        Case("{{ [\"b\", \"A\", \"a\"]|unique|list }}{{ [\"a\", \"A\"]|unique(case_sensitive=true)|list }}{{ [1, 2, 3]|sum }}{{ [1, 2.5, true]|sum }}{{ [1, 2, 3]|min }}{{ [1, 2, 3]|max }}{{ []|max }}", "['b', 'A']['a', 'A']64.513"),
        Case("{{ [1, 2, 3, 4, 5]|batch(2)|list }}{{ [1, 2, 3]|batch(2, 0)|list }}", "[[1, 2], [3, 4], [5]][[1, 2], [3, 0]]"),
    ])
    func sequenceFilters(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// selectattr/rejectattr/map/sort/sum/min/max/unique with attributes.
    @Test(arguments: [
        Case("{{ users|selectattr(\"active\")|map(attribute=\"name\")|list }}{{ users|rejectattr(\"active\")|map(attribute=\"name\")|list }}{{ users|selectattr(\"age\", \"gt\", 30)|list|length }}", context: #"{"users": [{"name": "bob", "age": 40, "active": true, "tags": ["x"]}, {"name": "al", "age": 25, "active": false, "tags": []}, {"name": "cy", "age": 40, "active": true, "tags": ["z", "w"]}]}"#, "['bob', 'cy']['al']2"),
        Case("{{ users|sort(attribute=\"age\")|map(attribute=\"name\")|join }}|{{ users|sort(attribute=\"age,name\", reverse=true)|map(attribute=\"name\")|join }}", context: #"{"users": [{"name": "bob", "age": 40, "active": true, "tags": ["x"]}, {"name": "al", "age": 25, "active": false, "tags": []}, {"name": "cy", "age": 40, "active": true, "tags": ["z", "w"]}]}"#, "albobcy|cybobal"),
        Case("{{ users|map(attribute=\"age\")|sum }} {{ users|sum(attribute=\"age\") }} {{ users|max(attribute=\"age\") }} {{ users|min(attribute=\"name\") }} {{ users|unique(attribute=\"active\")|list|length }}", context: #"{"users": [{"name": "bob", "age": 40, "active": true, "tags": ["x"]}, {"name": "al", "age": 25, "active": false, "tags": []}, {"name": "cy", "age": 40, "active": true, "tags": ["z", "w"]}]}"#, "105 105 {'name': 'bob', 'age': 40, 'active': True, 'tags': ['x']} {'name': 'al', 'age': 25, 'active': False, 'tags': []} 2"),
        Case("{{ users|map(attribute=\"tags.0\")|list }}{{ users|map(attribute=\"missing\", default=\"?\")|list }}{{ users|first|attr(\"name\") }}", context: #"{"users": [{"name": "bob", "age": 40, "active": true, "tags": ["x"]}, {"name": "al", "age": 25, "active": false, "tags": []}, {"name": "cy", "age": 40, "active": true, "tags": ["z", "w"]}]}"#, "['x', Undefined, 'z']['?', '?', '?']"),
        Case("{{ messages|selectattr(\"role\", \"equalto\", \"user\")|map(attribute=\"content\")|join(\",\") }}{{ messages|selectattr(\"role\", \"in\", [\"user\"])|list|length }}", context: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#, "a1"),
        Case("{{ none|selectattr(\"a\")|list }}{{ none|map(attribute=\"a\")|list }}", "[][]"),
    ])
    func attributeFilters(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// select/reject and map with a filter name.
    @Test(arguments: [
        Case("{{ [1, 0, 2]|select|list }}{{ [1, 2, 3]|select(\"odd\")|list }}{{ [1, 2, 3]|reject(\"odd\")|list }}{{ [1, 2, 3, 4]|select(\"divisibleby\", 2)|list }}{{ [1, 2, 3, 4]|select(\">\", 2)|list }}", "[1, 2][1, 3][2][2, 4][3, 4]"),
        Case("{{ [\"a\", \"b\"]|map(\"upper\")|list }}{{ [[1, 2], [3]]|map(\"length\")|list }}{{ [\"a\", \"b\"]|map(\"replace\", \"a\", \"z\")|list }}{{ [1, 2, 3]|map(\"string\")|join(\"+\") }}", "['A', 'B'][2, 1]['z', 'b']1+2+3"),
    ])
    func testFilters(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// int, float, round, abs, default, items, dictsort.
    @Test(arguments: [
        Case("{{ \"42.7\"|int }} {{ \"abc\"|int }} {{ \"0x1A\"|int(0, 16) }} {{ 3.9|int }} {{ -1.5|int }} {{ \" 12 \"|int }} {{ \"x\"|int(7) }} {{ true|int }} {{ none|int }}", "42 0 26 3 -1 12 7 1 0"),
        Case("{{ \"3\"|float }} {{ 7|float }} {{ \"x\"|float }} {{ \"1e3\"|float }} {{ \"-1.5e2\"|float }} {{ \"x\"|float(9) }}", "3.0 7.0 0.0 1000.0 -150.0 9"),
        Case("{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ -2.5|round }} {{ 2.4|round(0, \"ceil\") }} {{ 2.5|round(0, \"floor\") }} {{ 5|round }} {{ 1234.5678|round(-2) }}", "2.0 4.0 2.67 -2.0 3.0 2.0 5 1200.0"),
        Case("{{ -3|abs }} {{ -2.5|abs }} {{ none|default(\"d\") }} {{ missing|default(\"d\") }} {{ \"\"|default(\"d\", true) }} {{ missing|d(\"z\") }} {{ 0|d(5) }}", "3 2.5 None d d z 0"),
        Case("{{ d|items|map(\"first\")|list }}{{ {\"b\": 1, \"a\": 2}|dictsort|map(\"first\")|list }}{{ {\"b\": 2, \"a\": 1}|dictsort(false, \"value\")|map(\"last\")|list }}{{ missing|items|list }}", context: #"{"d": {"a": 1, "b": [2, 3]}}"#, "['a', 'b']['a', 'b'][1, 2][]"),
    ])
    func conversionFilters(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }
}
