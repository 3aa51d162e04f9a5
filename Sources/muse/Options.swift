// Option groups shared by the commands, and the glue from options to a loaded model.
import ArgumentParser
import Foundation
import MuseCore
import MuseEngine

struct ModelOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "A .gguf file, or the name of a known model (default: \(KnownModel.default.name)).")
    var model: String?

    @Option(help: "Compute threads (default: the machine's physical cores).")
    var threads: Int?

    @Option(help: "Context window in tokens (default: the model's own, at most 8192).")
    var context: Int?

    @Option(name: .customLong("kv-cache-mib"), help: "Memory cap of the KV cache shared by all conversations, in MiB (default: 4 contexts).")
    var kvCacheMiB: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 512 { throw ValidationError("--threads must be between 1 and 512") }
        if let context, context < 16 { throw ValidationError("--context must be at least 16") }
        if let kvCacheMiB, kvCacheMiB < 1 { throw ValidationError("--kv-cache-mib must be at least 1") }
    }

    /// Resolves (fetching the default model on first use) and loads the model, reporting progress
    /// on standard error.
    func load(maxSequences: Int = 32) throws -> LocalModel {
        if let problem = KernelPath.applyEnvironmentOverride() ?? KernelOrder.applyEnvironmentOverride() {
            throw ValidationError(problem)
        }
        let path = try ModelStore().resolve(model) { Terminal.status($0) }
        return try LocalModel(path: path, threads: threads, contextLength: context, cacheMiB: kvCacheMiB,
                              maxSequences: maxSequences)
    }
}

struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep tokens up to this probability mass.")
    var topP: Float = 0.95

    @Option(name: .customLong("top-k"), help: "Keep only the k most likely tokens; 0 disables.")
    var topK: Int = 40

    @Option(name: .customLong("min-p"), help: "Drop tokens less likely than this fraction of the best one.")
    var minP: Float = 0.05

    @Option(name: .customLong("repeat-penalty"), help: "Penalty for tokens repeated from the last 64.")
    var repeatPenalty: Float = 1.0

    @Option(help: "Random seed: the same seed gives the same output.")
    var seed: UInt64?

    @Option(name: .customLong("max-tokens"), help: "The most tokens to generate.")
    var maxTokens: Int = 512

    @Option(help: "Stop before this text (repeatable).")
    var stop: [String] = []

    @Option(name: .customLong("response-format"),
            help: "Constrain the output: 'json' (any JSON object) or the path of a JSON Schema file.")
    var responseFormat: String?

    func validate() throws {
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be 0 or more") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be 0 or more") }
        guard minP >= 0, minP < 1 else { throw ValidationError("--min-p must be in [0, 1)") }
        guard repeatPenalty > 0 else { throw ValidationError("--repeat-penalty must be positive") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
    }

    /// The output format asked for; a schema file is read and checked here.
    func outputFormat() throws -> OutputFormat? {
        guard let responseFormat else { return nil }
        if responseFormat == "json" { return .jsonObject }
        guard let data = FileManager.default.contents(atPath: responseFormat) else {
            throw ValidationError("--response-format: cannot read \(responseFormat) (give 'json' or a JSON Schema file)")
        }
        let format = OutputFormat.jsonSchema(String(decoding: data, as: UTF8.self))
        do { try LocalModel.validate(format) } catch { throw ValidationError("--response-format: \(error)") }
        return format
    }

    var parameters: SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                           repetitionPenalty: repeatPenalty, seed: seed)
    }
}

/// Writes to the terminal: answers to standard output, everything else to standard error.
enum Terminal {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func status(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Streamed side text (reasoning) on standard error, without a line break.
    static func statusInline(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        write(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
    }
}

/// What one generation produced, collected from its event stream.
struct Collected {
    var text = ""
    var tokens: [Int32] = []
    var finish = FinishReason.stop
    var usage = Usage(promptTokens: 0, completionTokens: 0)
    var timings = Timings(promptSeconds: 0, generationSeconds: 0, promptTokens: 0, generatedTokens: 0)

    /// Runs `request`, passing each text piece to `onText` as it arrives.
    static func run(_ model: some LanguageModel, _ request: GenerationRequest, onText: (String) -> Void = { _ in }) async throws -> Collected {
        var result = Collected()
        for try await event in model.generate(request) {
            switch event {
            case .text(let text):
                result.text += text
                onText(text)
            case .reasoning, .toolCalls:
                break
            case .token(let token):
                result.tokens.append(token.id)
            case let .finished(reason, usage, timings):
                result.finish = reason
                result.usage = usage
                result.timings = timings
            }
        }
        return result
    }
}

struct UsageJSON: Encodable {
    var prompt_tokens: Int
    var completion_tokens: Int
    var total_tokens: Int
    init(_ usage: Usage) {
        prompt_tokens = usage.promptTokens
        completion_tokens = usage.completionTokens
        total_tokens = usage.totalTokens
    }
}

struct TimingsJSON: Encodable {
    var prompt_seconds: Double
    var generation_seconds: Double
    var prompt_tokens_per_second: Double
    var generation_tokens_per_second: Double
    init(_ t: Timings) {
        prompt_seconds = t.promptSeconds
        generation_seconds = t.generationSeconds
        prompt_tokens_per_second = t.promptTokensPerSecond
        generation_tokens_per_second = t.generationTokensPerSecond
    }
}
