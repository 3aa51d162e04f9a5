// The legacy text endpoint (POST /v1/completions) and the model list (GET /v1/models).
import MuseCore

public struct CompletionRequest: Codable, Sendable, Equatable {
    public var model: String
    public var prompt: Prompt
    public var stream: Bool?
    public var streamOptions: ChatCompletionRequest.StreamOptions?
    public var n: Int?
    public var temperature: Double?
    public var topP: Double?
    public var maxTokens: Int?
    public var seed: Int?
    public var stop: ChatCompletionRequest.Stop?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    /// How many alternatives to report per token (the legacy endpoint's integer form).
    public var logprobs: Int?
    public var echo: Bool?

    enum CodingKeys: String, CodingKey {
        case model, prompt, stream, n, temperature, seed, stop, logprobs, echo
        case streamOptions = "stream_options", topP = "top_p", maxTokens = "max_tokens"
        case presencePenalty = "presence_penalty", frequencyPenalty = "frequency_penalty"
    }

    public init(model: String, prompt: String) {
        self.model = model
        self.prompt = Prompt(texts: [prompt])
    }

    /// `"prompt": "text"` or `"prompt": ["text", ...]`.
    public struct Prompt: Codable, Sendable, Equatable {
        public var texts: [String]
        public init(texts: [String]) { self.texts = texts }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { texts = [one] } else { texts = try c.decode([String].self) }
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            if texts.count == 1 { try c.encode(texts[0]) } else { try c.encode(texts) }
        }
    }
}

/// The answer of /v1/completions, whole or as one stream chunk (same shape, `text` a piece).
public struct TextCompletion: Codable, Sendable, Equatable {
    public var id: String
    public var object = "text_completion"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage?

    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var text: String
        public var finishReason: String?
        public var logprobs: JSONValue?
        enum CodingKeys: String, CodingKey { case index, text, logprobs, finishReason = "finish_reason" }
        public init(index: Int, text: String, finishReason: String?, logprobs: JSONValue? = nil) {
            self.index = index
            self.text = text
            self.finishReason = finishReason
            self.logprobs = logprobs
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(text, forKey: .text)
            try c.encode(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage?) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }
}

public struct ModelList: Codable, Sendable, Equatable {
    public var object = "list"
    public var data: [Model]

    public struct Model: Codable, Sendable, Equatable {
        public var id: String
        public var object = "model"
        public var created: Int
        public var ownedBy: String
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
        public init(id: String, created: Int, ownedBy: String) {
            self.id = id
            self.created = created
            self.ownedBy = ownedBy
        }
    }

    public init(data: [Model]) { self.data = data }
}
