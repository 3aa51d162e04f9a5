// The pieces of a job written as server-sent events, in the chunk shapes OpenAI clients parse:
// a role chunk per choice, content (and reasoning) deltas, tool calls, a finish chunk per choice,
// the usage chunk when asked for, then `[DONE]`. A failure after the stream began is sent as an
// `error` event, which clients raise.
import Hummingbird
import MuseCore
import MuseOpenAI

struct ChatStream {
    let id: String
    let created: Int
    let model: String
    let job: ChatJob

    func write(_ pieces: AsyncThrowingStream<ChatPiece, any Error>, to writer: inout any ResponseBodyWriter) async throws {
        for index in 0..<job.choices {
            try await send(chunk([.init(index: index, delta: .init(role: "assistant", content: ""), finishReason: nil)]), to: &writer)
        }
        do {
            for try await piece in pieces {
                switch piece {
                case let .delta(index, content, reasoning, logprobs):
                    let delta = ChatCompletionChunk.Delta(content: content, reasoningContent: reasoning)
                    try await send(chunk([.init(index: index, delta: delta, finishReason: nil,
                                                logprobs: logprobs.map { ChoiceLogprobs(content: $0) })]), to: &writer)
                case let .finish(index, reason, calls, _):
                    if !calls.isEmpty {
                        let deltas = calls.enumerated().map { i, call in
                            ChatCompletionChunk.ToolCallDelta(index: i, id: call.id, name: call.name, arguments: call.arguments)
                        }
                        try await send(chunk([.init(index: index, delta: .init(toolCalls: deltas), finishReason: nil)]), to: &writer)
                    }
                    try await send(chunk([.init(index: index, delta: .init(), finishReason: reason)]), to: &writer)
                case .trace(let event):
                    var c = chunk([.init(index: 0, delta: .init(), finishReason: nil)])
                    c.muse = ["trace": event]
                    try await send(c, to: &writer)
                case .usage(let usage):
                    guard job.includeUsage else { continue }
                    var c = chunk([])
                    c.usage = MuseOpenAI.Usage(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens)
                    try await send(c, to: &writer)
                }
            }
        } catch {
            try await writer.write(ByteBuffer(string: (try? ServerSentEvents.event(APIError.from(error))) ?? ""))
        }
        try await writer.write(ByteBuffer(string: ServerSentEvents.done))
    }

    private func chunk(_ choices: [ChatCompletionChunk.Choice]) -> ChatCompletionChunk {
        ChatCompletionChunk(id: id, created: created, model: model, choices: choices)
    }

    private func send(_ chunk: ChatCompletionChunk, to writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(ByteBuffer(string: try ServerSentEvents.event(chunk)))
    }
}

/// POST /v1/completions: a raw prompt continued, as a chat job without the chat template.
struct TextJob {
    var chatJob: ChatJob
    var prompt: String
    var echo: Bool
    var stream: Bool { chatJob.stream }

    init(_ request: CompletionRequest, limits: ServerLimits, formats: ChatJob.FormatCheck) throws(APIError) {
        guard request.prompt.texts.count == 1, let prompt = request.prompt.texts.first, !prompt.isEmpty else {
            throw .invalidRequest("prompt must be one non-empty string", param: "prompt")
        }
        if let logprobs = request.logprobs, logprobs != 0 {
            throw .invalidRequest("logprobs on /v1/completions is not supported; use /v1/chat/completions", param: "logprobs")
        }
        var chat = ChatCompletionRequest(model: request.model, messages: [.init(role: "user", content: .text(prompt))])
        chat.stream = request.stream
        chat.streamOptions = request.streamOptions
        chat.n = request.n
        chat.temperature = request.temperature
        chat.topP = request.topP
        // The legacy endpoint's default is 16 tokens.
        chat.maxTokens = request.maxTokens ?? 16
        chat.seed = request.seed
        chat.stop = request.stop
        chat.presencePenalty = request.presencePenalty
        chat.frequencyPenalty = request.frequencyPenalty
        chatJob = try ChatJob(chat, limits: limits, formats: formats)
        self.prompt = prompt
        echo = request.echo ?? false
    }

    func completion(_ accumulator: ChatAccumulator, id: String, created: Int, model: String) -> TextCompletion {
        let choices = accumulator.choices.enumerated().map { i, c in
            TextCompletion.Choice(index: i, text: (echo ? prompt : "") + c.content, finishReason: c.finishReason)
        }
        let usage = accumulator.usage
        return TextCompletion(id: id, created: created, model: model, choices: choices,
                              usage: MuseOpenAI.Usage(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens))
    }
}

struct TextStream {
    let id: String
    let created: Int
    let model: String
    let job: TextJob

    func write(_ pieces: AsyncThrowingStream<ChatPiece, any Error>, to writer: inout any ResponseBodyWriter) async throws {
        if job.echo {
            for index in 0..<job.chatJob.choices { try await send([.init(index: index, text: job.prompt, finishReason: nil)], to: &writer) }
        }
        do {
            for try await piece in pieces {
                switch piece {
                case let .delta(index, content?, _, _):
                    try await send([.init(index: index, text: content, finishReason: nil)], to: &writer)
                case let .finish(index, reason, _, _):
                    try await send([.init(index: index, text: "", finishReason: reason)], to: &writer)
                case .usage(let usage) where job.chatJob.includeUsage:
                    var c = TextCompletion(id: id, created: created, model: model, choices: [], usage: nil)
                    c.usage = MuseOpenAI.Usage(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens)
                    try await writer.write(ByteBuffer(string: try ServerSentEvents.event(c)))
                default: continue
                }
            }
        } catch {
            try await writer.write(ByteBuffer(string: (try? ServerSentEvents.event(APIError.from(error))) ?? ""))
        }
        try await writer.write(ByteBuffer(string: ServerSentEvents.done))
    }

    private func send(_ choices: [TextCompletion.Choice], to writer: inout any ResponseBodyWriter) async throws {
        let c = TextCompletion(id: id, created: created, model: model, choices: choices, usage: nil)
        try await writer.write(ByteBuffer(string: try ServerSentEvents.event(c)))
    }
}
