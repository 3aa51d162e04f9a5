// A GGUF model run by Muse's own engine, as a LanguageModel: prompt in, streamed events out. The
// scheduler decodes every running generation in shared forward passes and keeps finished prompts'
// KV blocks, so a prompt that extends one (a chat's next turn) only computes what is new. A model
// trained to reason in tags has them taken off its replies (`.reasoning` events).
import CMuseKernels
import Foundation
import MuseCore
import Synchronization

public final class LocalModel: LanguageModel, @unchecked Sendable {
    public let name: String
    public let path: String
    public let tokenizer: any Tokenizer
    public let chatTemplate: ChatTemplate?
    /// Positions available to one conversation.
    public let contextLength: Int
    public var threadCount: Int { pool.threadCount }
    /// `<think>`/`</think>` when both are single tokens of the vocabulary, as in models trained to
    /// reason in them (Qwen3, DeepSeek-R1 distills, SmolLM3). Read once, at load.
    public let reasoningTags: ReasoningTags?
    /// How the chat template writes tool calls, when it renders tools itself (read from its
    /// source, once, at load). A reply to a prompt given tools has its calls read in this format
    /// and reported as `.toolCalls`.
    public let toolCallFormat: ToolCallFormat?

    /// How the model's quantized matrices sum (`KernelOrder.active` when it was loaded, unless
    /// `init` said otherwise). Setting it waits for the forward pass under way.
    public var kernelOrder: KernelOrder {
        get { scheduler.stepLock.withLock { model.kernelOrder } }
        set { scheduler.stepLock.withLock { model.kernelOrder = newValue } }
    }

    /// Bytes of all tensors.
    public var weightBytes: Int { file.tensors.reduce(0) { $0 + $1.byteCount } }

    /// Bytes one decode step reads: the matrices it multiplies, in the selected kernel order.
    public var decodeBytes: Int { model.decodeReads.reduce(0) { $0 + $1.count } }

    let file: GGUFFile
    let pool: WorkerPool
    let model: any CausalModel
    let cache: KVCache
    /// Owns the model and the cache: every generation goes through it.
    let scheduler: Scheduler
    private let bosText: String
    private let eosText: String
    private let trieLock = Mutex<TokenTrie?>(nil)
    /// Logits for direct model runs (benchmarks), used under the scheduler's exclusive access.
    let logits: UnsafeMutablePointer<Float>

    /// Loads a GGUF model. `threads` defaults to the machine's physical cores; `contextLength` (the
    /// most positions of one conversation) to the model's own, capped at 8192; `cacheMiB` caps the
    /// KV cache shared by all conversations and cached prefixes (default: room for 4 full contexts).
    public init(path: String, threads: Int? = nil, contextLength: Int? = nil, cacheMiB: Int? = nil,
                maxSequences: Int = 32, kernelOrder: KernelOrder? = nil) throws(ModelLoadError) {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw .file(error) }
        self.file = file
        self.path = path
        let pool = WorkerPool(threads: threads ?? WorkerPool.physicalCores)
        self.pool = pool
        let model = try loadCausalModel(file, pool: pool)
        if let kernelOrder { model.kernelOrder = kernelOrder }
        self.model = model
        let vocabulary = try TokenizerVocabulary(gguf: file)
        do { tokenizer = try vocabulary.makeTokenizer() } catch { throw .tokenizer("\(error)") }
        guard tokenizer.vocabularySize <= model.vocabularySize else {
            throw .tokenizer("the vocabulary has \(tokenizer.vocabularySize) tokens but the model's output has \(model.vocabularySize)")
        }
        if let source = file.metadata["tokenizer.chat_template"]?.string {
            do { chatTemplate = try ChatTemplate(source) } catch { throw .chatTemplate("\(error)") }
            toolCallFormat = ChatTemplate.toolCallFormat(of: source)
        } else {
            chatTemplate = nil
            toolCallFormat = nil
        }
        let tokenizer = tokenizer
        let think = ReasoningTags.think
        reasoningTags = tokenizer.encode(think.open, parseSpecial: true).count == 1
            && tokenizer.encode(think.close, parseSpecial: true).count == 1 ? think : nil
        func text(_ id: Int32?) -> String { id.map { String(decoding: tokenizer.tokenBytes($0, renderSpecial: true), as: UTF8.self) } ?? "" }
        bosText = text(vocabulary.bosTokenID)
        eosText = text(vocabulary.eosTokenID)
        let context = min(contextLength ?? model.contextLength, model.contextLength, 8192)
        self.contextLength = max(context, 16)
        let bytesPerToken = model.makeCache(capacityTokens: 0).bytesPerBlock / KVCache.defaultBlockSize
        let capacity = cacheMiB.map { $0 * 1_048_576 / bytesPerToken } ?? self.contextLength * 4
        cache = model.makeCache(capacityTokens: max(capacity, self.contextLength))
        logits = .allocate(capacity: model.vocabularySize)
        scheduler = Scheduler(model: model, cache: cache, tokenizer: tokenizer, contextLength: self.contextLength,
                              limits: Scheduler.Limits(maxSequences: maxSequences))
        name = file.metadata["general.name"]?.string ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    deinit {
        scheduler.shutdown()
        logits.deallocate()
    }

    /// Token ids of `text`; special tokens such as `<|im_end|>` are recognised when `parseSpecial`.
    public func tokenize(_ text: String, parseSpecial: Bool = true) -> [Int32] {
        tokenizer.encode(text, parseSpecial: parseSpecial)
    }

