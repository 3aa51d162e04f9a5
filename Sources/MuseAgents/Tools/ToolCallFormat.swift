// How a model writes tool calls into its text (`ToolCallFormat`, declared in MuseCore), one case per
// chat-template family: the system-prompt section that teaches the format, the parser that reads
// calls back, and how past calls are rendered.
import Foundation
import MuseCore

extension ToolCallFormat {
    /// The system-prompt section listing `tools` and how to call them; empty when there are none.
    /// The wording follows each family's own chat template, which is what the models were tuned on.
    public func render(tools: [any Tool]) -> String {
        guard !tools.isEmpty else { return "" }
        let specs = tools.map(Self.toolJSON)
        switch self {
        case .hermes:
            return """
                # Tools

                You may call one or more functions to assist with the user query.

                You are provided with function signatures within <tools></tools> XML tags:
                <tools>
                \(specs.joined(separator: "\n"))
                </tools>

                For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
                <tool_call>
                {"name": <function-name>, "arguments": <args-json-object>}
                </tool_call>
                """
        case .llama3:
            return """
                # Tools

                You have access to the following functions:

                \(specs.joined(separator: "\n\n"))

                To call a function, respond with only a JSON object of the form {"name": function name, "parameters": dictionary of argument name and its value}, and no other text. To call several functions, write one such object per line. Do not use variables.
                """
        case .mistral:
            return """
                # Tools

                You can call the following functions:
                [\(specs.joined(separator: ", "))]

                To call functions, respond with [TOOL_CALLS] followed by a JSON list of calls, each {"name": function name, "arguments": dictionary of argument name and its value}, for example:
                [TOOL_CALLS][{"name": "<function-name>", "arguments": {"<argument>": "<value>"}}]
                """
        }
    }

    /// An assistant turn's calls written back as the model would have written them, so that the
    /// transcript shows the model its own calls in the format it knows.
    public func renderCall(_ calls: [ToolCall]) -> String {
        guard !calls.isEmpty else { return "" }
        func object(_ call: ToolCall, argumentsKey: String) -> String {
            #"{"name": \#(JSONValue.quoted(call.name)), "\#(argumentsKey)": \#(ToolCallJSON.argumentsText(call.arguments))}"#
        }
        switch self {
        case .hermes:
            return calls.map { "<tool_call>\n\(object($0, argumentsKey: "arguments"))\n</tool_call>" }.joined(separator: "\n")
        case .llama3:
            return calls.map { object($0, argumentsKey: "parameters") }.joined(separator: "\n")
        case .mistral:
            return "[TOOL_CALLS][" + calls.map { object($0, argumentsKey: "arguments") }.joined(separator: ", ") + "]"
        }
    }

    /// A tool as the OpenAI-style function object the chat templates list.
    private static func toolJSON(_ tool: any Tool) -> String {
        let schema = ToolCallJSON.compactObject(tool.parametersSchema) ?? JSONValue.quoted(tool.parametersSchema)
        return #"{"type": "function", "function": {"name": \#(JSONValue.quoted(tool.name)), "description": \#(JSONValue.quoted(tool.description)), "parameters": \#(schema)}}"#
    }
}
