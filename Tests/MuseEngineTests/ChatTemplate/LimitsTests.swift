// Hostile templates must end with a typed error, never hang, exhaust memory or overflow the stack.
import MuseEngine
import Testing

@Suite struct LimitsTests {
    private func isLimit(_ error: ChatTemplateError?) -> Bool {
        if case .limitExceeded? = error { return true }
        return false
    }

    @Test func outputSizeIsBounded() throws {
        let limits = ChatTemplate.Limits(maxOutputBytes: 5_000)
        #expect(isLimit(renderError("{% for i in range(1000) %}0123456789{% endfor %}", limits: limits)))
        #expect(try render("{% for i in range(100) %}0123456789{% endfor %}", limits: limits).count == 1_000)
    }

    @Test func nestedLoopsHitTheStepBudget() {
        let limits = ChatTemplate.Limits(maxSteps: 50_000)
        let template = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
        #expect(isLimit(renderError(template, limits: limits)))
    }

    @Test func defaultBudgetStopsQuadraticBlowUp() {
        // 10^6 x 10^6 iterations would run for hours; the default step budget ends it.
        let template = "{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}"
        #expect(isLimit(renderError(template, limits: ChatTemplate.Limits(maxSteps: 200_000))))
    }

    @Test func hugeRangesAreRefused() {
        #expect(isLimit(renderError("{% for i in range(10**12) %}{% endfor %}")))
        #expect(isLimit(renderError("{{ range(-9223372036854775807, 9223372036854775807)|length }}")))
    }

    @Test func runawayGrowthIsRefused() {
        let strings = "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
        #expect(isLimit(renderError(strings)))
        let lists = "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"
        #expect(isLimit(renderError(lists)))
        #expect(isLimit(renderError("{{ 'ab' * 100000000 }}")))
        #expect(isLimit(renderError("{{ [1, 2] * 100000000 }}")))
        #expect(isLimit(renderError("{{ 'x'.ljust(1000000000) }}")))
    }

    @Test func deeplyNestedValuesAreRefused() {
        let template = "{% set ns = namespace(v=[]) %}{% for i in range(100000) %}{% set ns.v = [ns.v] %}{% endfor %}"
        #expect(isLimit(renderError(template)))
        let selfReference = "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"
        #expect(renderError(selfReference) != nil)
    }

    @Test func unboundedRecursionIsStopped() throws {
        #expect(isLimit(renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")))
        let limits = ChatTemplate.Limits(maxMacroDepth: 5)
        #expect(isLimit(renderError("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(10) }}", limits: limits)))
        #expect(try render("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}x", limits: limits) == "x")
    }

    /// A deeply nested template, named shortly so test reports stay readable.
    struct DeepTemplate: Sendable, CustomTestStringConvertible {
        let name: String
        let source: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        DeepTemplate(name: "5,000 parentheses", source: "{{ " + String(repeating: "(", count: 5_000) + "1" + String(repeating: ")", count: 5_000) + " }}"),
        DeepTemplate(name: "5,000 brackets", source: "{{ " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + " }}"),
        DeepTemplate(name: "5,000 nots", source: "{{ " + String(repeating: "not ", count: 5_000) + "x }}"),
        DeepTemplate(name: "5,000 unary minuses", source: "{{ " + String(repeating: "- ", count: 5_000) + "1 }}"),
        DeepTemplate(name: "50,000 additions", source: "{{ 1" + String(repeating: " + 1", count: 50_000) + " }}"),
        DeepTemplate(name: "50,000 attributes", source: "{{ x" + String(repeating: ".y", count: 50_000) + " }}"),
        DeepTemplate(name: "50,000 filters", source: "{{ x" + String(repeating: "|trim", count: 50_000) + " }}"),
        DeepTemplate(name: "5,000 nested ifs", source: String(repeating: "{% if true %}", count: 5_000) + String(repeating: "{% endif %}", count: 5_000)),
    ])
    func deepSyntaxIsRejectedWithoutCrashing(_ template: DeepTemplate) {
        guard case .syntax(let message, _, _)? = renderError(template.source) else {
            Issue.record("expected a syntax error")
            return
        }
        #expect(message.contains("nested too deeply"))
    }

    @Test func moderateNestingStillWorks() throws {
        let sum = "{{ 0" + String(repeating: " + 1", count: 300) + " }}"
        #expect(try render(sum) == "300")
        let parens = "{{ " + String(repeating: "(", count: 100) + "7" + String(repeating: ")", count: 100) + " }}"
        #expect(try render(parens) == "7")
    }
}
