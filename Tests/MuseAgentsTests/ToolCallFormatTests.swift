// Tool-call formats: each family's calls read back exactly, malformed calls reported without losing
// their siblings, rendered calls parsed back to themselves, and cut-off text handled safely.
import Foundation
import MuseCore
import Testing
@testable import MuseAgents
@testable import MuseTools

@Suite struct ToolCallFormatTests {
    // MARK: Hermes

    @Test func hermesOneCall() {
        let parsed = ToolCallFormat.hermes.parse("""
            <tool_call>
            {"name": "calculator", "arguments": {"expression": "2 + 2"}}
            </tool_call>
            """)
        #expect(parsed == ParsedToolCalls(content: "", calls: [
            ToolCall(id: "call_0", name: "calculator", arguments: #"{"expression":"2 + 2"}"#),
        ]))
    }

    @Test func hermesParallelCallsWithTextAround() {
        let parsed = ToolCallFormat.hermes.parse("""
            I'll look up both.
            <tool_call>
            {"name": "units", "arguments": {"value": 5, "from": "mi", "to": "km"}}
            </tool_call>
            <tool_call>
            {"name": "datetime", "arguments": {"operation": "now", "time_zone": "Asia/Tokyo"}}
            </tool_call>
            Done.
            """, idPrefix: "t")
        #expect(parsed.content == "I'll look up both.\nDone.")
        #expect(parsed.errors.isEmpty)
        #expect(parsed.calls == [
            ToolCall(id: "t0", name: "units", arguments: #"{"value":5,"from":"mi","to":"km"}"#),
            ToolCall(id: "t1", name: "datetime", arguments: #"{"operation":"now","time_zone":"Asia/Tokyo"}"#),
        ])
    }

    @Test func argumentsKeepTheModelsOrderAndExactNumbers() {
        let parsed = ToolCallFormat.hermes.parse(#"<tool_call>{"name": "f", "arguments": {"user_id": 12345678901234567890, "z": 1.10, "a": -0}}</tool_call>"#)
        #expect(parsed.calls == [ToolCall(id: "call_0", name: "f", arguments: #"{"user_id":12345678901234567890,"z":1.10,"a":-0}"#)])
    }

    @Test func hermesPlainAnswerHasNoCalls() {
        let parsed = ToolCallFormat.hermes.parse("  The answer is 4.\n")
        #expect(parsed == ParsedToolCalls(content: "The answer is 4."))
    }

    @Test func hermesMalformedCallsAreReportedAndValidSiblingsKept() throws {
        let parsed = ToolCallFormat.hermes.parse("""
            <tool_call>{"name": "a", "arguments": {"x": }}</tool_call>
            <tool_call>{"name": "b", "arguments": {"x": 1}}</tool_call>
            <tool_call>{"arguments": {"x": 1}}</tool_call>
            <tool_call>{"name": "c", "arguments": [1, 2]}</tool_call>
            <tool_call>{"name": "d", "arguments": {}}</tool_call>
            <tool_call>{"name": "e", "arguments": {
            """)
        #expect(parsed.calls == [
            ToolCall(id: "call_0", name: "b", arguments: #"{"x":1}"#),
            ToolCall(id: "call_1", name: "d", arguments: "{}"),
        ])
        try #require(parsed.errors.count == 4)
        #expect(parsed.errors[0].hasPrefix("tool call 1: the JSON is not valid: "))
        #expect(parsed.errors[1].hasPrefix(#"tool call 3: the "name" field is missing"#))
        #expect(parsed.errors[2].hasPrefix(#"tool call 4: "arguments" must be a JSON object, not an array"#))
        #expect(parsed.errors[3].hasPrefix("tool call 6: the <tool_call> block is not closed with </tool_call>"))
        // Each message tells the model the shape to use.
        #expect(parsed.errors.allSatisfy { $0.contains(#"<tool_call>{"name": "<function-name>", "arguments": {...}}</tool_call>"#) })
    }

    @Test func hermesBlockInterruptedByAnotherIsUnterminated() {
        let parsed = ToolCallFormat.hermes.parse("""
            <tool_call>{"name": "a", "arguments": {}
            <tool_call>{"name": "b", "arguments": {}}</tool_call>
            """)
        #expect(parsed.calls.map(\.name) == ["b"])
        #expect(parsed.errors.count == 1)
        #expect(parsed.errors.first?.hasPrefix("tool call 1: the <tool_call> block is not closed") == true)
    }

    @Test func argumentsGivenAsAStringAreDecoded() {
        let parsed = ToolCallFormat.hermes.parse(#"""
            <tool_call>{"name": "f", "arguments": "{\"b\": [1, 2], \"a\": \"x\"}"}</tool_call>
            <tool_call>{"name": "g", "arguments": "not json"}</tool_call>
            <tool_call>{"name": "h", "arguments": ""}</tool_call>
            """#)
        #expect(parsed.calls == [
            ToolCall(id: "call_0", name: "f", arguments: #"{"b":[1,2],"a":"x"}"#),
            ToolCall(id: "call_1", name: "h", arguments: "{}"),
        ])
        #expect(parsed.errors.count == 1)
        #expect(parsed.errors.first?.hasPrefix(#"tool call 2: "arguments" is a string that does not hold a JSON object"#) == true)
    }

    @Test func openAIStyleFunctionObjectIsAccepted() {
        let parsed = ToolCallFormat.hermes.parse(#"<tool_call>{"type": "function", "function": {"name": "f", "arguments": {"k": null}}}</tool_call>"#)
        #expect(parsed.calls == [ToolCall(id: "call_0", name: "f", arguments: #"{"k":null}"#)])
    }

    // MARK: Llama 3

    @Test func llama3OneCallWithParameters() {
        let parsed = ToolCallFormat.llama3.parse(#"{"name": "units", "parameters": {"value": 2.5, "from": "kg", "to": "lb"}}"#)
        #expect(parsed == ParsedToolCalls(content: "", calls: [
            ToolCall(id: "call_0", name: "units", arguments: #"{"value":2.5,"from":"kg","to":"lb"}"#),
        ]))
    }

    @Test func llama3PythonTagAndArgumentsKey() {
        let parsed = ToolCallFormat.llama3.parse(#"Let me check.<|python_tag|>{"name": "f", "arguments": {"q": "a/b"}}"#)
        #expect(parsed.content == "Let me check.")
        #expect(parsed.calls == [ToolCall(id: "call_0", name: "f", arguments: #"{"q":"a/b"}"#)])
    }

    @Test func llama3ParallelCallsSeparatedBySemicolonsAndNewlines() {
        let parsed = ToolCallFormat.llama3.parse("""
            {"name": "a", "parameters": {"n": 1}}; {"name": "b", "parameters": {"s": "x; y } ]"}}
            {"name": "c", "parameters": {}}
            """)
        #expect(parsed.errors.isEmpty)
        #expect(parsed.calls == [
            ToolCall(id: "call_0", name: "a", arguments: #"{"n":1}"#),
            ToolCall(id: "call_1", name: "b", arguments: #"{"s":"x; y } ]"}"#),
            ToolCall(id: "call_2", name: "c", arguments: "{}"),
        ])
    }

    @Test(arguments: ["The answer is 4.", #"{"answer": 4}"#, "[1, 2, 3]", #"{"name": "Alice", "age": 30}"#, #"{"name": "Al"#])
    func llama3PlainAnswersAreContent(_ reply: String) {
        #expect(ToolCallFormat.llama3.parse(reply) == ParsedToolCalls(content: reply))
    }

    @Test func llama3MalformedCalls() throws {
        let parsed = ToolCallFormat.llama3.parse("""
            {"name": "a", "parameters": {"n": 1}}
            {"name": "b", "parameters": [1]}
            {"name": 7, "parameters": {}}
            {"name": "c", "parameters": {"x": tru}}
            {"name": "d", "parameters": {"n": 1}
            """)
        #expect(parsed.calls == [ToolCall(id: "call_0", name: "a", arguments: #"{"n":1}"#)])
        try #require(parsed.errors.count == 4)
        #expect(parsed.errors[0].hasPrefix(#"tool call 2: "arguments" must be a JSON object, not an array"#))
        #expect(parsed.errors[1].hasPrefix(#"tool call 3: "name" must be a non-empty string"#))
        #expect(parsed.errors[2].hasPrefix("tool call 4: the JSON is not valid: "))
        #expect(parsed.errors[3].hasPrefix("tool call 5: the JSON is not valid: the text ends before the object is closed"))
        #expect(parsed.errors[0].hasSuffix(#"Write each call as {"name": "<function-name>", "parameters": {...}}."#))
    }

    @Test func llama3PythonTagWithoutJSONIsAnError() {
        let parsed = ToolCallFormat.llama3.parse(#"<|python_tag|>brave_search.call(query="swift")"#)
        #expect(parsed.calls.isEmpty)
        #expect(parsed.errors.count == 1)
        #expect(parsed.errors.first?.hasPrefix("tool call 1: expected a JSON object after <|python_tag|>") == true)
    }

    // MARK: Mistral

    @Test func mistralOneCall() {
        let parsed = ToolCallFormat.mistral.parse(#"[TOOL_CALLS][{"name": "calculator", "arguments": {"expression": "7*6"}}]"#)
        #expect(parsed == ParsedToolCalls(content: "", calls: [
            ToolCall(id: "call_0", name: "calculator", arguments: #"{"expression":"7*6"}"#),
        ]))
    }

    @Test func mistralParallelCallsWithTextBefore() {
        let parsed = ToolCallFormat.mistral.parse(#"Checking. [TOOL_CALLS] [{"name": "a", "arguments": {"x": "]"}}, {"name": "b", "arguments": "{\"y\": 2}"}]"#)
        #expect(parsed.content == "Checking.")
        #expect(parsed.errors.isEmpty)
        #expect(parsed.calls == [
            ToolCall(id: "call_0", name: "a", arguments: #"{"x":"]"}"#),
            ToolCall(id: "call_1", name: "b", arguments: #"{"y":2}"#),
        ])
    }

    @Test func mistralNewerNameArgsShape() {
        let parsed = ToolCallFormat.mistral.parse(#"[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]units[CALL_ID]a1b2c3d4e[ARGS]{"value": 1, "from": "h", "to": "min"}"#)
        #expect(parsed.errors.isEmpty)
        #expect(parsed.calls == [
            ToolCall(id: "call_0", name: "get_weather", arguments: #"{"city":"Paris"}"#),
            ToolCall(id: "call_1", name: "units", arguments: #"{"value":1,"from":"h","to":"min"}"#),
        ])
    }

    @Test func mistralMalformedElementsKeepTheirSiblings() throws {
        let parsed = ToolCallFormat.mistral.parse(#"[TOOL_CALLS][{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": }}, {"arguments": {}}, 5, {"name": "c", "arguments": {"n": 1}}"#)
        #expect(parsed.calls == [
            ToolCall(id: "call_0", name: "a", arguments: "{}"),
            ToolCall(id: "call_1", name: "c", arguments: #"{"n":1}"#),
        ])
        try #require(parsed.errors.count == 4)
        #expect(parsed.errors[0].hasPrefix("tool call 2: the JSON is not valid: "))
        #expect(parsed.errors[1].hasPrefix(#"tool call 3: the "name" field is missing"#))
        #expect(parsed.errors[2].hasPrefix("tool call 4: a call must be a JSON object, not a number"))
        #expect(parsed.errors[3].hasPrefix("tool call 6: the JSON is not valid: the list of calls is not closed with ]"))
    }

    @Test func mistralNameWithoutArgsIsAnError() {
        let parsed = ToolCallFormat.mistral.parse(#"[TOOL_CALLS]get_weather {"city": "Paris"}"#)
        #expect(parsed.calls.isEmpty)
        #expect(parsed.errors.first?.hasPrefix("tool call 1: expected a function name and [ARGS] after [TOOL_CALLS]") == true)
        let spaced = ToolCallFormat.mistral.parse(#"[TOOL_CALLS]get weather[ARGS]{}[TOOL_CALLS]ok[ARGS]{}"#)
        #expect(spaced.calls == [ToolCall(id: "call_0", name: "ok", arguments: "{}")])
        #expect(spaced.errors.first?.hasPrefix(#"tool call 1: expected one function name before [ARGS], got "get weather""#) == true)
    }

    // MARK: All formats

    static let sampleCalls = [
        ToolCall(id: "x", name: "calculator", arguments: #"{"exact":true,"expression":"(1 + 2) * 3"}"#),
        ToolCall(id: "y", name: "notes", arguments: #"{"items":[1,2.5,{"k":"v"}],"text":"brackets } ] and \"quotes\", café ☕️"}"#),
        ToolCall(id: "z", name: "clock", arguments: "{}"),
    ]

    @Test(arguments: ToolCallFormat.allCases)
    func renderedCallsParseBackToThemselves(_ format: ToolCallFormat) {
        let rendered = format.renderCall(Self.sampleCalls)
        #expect(rendered.hasPrefix(format.callPrefix))
        let parsed = format.parse(rendered)
        #expect(parsed.errors.isEmpty)
        #expect(parsed.content.isEmpty)
        #expect(parsed.calls.map(\.name) == Self.sampleCalls.map(\.name))
        #expect(parsed.calls.map(\.arguments) == Self.sampleCalls.map(\.arguments))
        #expect(parsed.calls.map(\.id) == ["call_0", "call_1", "call_2"])
        #expect(format.renderCall([]) == "")
    }

    @Test(arguments: ToolCallFormat.allCases)
    func renderedArgumentsAreCompactedInTheirOrderAndInvalidOnesStayJSON(_ format: ToolCallFormat) {
        let rendered = format.renderCall([
            ToolCall(id: "a", name: "f", arguments: "{\n  \"b\": 1,\n  \"a\": 2\n}"),
            ToolCall(id: "b", name: "g", arguments: "oops"),
        ])
        let parsed = format.parse(rendered)
        #expect(parsed.calls == [ToolCall(id: "call_0", name: "f", arguments: #"{"b":1,"a":2}"#)])
        #expect(parsed.errors.count == 1)
        #expect(parsed.errors.first?.hasPrefix(#"tool call 2: "arguments" is a string that does not hold a JSON object"#) == true)
    }

    /// A reply cut anywhere (as a stream is, or a reply at its token limit) never crashes the
    /// parser and never yields a call that the whole reply does not make.
    @Test(arguments: ToolCallFormat.allCases)
    func everyPrefixParsesToAPrefixOfTheCalls(_ format: ToolCallFormat) {
        let lead = format == .llama3 ? "<|python_tag|>" : "Let me work that out. "
        let text = lead + format.renderCall(Self.sampleCalls) + (format == .llama3 ? "" : "\nThat's all.")
        let full = format.parse(text)
        #expect(full.calls.count == 3)
        #expect(full.errors.isEmpty)
        var index = text.startIndex
        while true {
            let parsed = format.parse(String(text[..<index]))
            #expect(parsed.calls.count <= full.calls.count)
            #expect(Array(full.calls.prefix(parsed.calls.count)) == parsed.calls, "cut at \(text.distance(from: text.startIndex, to: index))")
            guard index < text.endIndex else { break }
            index = text.index(after: index)
        }
    }

    @Test func hermesEveryUnicodeScalarCutIsSafe() {
        let text = "Résumé ☕️ " + ToolCallFormat.hermes.renderCall(Self.sampleCalls)
        let scalars = Array(text.unicodeScalars)
        for count in 0...scalars.count {
            var prefix = String.UnicodeScalarView()
            prefix.append(contentsOf: scalars[..<count])
            let parsed = ToolCallFormat.hermes.parse(String(prefix))
            #expect(parsed.calls.count + parsed.errors.count <= 3)
        }
    }

    // MARK: Prompts

    static let tools: [any Tool] = [Calculator(), UnitsTool(), DateTimeTool()]

    @Test(arguments: ToolCallFormat.allCases)
    func promptListsEveryToolAndHowToCall(_ format: ToolCallFormat) throws {
        let prompt = format.render(tools: Self.tools)
        #expect(prompt == format.render(tools: Self.tools))
        for tool in Self.tools {
            #expect(prompt.contains(#""name": "\#(tool.name)""#))
            #expect(prompt.contains(tool.description))
            // The schema is listed as compact JSON, key for key in the tool's order.
            #expect(prompt.contains(try JSONValue.parse(tool.parametersSchema).jsonText))
        }
        switch format {
        case .hermes:
            #expect(prompt.contains("<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"))
        case .llama3:
            #expect(prompt.contains(#"{"name": function name, "parameters": dictionary of argument name and its value}"#))
        case .mistral:
            #expect(prompt.contains(#"[TOOL_CALLS][{"name": "<function-name>", "arguments": {"<argument>": "<value>"}}]"#))
        }
        #expect(format.render(tools: []) == "")
    }

    @Test func hermesToolLinesAreFunctionObjects() throws {
        let prompt = ToolCallFormat.hermes.render(tools: Self.tools)
        let inside = try #require(prompt.components(separatedBy: "<tools>\n").last?.components(separatedBy: "\n</tools>").first)
        let lines = inside.split(separator: "\n")
        #expect(lines.count == Self.tools.count)
        for (line, tool) in zip(lines, Self.tools) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["type"] as? String == "function")
            let function = try #require(object["function"] as? [String: Any])
            #expect(function["name"] as? String == tool.name)
            #expect(function["parameters"] is [String: Any])
        }
    }

    @Test func callPrefixes() {
        #expect(ToolCallFormat.hermes.callPrefix == "<tool_call>")
        #expect(ToolCallFormat.llama3.callPrefix == #"{"name": "#)
        #expect(ToolCallFormat.mistral.callPrefix == "[TOOL_CALLS]")
    }

    @Test func aClosingTagInsideAStringDoesNotCutTheCall() {
        let text = "<tool_call>\n{\"name\": \"echo\", \"arguments\": {\"text\": \"a</tool_call>b\"}}\n</tool_call>"
        let parsed = ToolCallFormat.hermes.parse(text)
        #expect(parsed.errors == [])
        #expect(parsed.calls.map(\.arguments) == [#"{"text":"a</tool_call>b"}"#])
    }
}
