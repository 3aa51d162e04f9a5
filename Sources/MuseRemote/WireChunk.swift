// What the client reads from a server's replies: chat chunks, text-completion chunks, whole
// (non-streamed) responses and error objects, in one lenient shape. Servers differ in what they
// leave out (ids, `created`, `object`, null versus absent), so every field is optional and only
// the fields the client uses are decoded; a field of the wrong type is still an error.

struct WireChunk: Decodable {
    var choices: [Choice]?
    var usage: WireUsage?
    var error: WireError?

    struct Choice: Decodable {
        var index: Int?
        /// A stream chunk's piece.
        var delta: Delta?
        /// A whole response's message (a server that ignored `stream`), read like one big delta.
        var message: Delta?
        /// The text endpoint's piece.
        var text: String?
        var finishReason: String?
        var logprobs: Logprobs?
        enum CodingKeys: String, CodingKey { case index, delta, message, text, logprobs, finishReason = "finish_reason" }
    }

    struct Delta: Decodable {
        var content: String?
        var reasoning: String?
        var toolCalls: [ToolCallDelta]?
        enum CodingKeys: String, CodingKey {
            case content, reasoning, reasoningContent = "reasoning_content", toolCalls = "tool_calls"
        }
        init(content: String? = nil, reasoning: String? = nil, toolCalls: [ToolCallDelta]? = nil) {
            self.content = content
            self.reasoning = reasoning
            self.toolCalls = toolCalls
        }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            content = try c.decodeIfPresent(String.self, forKey: .content)
            // `reasoning_content` (DeepSeek, vLLM, llama.cpp, Muse) or `reasoning` (Ollama,
            // OpenRouter); some servers put an object under `reasoning`, which carries no text here.
            reasoning = try c.decodeIfPresent(String.self, forKey: .reasoningContent)
                ?? (try? c.decodeIfPresent(String.self, forKey: .reasoning))
            toolCalls = try c.decodeIfPresent([ToolCallDelta].self, forKey: .toolCalls)
        }
    }

    struct ToolCallDelta: Decodable {
        var index: Int?
        var id: String?
        var function: Function?
        struct Function: Decodable {
            var name: String?
            var arguments: String?
        }
    }

    /// Chat chunks carry `content: [{token, logprob, top_logprobs}]`; the text endpoint carries
    /// parallel lists `tokens`, `token_logprobs`, `top_logprobs` (one {token: logprob} map each).
    struct Logprobs: Decodable {
        var content: [TokenLogprob]?
        var tokens: [String]?
        var tokenLogprobs: [Double?]?
        var topLogprobs: [[String: Double]?]?
        enum CodingKeys: String, CodingKey {
            case content, tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs"
        }
    }

    struct TokenLogprob: Decodable {
        var token: String
        var logprob: Double?
        var topLogprobs: [Alternative]?
        enum CodingKeys: String, CodingKey { case token, logprob, topLogprobs = "top_logprobs" }
    }

    struct Alternative: Decodable {
        var token: String
        var logprob: Double?
    }
}

struct WireUsage: Decodable {
    var promptTokens: Int?
    var completionTokens: Int?
    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens" }
}

/// `{"error": {"message", "type", …}}` as OpenAI sends it, or `{"error": "text"}` as some servers do.
struct WireError: Decodable {
    var message: String
    var type: String?

    enum CodingKeys: String, CodingKey { case message, type }

    init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            message = text
            type = nil
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        message = try c.decodeIfPresent(String.self, forKey: .message) ?? "(no message)"
        type = try? c.decodeIfPresent(String.self, forKey: .type)
    }
}

/// An error response's body.
struct WireErrorBody: Decodable {
    var error: WireError
}
