// Shared helpers for the test suites: a template/expectation row and a one-call renderer.
import Foundation
import MuseEngine
import Testing

/// One row of a table-driven test: a template, optional JSON context, and the exact output
/// Python jinja2 (configured as transformers configures it) produces.
struct Case: Sendable, CustomTestStringConvertible {
    let template: String
    let context: String?
    let expected: String

    init(_ template: String, _ expected: String) {
        self.template = template
        self.context = nil
        self.expected = expected
    }

    init(_ template: String, context: String, _ expected: String) {
        self.template = template
        self.context = context
        self.expected = expected
    }

    var testDescription: String { template.debugDescription }

    func render() throws -> String {
        var variables: [String: JinjaValue] = [:]
        if let context {
            for entry in try JinjaValue(jsonString: context).objectValue ?? JinjaObject() { variables[entry.key] = entry.value }
        }
        return try ChatTemplate(template).render(variables)
    }
}

func render(_ template: String, _ context: [String: JinjaValue] = [:], limits: ChatTemplate.Limits = .default) throws -> String {
    try ChatTemplate(template, limits: limits).render(context)
}

/// The error a template throws, parsing or rendering; nil when it renders.
func renderError(_ template: String, _ context: [String: JinjaValue] = [:],
                 limits: ChatTemplate.Limits = .default) -> ChatTemplateError? {
    do {
        _ = try render(template, context, limits: limits)
        return nil
    } catch let error as ChatTemplateError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}
