// A chat-completions request checked and turned into what the assistant runs: every field the
// protocol defines is either honoured or refused with a 400 that names it.
import Foundation
import MuseAgents
import MuseCore
import MuseOpenAI

struct ChatJob: Sendable {
    var conversation: [ChatMessage]
    var sampling: SamplingParameters
    var maxTokens: Int
    var stop: [String]
    var choices: Int
    var logprobs: Bool
    var topLogprobs: Int
    var format: OutputFormat?
    /// nil: a direct completion (Instant); otherwise the assistant runs this mode.
    var mode: Mode?
    var trace: Bool
    var tools: [DeclaredTool]
    var toolChoice: MuseAgents.ToolChoice
    var parallelToolCalls: Bool
    var stream: Bool
    var includeUsage: Bool
    /// Whom the assistant may remember facts about, and recall them for (`muse.memory`); set by
    /// the route, which knows the caller.
    var memoryUser: String?

    /// Checks that the model can enforce an output format (`LanguageModel.validate`).
    typealias FormatCheck = (OutputFormat) throws(GenerationError) -> Void

    /// `written` is the request body as the client wrote it, when the caller has it: schemas are
    /// taken from it, so that their properties keep the client's order (the decoded request's
    /// objects have lost it), and so do the outputs generated from them.
    init(_ request: ChatCompletionRequest, limits: ServerLimits, formats: FormatCheck, written: JSONValue? = nil) throws(APIError) {
        guard !request.messages.isEmpty else { throw .invalidRequest("messages must not be empty", param: "messages") }
        conversation = try request.messages.enumerated().map { i, message throws(APIError) in try Self.message(message, at: i) }
        if conversation.contains(where: \.hasImages) {
            throw .invalidRequest("this model reads text only; image content parts are not supported yet", param: "messages")
        }

        var sampling = SamplingParameters()
        if let t = request.temperature {
            guard (0...2).contains(t) else { throw .invalidRequest("temperature must be between 0 and 2", param: "temperature") }
            sampling.temperature = Float(t)
        }
        if let p = request.topP {
            guard p > 0, p <= 1 else { throw .invalidRequest("top_p must be in (0, 1]", param: "top_p") }
            sampling.topP = Float(p)
        }
        for (name, value) in [("presence_penalty", request.presencePenalty), ("frequency_penalty", request.frequencyPenalty)] {
            if let value, !(-2...2).contains(value) { throw .invalidRequest("\(name) must be between -2 and 2", param: name) }
        }
        sampling.presencePenalty = Float(request.presencePenalty ?? 0)
        sampling.frequencyPenalty = Float(request.frequencyPenalty ?? 0)
        sampling.seed = request.seed.map { UInt64(bitPattern: Int64($0)) }
        self.sampling = sampling

        maxTokens = try Self.maxTokens(request.maxCompletionTokens ?? request.maxTokens,
                                       param: request.maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens", limits: limits)
        stop = request.stop?.values ?? []
        guard stop.count <= 4, stop.allSatisfy({ !$0.isEmpty }) else {
            throw .invalidRequest("stop takes at most 4 non-empty strings", param: "stop")
        }
        choices = request.n ?? 1
        guard (1...limits.maxChoices).contains(choices) else {
            throw .invalidRequest("n must be between 1 and \(limits.maxChoices)", param: "n")
        }
        topLogprobs = request.topLogprobs ?? 0
        guard (0...20).contains(topLogprobs) else { throw .invalidRequest("top_logprobs must be between 0 and 20", param: "top_logprobs") }
        if topLogprobs > 0 && request.logprobs != true {
            throw .invalidRequest("top_logprobs needs logprobs: true", param: "top_logprobs")
        }
        logprobs = request.logprobs ?? false
        format = try Self.format(request.responseFormat, written: written?["response_format"]?["json_schema"]?["schema"], check: formats)

        (mode, trace) = try Self.mode(request, limits: limits)
        tools = try (request.tools ?? []).enumerated().map { i, tool throws(APIError) in
            try Self.tool(tool, written: written?["tools"]?[i]?["function"]?["parameters"], check: formats)
        }
        toolChoice = switch request.toolChoice {
        case .none?: .none
        case .required?: .required
        case .function(let name)?: .function(name)
        case .auto?, nil: tools.isEmpty ? .none : .auto
        }
        if case .function(let name) = toolChoice, !tools.contains(where: { $0.name == name }) {
            throw .invalidRequest("tool_choice names \(name), which is not among tools", param: "tool_choice")
        }
        if toolChoice == .required && tools.isEmpty { throw .invalidRequest("tool_choice required needs tools", param: "tool_choice") }
        parallelToolCalls = request.parallelToolCalls ?? true
        if !tools.isEmpty && format != nil && toolChoice != .none {
            throw .invalidRequest("response_format cannot be combined with tools", param: "response_format")
        }
        stream = request.stream ?? false
        includeUsage = request.streamOptions?.includeUsage ?? false
        if mode != nil {
            // The reasoning modes produce one answer from their own steps: the per-token fields of a
            // direct completion do not apply to them.
            if choices > 1 { throw .invalidRequest("n > 1 is available in instant mode only", param: "n") }
            if logprobs { throw .invalidRequest("logprobs are available in instant mode only", param: "logprobs") }
            if format != nil { throw .invalidRequest("response_format is available in instant mode only", param: "response_format") }
            if toolChoice != .none { throw .invalidRequest("client tools are available in instant mode only", param: "tools") }
        }
    }

    static func maxTokens(_ value: Int?, param: String, limits: ServerLimits) throws(APIError) -> Int {
        guard let value else { return limits.defaultMaxTokens }
        guard (1...limits.maxTokens).contains(value) else {
            throw .invalidRequest("\(param) must be between 1 and \(limits.maxTokens)", param: param)
        }
        return value
    }

    static func message(_ message: MuseOpenAI.Message, at index: Int) throws(APIError) -> ChatMessage {
        guard let role = ChatRole(rawValue: message.role == "developer" ? "system" : message.role) else {
            throw .invalidRequest("messages[\(index)].role must be system, developer, user, assistant or tool", param: "messages[\(index)].role")
        }
        let content: [ContentPart] = switch message.content {
        case .text(let text)?: [.text(text)]
        case .parts(let parts)?: parts.map { part in
            switch part {
            case .text(let text): .text(text)
            case .imageURL(let url, _): .image(ImageSource(url: url))
            }
        }
        case nil: []
        }
        if role == .tool && message.toolCallID == nil {
            throw .invalidRequest("messages[\(index)]: a tool message needs tool_call_id", param: "messages[\(index)].tool_call_id")
        }
        if content.isEmpty && (message.toolCalls ?? []).isEmpty && role != .assistant {
            throw .invalidRequest("messages[\(index)] has no content", param: "messages[\(index)].content")
        }
        let calls = (message.toolCalls ?? []).map { ToolCall(id: $0.id, name: $0.function.name, arguments: $0.function.arguments) }
        return ChatMessage(role: role, content: content, name: message.name, toolCalls: calls, toolCallID: message.toolCallID)
    }

    static func format(_ format: ChatCompletionRequest.ResponseFormat?, written: JSONValue? = nil,
                       check: FormatCheck) throws(APIError) -> OutputFormat? {
        guard let format else { return nil }
        let result: OutputFormat
        switch format.type {
        case "text": return nil
        case "json_object": result = .jsonObject
        case "json_schema":
            guard let schema = format.jsonSchema?.schema else {
                throw .invalidRequest("response_format json_schema needs json_schema.schema", param: "response_format")
            }
            result = .jsonSchema((written ?? schema).jsonText)
        default:
            throw .invalidRequest("response_format.type must be text, json_object or json_schema", param: "response_format")
        }
        do { try check(result) } catch {
            throw .invalidRequest("response_format: \(error)", param: "response_format")
        }
        return result
    }

    static func tool(_ tool: ChatCompletionRequest.Tool, written: JSONValue? = nil, check: FormatCheck) throws(APIError) -> DeclaredTool {
        guard tool.type == "function" else { throw .invalidRequest("tools[].type must be function", param: "tools") }
        let name = tool.function.name
        guard !name.isEmpty, name.count <= 64,
              name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-" }) else {
            throw .invalidRequest("tool name \"\(name)\" must be 1-64 letters, digits, _ or -", param: "tools")
        }
        let schema = (written ?? tool.function.parameters)?.jsonText ?? #"{"type": "object", "properties": {}}"#
        do { try check(.jsonSchema(schema)) } catch {
            throw .invalidRequest("tools: the parameters of \(name): \(error)", param: "tools")
        }
        return DeclaredTool(name: name, description: tool.function.description ?? "", parametersSchema: schema)
    }

    /// `muse.mode` first, then `reasoning_effort` (low → instant, medium → thinking, high →
    /// contemplating); neither: a direct completion.
    static func mode(_ request: ChatCompletionRequest, limits: ServerLimits) throws(APIError) -> (Mode?, Bool) {
        let trace = request.muse?.trace ?? false
        let agents = request.muse?.agents
        if let agents, !(1...limits.maxChoices).contains(agents) {
            throw .invalidRequest("muse.agents must be between 1 and \(limits.maxChoices)", param: "muse.agents")
        }
        let name: String
        if let mode = request.muse?.mode {
            name = mode
        } else if let effort = request.reasoningEffort {
            switch effort {
            case "minimal", "low", "none": name = "instant"
            case "medium": name = "thinking"
            case "high": name = "contemplating"
            default: throw .invalidRequest("reasoning_effort must be low, medium or high", param: "reasoning_effort")
            }
        } else {
            return (nil, trace)
        }
        guard let mode = Mode(name: name, agents: agents) else {
            throw .invalidRequest("muse.mode must be instant, thinking or contemplating", param: "muse.mode")
        }
        return (mode == .instant ? nil : mode, trace)
    }
}