    public func tokenText(_ id: Int32) -> String? {
        id >= 0 && Int(id) < model.vocabularySize ? tokenizer.decode([id], renderSpecial: true) : nil
    }

    public var continuesAssistantMessages: Bool { true }


    /// The conversation rendered with the model's own chat template (`tools` given to it in the
    /// OpenAI function shape).
    public func renderChat(_ messages: [ChatMessage], tools: [ToolSpec] = [],
                           addGenerationPrompt: Bool = true) throws(GenerationError) -> String {
        guard let chatTemplate else { throw .noChatTemplate }
        if messages.contains(where: \.hasImages) { throw .imagesUnsupported }
        do {
            return try chatTemplate.render(messages: messages.map(\.jinjaValue), tools: tools.isEmpty ? nil : tools.map(\.jinjaValue),
                                           addGenerationPrompt: addGenerationPrompt, bosToken: bosText, eosToken: eosText)
        } catch {
            throw .template("\(error)")
        }
    }

    /// The token ids a prompt runs as, BOS included where the model asks for it.
    public func promptTokens(_ prompt: GenerationRequest.Prompt, tools: [ToolSpec] = []) throws(GenerationError) -> [Int32] {
        var tokens: [Int32]
        switch prompt {
        case .tokens(let ids): return ids
        case .text(let text): tokens = tokenize(text)
        case .chat(let messages):
            if Self.continues(messages), let last = messages.last {
                // Continued, not answered: the reply starts with the message's text, unclosed.
                tokens = tokenize(try renderChat(Array(messages.dropLast()), tools: tools) + last.text)
            } else {
                tokens = tokenize(try renderChat(messages, tools: tools))
            }
        }
        if tokenizer.addBOS, let bos = tokenizer.bosTokenID, tokens.first != bos { tokens.insert(bos, at: 0) }
        return tokens
    }

    /// Whether a chat prompt is continued from its last message (an assistant's, after others).
    static func continues(_ messages: [ChatMessage]) -> Bool {
        guard let last = messages.last else { return false }
        return last.role == .assistant && last.toolCalls.isEmpty && messages.count > 1
    }

    public var reasons: Bool { reasoningTags != nil }

    public func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        generate(request, count: 1)[0]
    }

    /// `count` completions of one prompt, computed once and shared (OpenAI's `n`; parallel agents).
    /// They decode in one batch; with a seed, completion i uses seed + i.
    public func generate(_ request: GenerationRequest, count: Int) -> [AsyncThrowingStream<GenerationEvent, any Error>] {
        precondition(count >= 1)
        let prompt: [Int32]
        let constraint: TokenConstraint?
        do {
            prompt = try checkedPrompt(request.prompt, tools: request.tools)
            constraint = try request.format.map { format throws(GenerationError) in
                TokenConstraint(automaton: ConstraintAutomaton(grammar: try Self.compile(format), trie: tokenTrie))
            }
        } catch {
            return (0..<count).map { _ in AsyncThrowingStream { $0.finish(throwing: error) } }
        }
        var streams = scheduler.submit(prompt: prompt, request: request, count: count, constraint: constraint)
        // A new reply to a chat is read for the model's reasoning tags, and, when its template was
        // given tools, for its calls; raw text and continued messages are the caller's to read.
        guard case .chat(let messages) = request.prompt, !Self.continues(messages) else { return streams }
        if let tags = reasoningTags { streams = streams.map { ReasoningSplitter.split($0, tags: tags) } }
        if !request.tools.isEmpty, let format = toolCallFormat {
            streams = streams.map { ToolCallReader.read($0, format: format, tools: request.tools) }
        }
        return streams
    }

    /// Checks that an output format can be enforced (a schema is valid and supported) without
    /// generating anything: front ends call it to reject a bad request up front.
    public static func validate(_ format: OutputFormat) throws(GenerationError) {
        _ = try compile(format)
    }

    public func validate(_ format: OutputFormat) throws(GenerationError) {
        try Self.validate(format)
    }

    static func compile(_ format: OutputFormat) throws(GenerationError) -> Grammar {
        do { return try FormatCompiler.compile(format) } catch { throw .format(error.description) }
    }

    /// The vocabulary as a byte trie for constrained decoding, built on first use.
    var tokenTrie: TokenTrie {
        trieLock.withLock { trie in
            if let trie { return trie }
            let built = TokenTrie(tokenizer: tokenizer)
            trie = built
            return built
        }
    }

    private func checkedPrompt(_ prompt: GenerationRequest.Prompt, tools: [ToolSpec]) throws(GenerationError) -> [Int32] {
        let tokens = try promptTokens(prompt, tools: tools)
        guard !tokens.isEmpty else { throw .emptyPrompt }
        guard tokens.count < contextLength else { throw .contextExceeded(promptTokens: tokens.count, contextLength: contextLength) }
        for id in tokens where id < 0 || Int(id) >= model.vocabularySize {
            throw .invalidToken(id)
        }
        return tokens
    }

    /// What the scheduler has done so far (steps, batches, prompt tokens computed and reused) and
    /// what it holds (running completions, KV blocks).
    public var schedulerStatistics: EngineStatistics { scheduler.statistics }
    public var engineStatistics: EngineStatistics? { scheduler.statistics }

    public func forgetCachedConversations() { scheduler.clearRetained(scrubbing: true) }
}

/// Set once, read from any thread.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}
