// Calls written as bare or fenced JSON instead of the format's tags: read as calls only when the
// whole reply is calls to offered tools with arguments their schemas accept, in every format, and
// never when tools are not offered; the format's own syntax still wins.
import Foundation
import MuseOpenAI
import Testing
@testable import MuseAgents
@testable import MuseCore
@testable import MuseTools

@Suite struct BareJSONCallTests {
    /// A caller-run tool with a closed schema, as the HTTP API declares them.
    static let weather = DeclaredTool(name: "get_weather", description: "The weather in a city", parametersSchema: """
        {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": ["integer", "null"]}}, \
        "required": ["city"], "additionalProperties": false}
        """)
    static let tools: [any Tool] = [Calculator(), UnitsTool(), DateTimeTool(), weather]
    static let specs = tools.map(ToolSpec.init)

    /// Qwen2.5-Coder-0.5B-Instruct's whole greedy reply, given the calculator in Hermes format.
    static let qwenReply = """
        ```json
        {
          "name": "calculator",
          "arguments": {
            "expression": "12.5 / 3480"
          }
        }
        ```
        """

    static func call(_ index: Int, _ name: String, _ arguments: String) -> ToolCall {
        ToolCall(id: "call_\(index)", name: name, arguments: arguments)
    }

    /// What `format` makes of `reply` when no tools are offered: the reply as text.
    static func isPlainText(_ reply: String, _ format: ToolCallFormat = .hermes) -> Bool {
        let parsed = format.parse(reply, tools: specs)
        return parsed == format.parse(reply) && parsed.calls.isEmpty && parsed.errors.isEmpty
    }

