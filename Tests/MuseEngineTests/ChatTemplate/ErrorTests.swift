// Failures are typed, located and readable: syntax positions, unsupported constructs named, raised messages intact.
import MuseEngine
import Testing

@Suite struct ErrorTests {
    @Test func syntaxErrorCarriesLineAndColumn() {
        let error = renderError("first line\n{{ 1 + }}")
        guard case .syntax(let message, let line, let column)? = error else {
            Issue.record("expected a syntax error, got \(String(describing: error))")
            return
        }
        #expect(line == 2)
        #expect(column == 8)
        #expect(message.contains("'}}'"))
        #expect(error?.description.hasPrefix("template syntax error at line 2, column 8:") == true)
    }

    @Test func unclosedBlockPointsAtItsOpeningTag() {
        let error = renderError("intro\n\n  {% for x in xs %}\n{{ x }}\n")
        guard case .syntax(let message, let line, let column)? = error else {
            Issue.record("expected a syntax error, got \(String(describing: error))")
            return
        }
        #expect(line == 3)
        #expect(column == 3)
        #expect(message.contains("'for'") && message.contains("'endfor'"))
    }

    @Test func innermostUnclosedBlockIsReported() {
        guard case .syntax(let message, let line, _)? = renderError("{% if a %}\n{% for b in c %}\n{% if d %}{% endif %}\n") else {
            Issue.record("expected a syntax error")
            return
        }
        #expect(line == 2)
        #expect(message.contains("'for'"))
    }

    @Test(arguments: [
        ("{% foo %}", "unknown tag 'foo'"),
        ("{% endif %}", "unknown tag 'endif'"),
        ("{% if x %}{% endfor %}{% endif %}", "unknown tag 'endfor'"),
        ("{{ (1 }}", "unexpected '}'"),
        ("{{ 1) }}", "unexpected ')'"),
        ("{{ [1, 2) }}", "unexpected ')', expected ']'"),
        ("{{ 'unterminated }}", "unexpected character"),
        ("{# never closed", "missing end of comment tag"),
        ("{% raw %}never closed", "missing end of raw directive"),
        ("{{ x", "unexpected end of template"),
        ("{% break %}", "'break' outside of a loop"),
        ("{{ '\\x4' }}", "truncated \\x escape"),
        ("{% macro m(a=1, b) %}{% endmacro %}", "non-default argument follows default argument"),
        ("{% set 1 = 2 %}", "expected a name"),
        ("{{ x is defined is defined }}", "cannot chain"),
        ("{% for x in y %}{% endfor extra %}", "expected end of statement block"),
    ])
    func syntaxErrors(_ template: String, _ fragment: String) {
        guard case .syntax(let message, _, _)? = renderError(template) else {
            Issue.record("expected a syntax error for \(template.debugDescription)")
            return
        }
        #expect(message.contains(fragment), "\(message)")
    }

    @Test func unsupportedFilterIsNamedWithItsLine() throws {
        let source = "a\n\n{{ x|xmlattr }}"
        let error = renderError(source, ["x": ["k": "v"]])
        #expect(error == .unsupported(construct: "filter 'xmlattr'", line: 3))
        #expect(error?.description == "unsupported filter 'xmlattr' at line 3")
        // Known up front, so a server can warn when it loads the model.
        #expect(try ChatTemplate(source).unsupportedFeatures == ["filter 'xmlattr' at line 3"])
    }

    @Test func unsupportedConstructsOnlyFailWhenReached() throws {
        #expect(try render("{% if false %}{{ x|wordwrap(3) }}{% endif %}ok") == "ok")
        #expect(renderError("{{ 1 is prime }}") == .unsupported(construct: "test 'prime'", line: 1))
        #expect(renderError("\n{{ 'a'.encode() }}") == .unsupported(construct: "string method 'encode'", line: 2))
    }

    @Test func unsupportedTagsFailAtParse() {
        #expect(renderError("x\n{% include 'other.jinja' %}") == .unsupported(construct: "tag 'include'", line: 2))
        #expect(renderError("{% extends 'base' %}") == .unsupported(construct: "tag 'extends'", line: 1))
        #expect(renderError("{% for x in y recursive %}{% endfor %}") == .unsupported(construct: "recursive for loop", line: 1))
    }

    @Test func raiseExceptionSurfacesTheTemplateMessage() {
        let template = "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with ' ~ 'a user message') }}{% endif %}"
        let error = renderError(template, ["messages": [["role": "system", "content": "x"]]])
        #expect(error == .raised("Conversation must start with a user message"))
        #expect(error?.description == "Conversation must start with a user message")
    }

    @Test func typeErrorsCarryTheLine() {
        #expect(renderError("{{ 'ok' }}\n{{ 'a' + 1 }}")
            == .typeError(message: "unsupported operand type(s) for +: 'str' and 'int'", line: 2))
        // '~' binds tighter than '+', as in jinja2.
        if case .typeError(_, let line)? = renderError("{{ 1 + 2 ~ 3 }}") { #expect(line == 1) } else { Issue.record("expected a type error") }
        if case .typeError(_, let line)? = renderError("\n\n{{ 'a' < 1 }}") { #expect(line == 3) } else { Issue.record("expected a type error") }
        if case .typeError? = renderError("{{ 'a'|trim(1, 2) }}") {} else { Issue.record("expected a type error") }
        if case .typeError? = renderError("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}") {} else { Issue.record("expected a type error") }
        if case .typeError? = renderError("{% for a, b in [1, 2] %}{% endfor %}") {} else { Issue.record("expected a type error") }
        if case .typeError? = renderError("{% for x in none %}{% endfor %}") {} else { Issue.record("expected a type error") }
    }

    @Test func runtimeErrors() {
        #expect(renderError("\n{{ 1 / 0 }}") == .runtime(message: "division by zero", line: 2))
        #expect(renderError("{{ nothing() }}") == .runtime(message: "'nothing' is undefined", line: 1))
        #expect(renderError("{{ 9223372036854775807 + 1 }}") == .runtime(message: "integer overflow", line: 1))
        if case .runtime(let message, _)? = renderError("{% set ns = namespace() %}{% set ns._secret = 1 %}") {
            #expect(message.contains("underscore"))
        } else {
            Issue.record("expected the namespace underscore check")
        }
        if case .runtime? = renderError("{{ range(1, 2, 0) }}") {} else { Issue.record("expected a runtime error") }
        if case .runtime? = renderError("{{ [1, 2][::0] }}") {} else { Issue.record("expected a runtime error") }
    }

    @Test func errorsInsideMacrosKeepTheirLine() {
        let template = "{% macro m() %}\n{{ 1 // 0 }}\n{% endmacro %}\n{{ m() }}"
        if case .runtime(_, let line)? = renderError(template) { #expect(line == 2) } else { Issue.record("expected a runtime error") }
    }
}
