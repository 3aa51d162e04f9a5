// A GGUF model run by Muse's own engine, as a LanguageModel: prompt in, streamed tokens out.
// One generation runs at a time (the batching scheduler will lift this); the KV cache of the last
// one is kept, so the next prompt that extends it (a chat's next turn) only computes what is new.
import CMuseKernels
import Foundation
import MuseCore
import Synchronization

public enum GenerationError: Error, Sendable, CustomStringConvertible {
    case imagesUnsupported
    case noChatTemplate
    case template(String)
    case emptyPrompt
    case contextExceeded(promptTokens: Int, contextLength: Int)
    case cache(KVCacheError)

    public var description: String {
        switch self {
        case .imagesUnsupported: "this model cannot read images; send text only"
        case .noChatTemplate: "the model has no chat template; use a raw completion instead"
        case .template(let message): "the chat template failed: \(message)"
        case .emptyPrompt: "the prompt is empty"
        case let .contextExceeded(prompt, context):
            "the prompt has \(prompt) tokens, which does not leave room in the context window of \(context)"
        case .cache(let error): error.description
        }
    }
}

public final class LocalModel: LanguageModel, @unchecked Sendable {
    public let name: String
    public let path: String
    public let tokenizer: any Tokenizer
    public let chatTemplate: ChatTemplate?
    /// Positions available to one conversation.
    public let contextLength: Int
    public var threadCount: Int { pool.threadCount }
    /// Bytes of all tensors: what one decode step reads (every weight once; the embedding table
    /// too when, as in tied models, it doubles as the output layer).
    public var weightBytes: Int { file.tensors.reduce(0) { $0 + $1.byteCount } }

    private let file: GGUFFile
    let pool: WorkerPool
    let model: any CausalModel
    let cache: KVCache
    private let bosText: String
    private let eosText: String

    // Guarded by `lock`: the model's scratch memory and the cached conversation.
    let lock = NSLock()
    var sequence = KVSequence()
    var cachedTokens: [Int32] = []
    let logits: UnsafeMutablePointer<Float>

    /// Loads a GGUF model. `threads` defaults to the machine's physical cores; `contextLength` to the
    /// model's own, capped at 8192 to bound memory.
    public init(path: String, threads: Int? = nil, contextLength: Int? = nil) throws(ModelLoadError) {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw .file(error) }
        self.file = file
        self.path = path
        let pool = WorkerPool(threads: threads ?? WorkerPool.physicalCores)
        self.pool = pool
        let model = try loadCausalModel(file, pool: pool)
        self.model = model
        let vocabulary = try TokenizerVocabulary(gguf: file)
        do { tokenizer = try vocabulary.makeTokenizer() } catch { throw .tokenizer("\(error)") }
        guard tokenizer.vocabularySize <= model.vocabularySize else {
            throw .tokenizer("the vocabulary has \(tokenizer.vocabularySize) tokens but the model's output has \(model.vocabularySize)")
        }
        if let source = file.metadata["tokenizer.chat_template"]?.string {
            do { chatTemplate = try ChatTemplate(source) } catch { throw .chatTemplate("\(error)") }
        } else {
            chatTemplate = nil
        }
        let tokenizer = tokenizer
        func text(_ id: Int32?) -> String { id.map { String(decoding: tokenizer.tokenBytes($0, renderSpecial: true), as: UTF8.self) } ?? "" }
        bosText = text(vocabulary.bosTokenID)
        eosText = text(vocabulary.eosTokenID)
        let context = min(contextLength ?? model.contextLength, model.contextLength, 8192)
        self.contextLength = max(context, 16)
        cache = model.makeCache(capacityTokens: self.contextLength)
        logits = .allocate(capacity: model.vocabularySize)
        name = file.metadata["general.name"]?.string ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    deinit { logits.deallocate() }

    /// Token ids of `text`; special tokens such as `<|im_end|>` are recognised when `parseSpecial`.
    public func tokenize(_ text: String, parseSpecial: Bool = true) -> [Int32] {
        tokenizer.encode(text, parseSpecial: parseSpecial)
    }

