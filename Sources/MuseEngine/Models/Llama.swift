// Llama (SmolLM2, Llama 2 and the many models converted as `llama`): RMSNorm, rotary embeddings on
// adjacent pairs, grouped-query attention with a causal mask, SwiGLU; a tied or separate output head.

extension DecoderConfiguration {
    static func llama(_ meta: MetadataReader) throws(ModelLoadError) -> DecoderConfiguration {
        try DecoderConfiguration(meta, architecture: "llama")
    }
}
