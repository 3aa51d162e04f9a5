// Whitespace control: trim_blocks, lstrip_blocks, "-" and "+" modifiers, comments, raw.
import MuseEngine
import Testing

/// Expected strings are Python jinja2's output under transformers' settings (Tools/reference/gen_tables.py).
@Suite struct WhitespaceTests {
    /// Block tags swallow their own line: indentation before and the newline after.
    @Test(arguments: [
        Case("a\n  {% if true %}\n  b\n  {% endif %}\nc", "a\n  b\nc"),
        Case("{% for x in [1, 2] %}\n  - {{ x }}\n{% endfor %}\n", "  - 1\n  - 2\n"),
        Case("a {% if true %}b{% endif %} c", "a b c"),
        // Variable tags are not stripped.
        Case("a\n  {{ \"x\" }}\n  z", "a\n  x\n  z"),
        Case("  {% if true %}x{% endif %}  \n", "x  "),
        Case("\t{%- if true %}x\n{% endif %}", "x\n"),
    ])
    func trimBlocksAndLstripBlocks(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// "-" strips all whitespace, newlines included, on its side.
    @Test(arguments: [
        Case("a  {%- if true -%}  b  {%- endif -%}  c", "abc"),
        Case("{{- \"a\" -}}\n\n  {{- \"b\" }}  {{ \"c\" -}}  d", "ab  cd"),
        Case("x\n\n{{- 1 }}", "x1"),
        Case("{{ 1 -}}\n\n y", "1y"),
    ])
    func minusModifiers(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// "+" keeps what lstrip_blocks and trim_blocks would remove.
    @Test(arguments: [
        Case("a\n  {%+ if true %}b{% endif +%}\nc", "a\n  b\nc"),
        Case("  {%+ if true %}x{% endif %}", "  x"),
    ])
    func plusModifiers(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// Comments vanish and obey the same trimming as blocks.
    @Test(arguments: [
        Case("a\n  {# comment #}\n  d", "a\n  d"),
        Case("a\n  {#- comment -#}\n  d", "ad"),
        Case("a{# {{ not parsed }} {% if %} #}b", "ab"),
        Case("{# multi\nline #}\nx", "x"),
    ])
    func comments(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }

    /// raw blocks, CRLF normalisation, and the single trailing newline jinja2 drops.
    @Test(arguments: [
        Case("  {% raw %}{{ x }}{% endraw %}\nz", "{{ x }}z"),
        Case("{%- raw -%}  {% if %}  {%- endraw -%}  !", "{% if %}!"),
        Case("line1\r\nline2\r{{ \"x\" }}\n", "line1\nline2\nx"),
        Case("{% if true %}x{% endif %}\n", "x"),
        Case("{% if true %}x{% endif %}\n\n", "x"),
        Case("text\n", "text"),
        Case("text\n\n", "text\n"),
    ])
    func rawAndNewlines(_ row: Case) throws {
        #expect(try row.render() == row.expected)
    }
}
