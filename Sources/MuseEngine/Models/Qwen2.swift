// Qwen2 and Qwen2.5 (`qwen2`): Llama's block with biases on the Q, K and V projections and
// rotary embeddings on halves of each head (NeoX style).

extension DecoderConfiguration {
    static func qwen2(_ meta: MetadataReader) throws(ModelLoadError) -> DecoderConfiguration {
        var c = try DecoderConfiguration(meta, architecture: "qwen2")
        c.ropeStyle = .neox
        c.attentionBias = true
        return c
    }
}
