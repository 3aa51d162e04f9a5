// A request to a language model and the events that stream back from it.

public struct GenerationRequest: Sendable {
    public enum Prompt: Sendable {
        /// Rendered with the model's chat template, generation prompt added. When the model
        /// `continuesAssistantMessages` and the last of two or more messages is the assistant's
        /// (with no tool calls), the reply continues that message's text instead of starting a new one.
        case chat([ChatMessage])
        /// Used as is (the model's BOS added if its metadata asks for it).
        case text(String)
        /// Token ids used as is.
        case tokens([Int32])
    }

    public var prompt: Prompt
    public var sampling: SamplingParameters
    public var maxTokens: Int
    /// Generation ends before any of these strings; the string itself is not returned.
    public var stop: [String]
    /// Whether each token carries its log-probability (implied by `topLogprobs` > 0).
    public var logprobs: Bool
    /// How many most likely alternatives to report with each token (0: none).
    public var topLogprobs: Int
    /// The shape the output must have (nil: free text). Generation ends when the shape is complete.
    public var format: OutputFormat?
    /// Tools to show the model through its chat template, for models whose template renders them
    /// (see `LanguageModel.toolCallFormat`).
    public var tools: [ToolSpec]

    public init(prompt: Prompt, sampling: SamplingParameters = SamplingParameters(), maxTokens: Int = 512,
                stop: [String] = [], logprobs: Bool = false, topLogprobs: Int = 0, format: OutputFormat? = nil,
                tools: [ToolSpec] = []) {
        self.prompt = prompt
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stop = stop
        self.logprobs = logprobs
        self.topLogprobs = topLogprobs
        self.format = format
        self.tools = tools
    }
}

/// A function the model may call: its name, what it does, and its arguments' JSON Schema (as text).
public struct ToolSpec: Sendable, Equatable {
    public var name: String
    public var description: String
    public var parametersSchema: String
    public init(name: String, description: String, parametersSchema: String) {
        self.name = name
        self.description = description
        self.parametersSchema = parametersSchema
    }
}

public struct TokenLogprob: Sendable, Equatable, Codable {
    public var id: Int32
    public var logprob: Float
    public init(id: Int32, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// One sampled token, with its log-probability under the model's full distribution when the
/// request asked for log-probabilities.
public struct GeneratedToken: Sendable, Equatable {
    public var id: Int32
    public var logprob: Float?
    public var topLogprobs: [TokenLogprob]
    public init(id: Int32, logprob: Float?, topLogprobs: [TokenLogprob]) {
        self.id = id
        self.logprob = logprob
        self.topLogprobs = topLogprobs
    }
}

public enum FinishReason: String, Sendable, Codable {
    /// The model ended its turn or a stop string appeared.
    case stop
    /// `maxTokens` or the context window was reached.
    case length
}

public struct Usage: Sendable, Equatable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    /// Adds another generation's counts to these.
    public mutating func add(_ other: Usage) {
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
    }
}

/// Wall-clock figures of one generation, in seconds.
public struct Timings: Sendable, Equatable, Codable {
    public var promptSeconds: Double
    public var generationSeconds: Double
    public var promptTokensPerSecond: Double
    public var generationTokensPerSecond: Double
    public init(promptSeconds: Double, generationSeconds: Double, promptTokens: Int, generatedTokens: Int) {
        self.promptSeconds = promptSeconds
        self.generationSeconds = generationSeconds
        self.promptTokensPerSecond = promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0
        // The first token comes out of the prompt pass; the rest are the decode steps.
        self.generationTokensPerSecond = generationSeconds > 0 ? Double(max(generatedTokens - 1, 0)) / generationSeconds : 0
    }
}

public enum GenerationEvent: Sendable {
    /// Newly completed answer text (valid UTF-8; stop strings already cut).
    case text(String)
    /// The model's own reasoning, never part of `.text`: what a model trained to reason writes
    /// inside its reasoning tags (the local engine takes the tags off), or a server's reasoning field.
    case reasoning(String)
    /// Calls the model made, in structured form, once, before `.finished`: a server's, or the local
    /// engine's own when its chat template was given the tools. Calls taught in the system prompt
    /// stay in `.text`, for the tool loop to read.
    case toolCalls([ToolCall])
    /// The token behind the text, for callers that want ids or log-probabilities.
    case token(GeneratedToken)
    /// The end: why, and what it cost.
    case finished(FinishReason, Usage, Timings)
}

/// Anything that turns a request into a stream of events: the local engine or a remote server.
public protocol LanguageModel: Sendable {
    /// A name to show and to put in API responses.
    var name: String { get }
    /// Whether replies may carry the model's own reasoning as `.reasoning` events: a model trained
    /// to reason in tags, or a server that reports a reasoning field.
    var reasons: Bool { get }
    /// How the model writes tool calls when its chat template renders tools itself; nil when tools
    /// must be described in the prompt.
    var toolCallFormat: ToolCallFormat? { get }
    /// Whether a chat prompt ending with an assistant message is continued from that message's
    /// text (the local engine), rather than answered by the server's own rule (remote servers
    /// differ: some continue, some start a new message).
    var continuesAssistantMessages: Bool { get }
    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error>
    /// `count` completions of one request (OpenAI's `n`); with a seed, completion i uses seed + i.
    func generate(_ request: GenerationRequest, count: Int) -> [AsyncThrowingStream<GenerationEvent, any Error>]
    /// The text of one token id, for log-probability reports (nil when the model cannot tell).
    func tokenText(_ id: Int32) -> String?
    /// Checks that `format` can be enforced, without generating anything, so that a front end can
    /// reject a bad request up front.
    func validate(_ format: OutputFormat) throws(GenerationError)
    /// The counters of an engine that runs here (nil for a model served elsewhere).
    var engineStatistics: EngineStatistics? { get }
    /// Drops every finished conversation kept for reuse (a local engine's cached prompts) and
    /// overwrites the memory it held: called when a person's data is erased.
    func forgetCachedConversations()
}

extension LanguageModel {
    public var reasons: Bool { false }
    public var toolCallFormat: ToolCallFormat? { nil }
    public var continuesAssistantMessages: Bool { false }
    public func tokenText(_ id: Int32) -> String? { nil }
    public func validate(_ format: OutputFormat) throws(GenerationError) {}
    public var engineStatistics: EngineStatistics? { nil }
    public func forgetCachedConversations() {}

