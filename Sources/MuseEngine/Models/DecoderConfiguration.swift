// What one decoder-only architecture is: the hyperparameters every one of them stores under
// `<arch>.*` in GGUF metadata, and the few switches by which the families differ (rotary style,
// biases, per-head norms, Gemma's extra norms and local layers). Each architecture file builds
// one of these; the forward pass reads it.

/// How rotary position embeddings pair up the dimensions of a head.
enum RopeStyle: Equatable {
    /// Adjacent pairs (x[2i], x[2i+1]): ggml's "normal" rope, used by llama.
    case normal
    /// Halves (x[i], x[i + n/2]): GPT-NeoX's layout, used by Qwen and Gemma.
    case neox
}

/// The gate's nonlinearity in the feed-forward block: silu(gate) * up, or gelu(gate) * up.
enum FeedForwardActivation: Equatable {
    case silu, gelu
}

struct DecoderConfiguration: Equatable {
    var architecture: String
    var contextLength: Int
    var embeddingLength: Int          // dim
    var blockCount: Int
    var feedForwardLength: Int
    var headCount: Int
    var headCountKV: Int
    var headDim: Int
    var ropeDimensions: Int
    var ropeFreqBase: Float
    var rmsEpsilon: Float
    var vocabularySize: Int

    var ropeStyle = RopeStyle.normal
    /// Q, K and V projections carry biases (`attn_q.bias`, …), as in Qwen2.
    var attentionBias = false
    /// Each head's query and key are RMS-normalised before rotation (`attn_q_norm`, `attn_k_norm`),
    /// as in Qwen3 and Gemma 3.
    var queryKeyNorm = false
    var activation = FeedForwardActivation.silu
    /// Token embeddings are multiplied by this (Gemma: the square root of the width).
    var embeddingScale: Float = 1
    /// The attention and feed-forward outputs are RMS-normalised before they join the residual
    /// (`post_attention_norm`, `post_ffw_norm`), as in Gemma 2 and 3.
    var postNorms = false
    /// Local layers see only the last `slidingWindow` positions and rotate with their own base.
    var slidingWindow = 0
    var localLayers: [Bool] = []
    var localRopeFreqBase: Float = 10_000
    /// Positions are multiplied by this before rotation in global layers (linear rope scaling).
    var ropeFreqScale: Float = 1
    /// Logits become cap * tanh(logits / cap) when positive.
    var logitSoftcap: Float = 0

    func isLocal(_ layer: Int) -> Bool { slidingWindow > 0 && layer < localLayers.count && localLayers[layer] }

    var qDim: Int { headCount * headDim }
    var kvDim: Int { headCountKV * headDim }

    /// Reads the hyperparameters stored under `architecture.*` and checks that they fit together.
    init(_ meta: MetadataReader, architecture: String) throws(ModelLoadError) {
        let prefix = architecture
        self.architecture = architecture
        contextLength = try meta.positiveInt("\(prefix).context_length")
        embeddingLength = try meta.positiveInt("\(prefix).embedding_length", max: 1 << 16)
        blockCount = try meta.positiveInt("\(prefix).block_count", max: 1024)
        feedForwardLength = try meta.positiveInt("\(prefix).feed_forward_length", max: 1 << 18)
        headCount = try meta.positiveInt("\(prefix).attention.head_count", max: 1024)
        headCountKV = try meta.int("\(prefix).attention.head_count_kv", default: headCount)
        headDim = try meta.int("\(prefix).attention.key_length", default: embeddingLength / headCount)
        ropeDimensions = try meta.int("\(prefix).rope.dimension_count", default: headDim)
        ropeFreqBase = try meta.float("\(prefix).rope.freq_base", default: 10_000)
        rmsEpsilon = try meta.float("\(prefix).attention.layer_norm_rms_epsilon")
        if let size = meta.file.metadata["\(prefix).vocab_size"] {
            guard let size = size.int else { throw .invalidMetadata(key: "\(prefix).vocab_size", reason: "expected an integer") }
            vocabularySize = size
        } else if let tokens = meta.file.metadata["tokenizer.ggml.tokens"]?.array?.count {
            vocabularySize = tokens
        } else {
            throw .missingMetadata("tokenizer.ggml.tokens")
        }

        guard headCountKV > 0, headCount % headCountKV == 0 else {
            throw .invalidMetadata(key: "\(prefix).attention.head_count_kv", reason: "\(headCountKV) does not divide the head count \(headCount)")
        }
        guard headDim > 0, headDim % 2 == 0, headDim <= 1024 else {
            throw .invalidMetadata(key: "\(prefix).attention.key_length", reason: "head size \(headDim) must be even and at most 1024")
        }
        let valueLength = try meta.int("\(prefix).attention.value_length", default: headDim)
        guard valueLength == headDim else {
            throw .invalidMetadata(key: "\(prefix).attention.value_length", reason: "\(valueLength) differs from the key length \(headDim), which the engine does not support")
        }
        guard ropeDimensions > 0, ropeDimensions <= headDim, ropeDimensions % 2 == 0 else {
            throw .invalidMetadata(key: "\(prefix).rope.dimension_count", reason: "\(ropeDimensions) must be even and at most the head size \(headDim)")
        }
        guard vocabularySize > 0, vocabularySize <= 1 << 22 else {
            throw .invalidMetadata(key: "\(prefix).vocab_size", reason: "\(vocabularySize) is out of range")
        }
        guard rmsEpsilon >= 0 else { throw .invalidMetadata(key: "\(prefix).attention.layer_norm_rms_epsilon", reason: "negative") }
    }
}