    @Test(arguments: ToolCallFormat.allCases)
    func theFencedQwenReplyIsOneCall(_ format: ToolCallFormat) {
        #expect(format.parse(Self.qwenReply, tools: Self.specs) == ParsedToolCalls(content: "", calls: [
            Self.call(0, "calculator", #"{"expression":"12.5 / 3480"}"#),
        ]))
    }

    @Test(arguments: ToolCallFormat.allCases)
    func aBareObjectIsACall(_ format: ToolCallFormat) {
        let parsed = format.parse("\n  " + #"{"name": "calculator", "arguments": {"expression": "2 + 2"}}"# + "\n", tools: Self.specs)
        #expect(parsed == ParsedToolCalls(content: "", calls: [Self.call(0, "calculator", #"{"expression":"2 + 2"}"#)]))
    }

    @Test func theParametersSpellingAndAPlainFence() {
        let parsed = ToolCallFormat.hermes.parse("```\n" + #"{"name": "units", "parameters": {"value": 5, "from": "mi", "to": "km"}}"# + "\n```",
                                                 tools: Self.specs)
        #expect(parsed.calls == [Self.call(0, "units", #"{"value":5,"from":"mi","to":"km"}"#)])
    }

    @Test func argumentsAsAJSONString() {
        let parsed = ToolCallFormat.hermes.parse(#"{"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"days\": 2}"}"#, tools: Self.specs)
        #expect(parsed.calls == [Self.call(0, "get_weather", #"{"city":"Paris","days":2}"#)])
    }

    @Test func twoObjectsOnTwoLines() {
        let parsed = ToolCallFormat.mistral.parse("""
            {"name": "calculator", "arguments": {"expression": "6*7"}}
            {"name": "datetime", "arguments": {"operation": "now", "time_zone": "Asia/Tokyo"}}
            """, idPrefix: "t", tools: Self.specs)
        #expect(parsed == ParsedToolCalls(content: "", calls: [
            ToolCall(id: "t0", name: "calculator", arguments: #"{"expression":"6*7"}"#),
            ToolCall(id: "t1", name: "datetime", arguments: #"{"operation":"now","time_zone":"Asia/Tokyo"}"#),
        ]))
    }

    @Test(arguments: ToolCallFormat.allCases)
    func anArrayOfCalls(_ format: ToolCallFormat) {
        let parsed = format.parse("""
            ```json
            [{"name": "get_weather", "arguments": {"city": "Rome"}},
             {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo", "days": null}}}]
            ```
            """, tools: Self.specs)
        #expect(parsed.calls == [
            Self.call(0, "get_weather", #"{"city":"Rome"}"#),
            Self.call(1, "get_weather", #"{"city":"Oslo","days":null}"#),
        ])
        #expect(parsed.content == "" && parsed.errors.isEmpty)
    }

    @Test(arguments: ToolCallFormat.allCases)
    func anUnknownToolIsPlainText(_ format: ToolCallFormat) {
        // A bare object is Llama 3's own syntax, which its parser reads whatever the name.
        if format != .llama3 { #expect(Self.isPlainText(#"{"name": "get_stock_price", "arguments": {"symbol": "AAPL"}}"#, format)) }
        #expect(Self.isPlainText("```json\n" + #"{"name": "search", "parameters": {"q": "x"}}"# + "\n```", format))
    }

    @Test(arguments: [
        #"{"name": "calculator", "arguments": {}}"#,                                           // required property missing
        #"{"name": "calculator", "arguments": {"expression": 42}}"#,                           // a number for a string
        #"{"name": "units", "arguments": {"value": "5", "from": "mi", "to": "km"}}"#,           // a string for a number
        #"{"name": "datetime", "arguments": {"operation": "add", "days": 1.5}}"#,              // a fraction for an integer
        #"{"name": "get_weather", "arguments": {"city": "Paris", "country": "FR"}}"#,         // closed schema, unknown property
        #"{"name": "get_weather", "arguments": "{\"city\": true}"}"#,                          // a string holding bad arguments
        #"{"name": "get_weather", "arguments": "Paris"}"#,                                     // a string holding no object
        #"{"name": "get_weather", "arguments": ["Paris"]}"#,                                   // not an object
        #"{"name": "get_weather"}"#,                                                           // no arguments field
    ])
    func argumentsTheSchemaRefusesArePlainText(_ reply: String) {
        for format in ToolCallFormat.allCases where format != .llama3 {
            #expect(Self.isPlainText(reply, format), "\(format)")
        }
        #expect(Self.isPlainText("```json\n\(reply)\n```", .llama3))
    }

    @Test(arguments: [
        #"To compute it, call {"name": "calculator", "arguments": {"expression": "2+2"}} and read the result."#,
        "Here is the call:\n```json\n" + #"{"name": "calculator", "arguments": {"expression": "2+2"}}"# + "\n```",
        "```python\n" + #"{"name": "calculator", "arguments": {"expression": "2+2"}}"# + "\n```",
        "```json\n" + #"{"name": "calculator", "arguments": {"expression": "2+2"}}"# + "\n```\n```json\n" + #"{"name": "calculator", "arguments": {"expression": "3+3"}}"# + "\n```",
        #"{"name": "calculator", "arguments": {"expression": "2+2"}} is the call"#,
        #"{"name": "calculator", "arguments": {"expression": "2+2"}"#,
        #"[{"name": "calculator", "arguments": {"expression": "2+2"}}, 4]"#,
        "[]",
        #"{"answer": 4}"#,
    ])
    func anythingButCallsIsPlainText(_ reply: String) {
        #expect(Self.isPlainText(reply))
        #expect(Self.isPlainText(reply, .mistral))
    }

    @Test func oneBadCallSpoilsTheReply() {
        #expect(Self.isPlainText("""
            {"name": "calculator", "arguments": {"expression": "2+2"}}
            {"name": "calculator", "arguments": {"expr": "3+3"}}
            """))
    }

    @Test func aLongListIsDataNotCalls() {
        let one = #"{"name": "get_weather", "arguments": {"city": "Paris"}}"#
        #expect(ToolCallFormat.hermes.parse(Array(repeating: one, count: ToolSettings.maxParallelCalls).joined(separator: "\n"),
                                            tools: Self.specs).calls.count == ToolSettings.maxParallelCalls)
        #expect(Self.isPlainText(Array(repeating: one, count: ToolSettings.maxParallelCalls + 1).joined(separator: "\n")))
    }

    @Test func withoutToolsNothingIsACall() {
        #expect(ToolCallFormat.hermes.parse(Self.qwenReply, tools: []) == ParsedToolCalls(content: Self.qwenReply))
    }

    /// The turn is where every caller (the agent loop, the HTTP API) reads a reply.
    static func turn(_ choice: ToolChoice, format: ToolCallFormat = .hermes) -> ToolTurn {
        ToolTurn(conversation: [.user("What is 12.5 / 3480?")], tools: tools, choice: choice, format: format,
                 parallelCalls: true, useModelTemplate: false, model: StepModel { _, _ in "" })
    }

    @Test func aTurnReadsBareJSONCallsUnlessToolChoiceIsNone() {
        let call = Self.call(0, "calculator", #"{"expression":"12.5 / 3480"}"#)
        #expect(Self.turn(.auto).read(Self.qwenReply, idPrefix: "call_") == ParsedToolCalls(content: "", calls: [call]))
        #expect(Self.turn(.none).read(Self.qwenReply, idPrefix: "call_") == ParsedToolCalls(content: Self.qwenReply))
        // A named choice offers only that tool; a call to another is text.
        #expect(Self.turn(.function("calculator")).read(Self.qwenReply, idPrefix: "call_").calls == [call])
        #expect(Self.turn(.function("units")).read(Self.qwenReply, idPrefix: "call_").calls.isEmpty)
    }

    @Test func theFormatsOwnSyntaxWins() throws {
        // The tagged call is taken as written (its arguments fail the schema, which the format's
        // parser does not check), not replaced by the bare-JSON reading.
        let tagged = ToolCallFormat.hermes.parse(#"<tool_call>{"name": "calculator", "arguments": {"x": 1}}</tool_call>"#, tools: Self.specs)
        #expect(tagged == ParsedToolCalls(content: "", calls: [Self.call(0, "calculator", #"{"x":1}"#)]))
        // Tags and bare JSON in one reply: the tags are the calls, the JSON stays text.
        let both = ToolCallFormat.hermes.parse("""
            {"name": "calculator", "arguments": {"expression": "1+1"}}
            <tool_call>{"name": "calculator", "arguments": {"expression": "2+2"}}</tool_call>
            """, tools: Self.specs)
        #expect(both.calls == [Self.call(0, "calculator", #"{"expression":"2+2"}"#)])
        #expect(both.content == #"{"name": "calculator", "arguments": {"expression": "1+1"}}"#)
        // A malformed tagged call is reported, so that the model fixes its syntax.
        let broken = ToolCallFormat.mistral.parse(#"[TOOL_CALLS][{"name": "calculator", "arguments": {"expression": }}]"#, tools: Self.specs)
        #expect(broken.calls.isEmpty && broken.errors.count == 1)
        // Llama 3's format is bare JSON already: its own parser reads it, errors and all.
        let llama = ToolCallFormat.llama3.parse(#"{"name": "nosuchtool", "parameters": {"a": 1}}"#, tools: Self.specs)
        #expect(llama.calls == [Self.call(0, "nosuchtool", #"{"a":1}"#)])
    }

    // MARK: The schema subset

    @Test func schemaMismatchesAreNamed() throws {
        let schema = ArgumentSchema(Self.weather.parametersSchema)
        func mismatch(_ json: String) -> ArgumentMismatch? {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)) else { return nil }
            do { try schema.check(value) } catch { return error }
            return nil
        }
        #expect(mismatch(#"{"city": "Paris"}"#) == nil)
        #expect(mismatch(#"{"city": "Paris", "days": 3}"#) == nil)
        #expect(mismatch(#"{"city": "Paris", "days": null}"#) == nil)
        #expect(mismatch(#"{"days": 3}"#) == .missing("city"))
        #expect(mismatch(#"{"city": 1}"#) == .wrongType("city", expected: ["string"]))
        #expect(mismatch(#"{"city": "Paris", "days": true}"#) == .wrongType("days", expected: ["integer", "null"]))
        #expect(mismatch(#"{"city": "Paris", "days": 2.5}"#) == .wrongType("days", expected: ["integer", "null"]))
        #expect(mismatch(#"{"city": "Paris", "unit": "C"}"#) == .unknown("unit"))
        #expect(mismatch("[1]") == .notAnObject)
        // An open schema takes extra properties; an unreadable one takes any object.
        #expect((try? ArgumentSchema(Calculator().parametersSchema).check(["expression": "1", "exact": .bool(true)])) != nil)
        #expect((try? ArgumentSchema("not json").check(["anything": .null])) != nil)
    }

    // MARK: Streaming

    /// What a gate lets through of `text` fed in pieces of `size` characters, before and at flush.
    static func gated(_ text: String, holding: Bool, size: Int = 2) -> (streamed: String, flushed: String) {
        var gate = CallGate(prefix: "<tool_call>", holdingBareJSON: holding)
        var streamed = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            streamed += gate.feed(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return (streamed, gate.flush())
    }

    @Test func theGateHoldsBackARepliesThatMayBeBareJSONCalls() {
        for reply in [Self.qwenReply, "  {\"answer\": 4}", "[1, 2]", "```\n{}\n```", "``"] {
            #expect(Self.gated(reply, holding: true) == ("", reply), "\(reply)")
        }
        // Prose passes at once; a fence of another language as soon as its tag shows it, and a
        // JSON fence as soon as what it holds does not open like JSON.
        #expect(Self.gated("The answer is 4.", holding: true) == ("The answer is 4.", ""))
        let code = "```python\nprint(1)\n```"
        let python = Self.gated(code, holding: true)
        #expect(python.streamed + python.flushed == code && python.streamed.count >= code.count - 2)
        let jsonAnswer = "```json\nThe answer"
        #expect(Self.gated(jsonAnswer, holding: true).streamed.hasPrefix("```json\nThe"))
        // Without holding (no tools offered), JSON streams as it comes.
        #expect(Self.gated(Self.qwenReply, holding: false).streamed == Self.qwenReply)
        var offered = Self.turn(.auto).gate
        var none = Self.turn(.none).gate
        #expect(offered.feed("{") == "" && none.feed("{") == "{")
    }
}