    /// Independent requests, one per completion: for models that cannot share a prompt's work.
    public func generate(_ request: GenerationRequest, count: Int) -> [AsyncThrowingStream<GenerationEvent, any Error>] {
        (0..<max(count, 1)).map { i in
            var one = request
            one.sampling.seed = request.sampling.seed.map { $0 &+ UInt64(i) }
            return generate(one)
        }
    }
}

/// What a local engine has done, for metrics: forward passes, batch sizes, prompt tokens computed
/// and reused, and its KV cache.
public struct EngineStatistics: Sendable, Equatable {
    /// Forward passes run.
    public var steps = 0
    /// Sequences advanced, summed over the steps (over `steps`: the mean batch).
    public var sequencesStepped = 0
    /// Sequences in the last step, and in the largest one.
    public var lastBatch = 0
    public var largestBatch = 0
    public var promptTokensComputed = 0
    /// Prompt tokens taken from cached prefixes instead of computed.
    public var promptTokensReused = 0
    /// Completions waiting, prefilling or decoding after the last step.
    public var running = 0
    /// KV cache blocks holding sequences or cached prefixes, and the most there may be.
    public var kvBlocksInUse = 0
    public var kvBlocksCapacity = 0

    public init() {}
}

/// A way of writing tool calls in plain model output, one per chat-template family.
public enum ToolCallFormat: String, Sendable, CaseIterable {
    /// `<tool_call>{"name": …, "arguments": {…}}</tool_call>` blocks, one per call (Hermes, Qwen).
    case hermes
    /// The whole reply is `{"name": …, "parameters": {…}}`, maybe after `<|python_tag|>` (Llama 3.1+).
    case llama3
    /// `[TOOL_CALLS][{"name": …, "arguments": {…}}, …]`, or `[TOOL_CALLS]name[ARGS]{…}` (Mistral).
    case mistral
}

/// Where a reasoning model's thoughts start and end in its output.
public struct ReasoningTags: Sendable, Equatable {
    public var open: String
    public var close: String
    public init(open: String, close: String) {
        self.open = open
        self.close = close
    }
    public static let think = ReasoningTags(open: "<think>", close: "</think>")
}

extension Duration {
    /// The duration in seconds, as a Double (for timings and reports).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
