// Gemma 3 (`gemma3`): token embeddings scaled by sqrt(width), per-head Q/K norms, norms after the
// attention and feed-forward blocks as well as before, a GELU gate, and local layers (five in six)
// that see a sliding window of positions and rotate with their own base. (GGUF stores Gemma's
// norm weights with its +1 already added, so they apply as any RMSNorm weight.)

extension DecoderConfiguration {
    static func gemma3(_ meta: MetadataReader) throws(ModelLoadError) -> DecoderConfiguration {
        var c = try DecoderConfiguration(meta, architecture: "gemma3")
        c.ropeStyle = .neox
        c.queryKeyNorm = true
        c.postNorms = true
        c.activation = .gelu
        c.embeddingScale = Float(c.embeddingLength).squareRoot()
        c.slidingWindow = try meta.int("gemma3.attention.sliding_window", default: 0)
        guard c.slidingWindow >= 0 else {
            throw .invalidMetadata(key: "gemma3.attention.sliding_window", reason: "\(c.slidingWindow) is negative")
        }
        // Every sixth layer is global unless the file says otherwise (a period, or a flag per layer).
        let patternKey = "gemma3.attention.sliding_window_pattern"
        if let flags = meta.file.metadata[patternKey]?.array {
            c.localLayers = flags.map { $0.bool ?? ($0.int.map { $0 != 0 } ?? false) }
            guard c.localLayers.count == c.blockCount else {
                throw .invalidMetadata(key: patternKey, reason: "\(flags.count) flags for \(c.blockCount) layers")
            }
        } else {
            let period = try meta.int(patternKey, default: 6)
            guard period >= 0 else { throw .invalidMetadata(key: patternKey, reason: "\(period) is negative") }
            c.localLayers = (0..<c.blockCount).map { period == 0 || $0 % period < period - 1 }
        }
        c.localRopeFreqBase = try meta.float("gemma3.rope.freq_base_swa", default: 10_000)
        if let kind = meta.file.metadata["gemma3.rope.scaling.type"]?.string, kind != "none" {
            guard kind == "linear" else {
                throw .invalidMetadata(key: "gemma3.rope.scaling.type", reason: "'\(kind)' rope scaling is not supported")
            }
            let factor = try meta.float("gemma3.rope.scaling.factor", default: 1)
            guard factor > 0 else { throw .invalidMetadata(key: "gemma3.rope.scaling.factor", reason: "\(factor) is not positive") }
            c.ropeFreqScale = 1 / factor
        }
        c.logitSoftcap = try meta.float("gemma3.final_logit_softcapping", default: 0)
        return c
    }
}
