// Qwen3 (`qwen3`): no projection biases; instead each head's query and key are RMS-normalised
// before rotation. Rotary embeddings on halves (NeoX style). It reasons natively in <think>.

extension DecoderConfiguration {
    static func qwen3(_ meta: MetadataReader) throws(ModelLoadError) -> DecoderConfiguration {
        var c = try DecoderConfiguration(meta, architecture: "qwen3")
        c.ropeStyle = .neox
        c.queryKeyNorm = true
        return c
    }
}