    /// The conversation rendered with the model's own chat template.
    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) throws(GenerationError) -> String {
        guard let chatTemplate else { throw .noChatTemplate }
        if messages.contains(where: \.hasImages) { throw .imagesUnsupported }
        do {
            return try chatTemplate.render(messages: messages.map(\.jinjaValue), addGenerationPrompt: addGenerationPrompt,
                                           bosToken: bosText, eosToken: eosText)
        } catch {
            throw .template("\(error)")
        }
    }

    /// The token ids a prompt runs as, BOS included where the model asks for it.
    public func promptTokens(_ prompt: GenerationRequest.Prompt) throws(GenerationError) -> [Int32] {
        var tokens: [Int32]
        switch prompt {
        case .tokens(let ids): return ids
        case .text(let text): tokens = tokenize(text)
        case .chat(let messages): tokens = tokenize(try renderChat(messages))
        }
        if tokenizer.addBOS, let bos = tokenizer.bosTokenID, tokens.first != bos { tokens.insert(bos, at: 0) }
        return tokens
    }

    public func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let cancelled = CancellationFlag()
        continuation.onTermination = { _ in cancelled.set() }
        // Compute blocks its thread for the whole generation: keep it off the cooperative pool.
        let thread = Thread { [self] in
            do {
                try generate(request, isCancelled: { cancelled.isSet }) { event in
                    if case .terminated = continuation.yield(event) { cancelled.set() }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.name = "muse-generate"
        thread.start()
        return stream
    }

    /// Generates synchronously on the calling thread, handing each event to `emit`.
    public func generate(_ request: GenerationRequest, isCancelled: () -> Bool = { false },
                         emit: (GenerationEvent) -> Void) throws(GenerationError) {
        let prompt = try promptTokens(request.prompt)
        guard !prompt.isEmpty else { throw .emptyPrompt }
        guard prompt.count < contextLength else { throw .contextExceeded(promptTokens: prompt.count, contextLength: contextLength) }
        for id in prompt where id < 0 || Int(id) >= model.vocabularySize {
            throw .template("token id \(id) is outside the vocabulary")
        }
        lock.lock()
        defer { lock.unlock() }

        let clock = ContinuousClock()
        let promptStart = clock.now
        try runPrompt(prompt)
        let promptTime = clock.now - promptStart

        var sampler = Sampler(request.sampling)
        for id in prompt.suffix(request.sampling.penaltyWindow) { sampler.accept(id) }
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var stops = StopMatcher(stops: request.stop)
        var generated = 0
        var finish = FinishReason.length
        let limit = min(request.maxTokens, contextLength - prompt.count)
        let decodeStart = clock.now
        let vocabulary = UnsafeBufferPointer(start: logits, count: model.vocabularySize)

        while generated < limit, !isCancelled() {
            let token = sampler.sample(vocabulary)
            generated += 1
            emit(.token(logprobs(vocabulary, chosen: token, top: request.topLogprobs)))
            if tokenizer.isEndOfGeneration(token) { finish = .stop; break }
            let (text, stopped) = stops.append(detokenizer.append(token))
            if !text.isEmpty { emit(.text(text)) }
            if stopped { finish = .stop; break }
            guard generated < limit else { break }
            do {
                try model.forward([token], sequence: &sequence, cache: cache, logits: logits)
            } catch {
                throw .cache(error)
            }
            cachedTokens.append(token)
        }
        if finish == .length {
            let tail = stops.append(detokenizer.flush()).emit + stops.flush()
            if !tail.isEmpty { emit(.text(tail)) }
        }
        let timings = Timings(promptSeconds: promptTime.seconds, generationSeconds: (clock.now - decodeStart).seconds,
                              promptTokens: prompt.count, generatedTokens: generated)
        emit(.finished(finish, Usage(promptTokens: prompt.count, completionTokens: generated), timings))
    }

    /// Brings the cache to hold `prompt` and the logits to follow its last token, reusing the
    /// longest prefix the cache already holds.
    private func runPrompt(_ prompt: [Int32]) throws(GenerationError) {
        var reuse = zip(cachedTokens, prompt).prefix { $0 == $1 }.count
        // At least the last prompt token must run to produce the logits.
        reuse = min(reuse, prompt.count - 1)
        cache.truncate(&sequence, to: reuse)
        cachedTokens = Array(prompt[..<reuse])
        do {
            try model.forward(Array(prompt[reuse...]), sequence: &sequence, cache: cache, logits: logits)
        } catch {
            cache.free(&sequence)
            cachedTokens = []
            throw .cache(error)
        }
        cachedTokens = prompt
    }
}

/// Set once, read from any thread.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
