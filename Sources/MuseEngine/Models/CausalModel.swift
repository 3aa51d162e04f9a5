// The seam between an architecture's forward pass and everything that drives it (generation,
// scheduling): tokens in, next-token logits out, keys and values kept in a KVCache.

/// One sequence's share of a batched forward call.
struct ForwardItem {
    /// Tokens to run at the positions after the sequence's last one.
    var tokens: [Int32]
    /// Whether to compute the next-token logits after the last of them.
    var wantsLogits: Bool
    /// Whether to compute the logits after every one of them (perplexity), not only the last.
    var wantsAllLogits = false

    init(tokens: [Int32], wantsLogits: Bool, wantsAllLogits: Bool = false) {
        self.tokens = tokens
        self.wantsLogits = wantsLogits || wantsAllLogits
        self.wantsAllLogits = wantsAllLogits
    }

    /// Rows of logits this item adds to the output.
    var logitRows: Int { wantsAllLogits ? tokens.count : wantsLogits ? 1 : 0 }
}

/// A decoder-only transformer. One owner at a time drives it: its scratch memory is reused by
/// every call.
protocol CausalModel: AnyObject {
    var vocabularySize: Int { get }
    /// The longest sequence the model was trained for.
    var contextLength: Int { get }
    /// The most tokens (summed over items) one forward call takes.
    var maxBatchTokens: Int { get }
    /// How this model's quantized matrices sum: block order (the default, packed weights) or the
    /// ggml-order reference. Changed only between forward calls.
    var kernelOrder: KernelOrder { get set }
    /// The bytes one decode step reads in full: every matrix it multiplies, as the selected kernel
    /// order reads it (packed or as mapped). Vectors (norms, biases) and the one row of the
    /// embedding table it looks up are left out.
    var decodeReads: [UnsafeRawBufferPointer] { get }
    /// A cache shaped for this model holding up to `capacityTokens` positions.
    func makeCache(capacityTokens: Int) -> KVCache
    /// Runs every item in one pass: item i's tokens go at the positions after `sequences[i].count`
    /// and their keys and values into the cache. The logits of the items that want them are
    /// written to consecutive rows of `logits` (vocabularySize floats each), in item order: one row
    /// per item, or one per token for an item that wants them all.
    /// Rows are computed independently: an item's results do not depend on the others.
    func forward(_ items: [ForwardItem], sequences: inout [KVSequence], cache: KVCache,
                 logits: UnsafeMutablePointer<Float>) throws(KVCacheError)
}

extension CausalModel {
    /// Runs `tokens` (any number) on one sequence in chunks and writes the logits of the last one.
    func forward(_ tokens: [Int32], sequence: inout KVSequence, cache: KVCache,
                 logits: UnsafeMutablePointer<Float>) throws(KVCacheError) {
        var sequences = [sequence]
        defer { sequence = sequences[0] }
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + maxBatchTokens)
            try forward([ForwardItem(tokens: Array(tokens[start..<end]), wantsLogits: end == tokens.count)],
                        sequences: &sequences, cache: cache, logits: logits)
            start = end
        }
    }
}

/// The architectures `loadCausalModel` builds, as GGUF names them.
let supportedArchitectures = ["llama", "qwen2", "qwen3", "gemma3"]

/// Builds the model a GGUF file describes, by its `general.architecture`.
func loadCausalModel(_ file: GGUFFile, pool: WorkerPool) throws(ModelLoadError) -> any CausalModel {
    let architecture = file.architecture ?? ""
    let meta = MetadataReader(file: file)
    switch architecture {
    case "llama":
        return try DecoderModel(file: file, configuration: .llama(meta), pool: pool)
    case "qwen2":
        return try DecoderModel(file: file, configuration: .qwen2(meta), pool: pool)
    case "qwen3":
        return try DecoderModel(file: file, configuration: .qwen3(meta), pool: pool)
    case "gemma3":
        return try DecoderModel(file: file, configuration: .gemma3(meta), pool: pool)
    case "":
        throw .missingMetadata("general.architecture")
    default:
        throw .unsupportedArchitecture(architecture)
    }
}
