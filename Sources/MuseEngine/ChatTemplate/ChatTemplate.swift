// Public entry point: parses a GGUF chat template once and renders it as transformers' apply_chat_template does.
import Foundation
import MuseCore

/// A parsed chat template. Parsing happens once in `init`; `render` is cheap, thread-safe and
/// never mutates the template.
public struct ChatTemplate: Sendable {
    /// Bounds that keep a hostile template from exhausting time, memory or stack.
    public struct Limits: Sendable, Equatable {
        /// Output of one render, and the size of any single string a template builds.
        public var maxOutputBytes: Int
        /// Loop iterations, macro calls and value-walk steps (equality, sorting) combined.
        public var maxSteps: Int
        /// How deeply macros may call one another (or themselves).
        public var maxMacroDepth: Int
        /// Largest list a template may build in one operation, e.g. `range(n)` or `list * n`.
        public var maxCollectionLength: Int

        public init(maxOutputBytes: Int = 10_000_000, maxSteps: Int = 10_000_000, maxMacroDepth: Int = 100,
                    maxCollectionLength: Int = 1_000_000)
        {
            self.maxOutputBytes = maxOutputBytes
            self.maxSteps = maxSteps
            self.maxMacroDepth = maxMacroDepth
            self.maxCollectionLength = maxCollectionLength
        }

        public static let `default` = Limits()
    }

    public let source: String
    public let limits: Limits
    /// Filters and tests the template names that this engine lacks. Rendering fails only when
    /// one is actually reached (jinja2 refuses unknown filters up front), so the common paths of
    /// such a template still render.
    public let unsupportedFeatures: [String]
    private let root: Scope

    public init(_ source: String, limits: Limits = .default) throws {
        self.source = source
        self.limits = limits
        let parsed = try JinjaParser.parse(source)
        root = parsed.root
        var missing: [String] = []
        for (name, line) in parsed.filters where !JinjaInterpreter.supportedFilters.contains(name) {
            missing.append("filter '\(name)' at line \(line)")
        }
        for (name, line) in parsed.tests where !JinjaInterpreter.supportedTests.contains(name) {
            missing.append("test '\(name)' at line \(line)")
        }
        unsupportedFeatures = missing
    }

    /// Renders with exactly the variables given (plus the globals every template gets:
    /// `range`, `namespace`, `dict`, `raise_exception`, `strftime_now`). `now` is the time
    /// `strftime_now` reports (local time zone), fixed per render so tests can pin it.
    public func render(_ context: [String: JinjaValue], now: Date = Date()) throws -> String {
        let interpreter = JinjaInterpreter(limits: limits, now: now)
        return try interpreter.render(root, context: context)
    }

    /// How a template that renders `tools` expects calls to be written, read from its source:
    /// Hermes/Qwen `<tool_call>` blocks, Mistral `[TOOL_CALLS]`, or Llama 3 JSON; nil when it
    /// does not render tools.
    public static func toolCallFormat(of source: String) -> ToolCallFormat? {
        guard source.contains("tools") else { return nil }
        if source.contains("<tool_call>") { return .hermes }
        if source.contains("[TOOL_CALLS]") { return .mistral }
        if source.contains("<|python_tag|>") || source.contains("\"parameters\"") { return .llama3 }
        return nil
    }

    /// Renders a conversation the way `apply_chat_template(..., tokenize=False)` does.
    /// `tools` is only defined when given. transformers passes `tools=None` instead; no template
    /// tested renders differently, but `extra: ["tools": .null]` reproduces that exactly.
    public func render(messages: [JinjaValue], tools: [JinjaValue]? = nil, addGenerationPrompt: Bool,
                       bosToken: String, eosToken: String, extra: [String: JinjaValue] = [:],
                       now: Date = Date()) throws -> String
    {
        var context = extra
        context["messages"] = .array(messages)
        if let tools { context["tools"] = .array(tools) }
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        context["bos_token"] = .string(bosToken)
        context["eos_token"] = .string(eosToken)
        return try render(context, now: now)
    }
}
