// Reads a tokenizer's vocabulary from the `tokenizer.ggml.*` metadata of a GGUF file.

extension TokenizerVocabulary {
    public init(gguf file: GGUFFile) throws(ModelLoadError) {
        let meta = file.metadata
        func strings(_ key: String, required: Bool) throws(ModelLoadError) -> [String] {
            guard let value = meta[key] else {
                if required { throw .missingMetadata(key) }
                return []
            }
            guard let strings = value.strings else { throw .invalidMetadata(key: key, reason: "expected an array of strings") }
            return strings
        }
        func id(_ key: String) throws(ModelLoadError) -> Int32? {
            guard let value = meta[key] else { return nil }
            guard let int = value.int, int >= 0, int <= Int(Int32.max) else {
                throw .invalidMetadata(key: key, reason: "expected a token id")
            }
            return Int32(int)
        }
        guard let model = meta["tokenizer.ggml.model"]?.string else { throw .missingMetadata("tokenizer.ggml.model") }
        let types: [Int32]
        if let value = meta["tokenizer.ggml.token_type"] {
            guard let ints = value.ints else { throw .invalidMetadata(key: "tokenizer.ggml.token_type", reason: "expected integers") }
            types = ints.map { Int32(clamping: $0) }
        } else {
            types = []
        }
        self.init(
            model: model,
            pre: meta["tokenizer.ggml.pre"]?.string ?? "default",
            tokens: try strings("tokenizer.ggml.tokens", required: true),
            tokenTypes: types,
            merges: try strings("tokenizer.ggml.merges", required: false),
            scores: meta["tokenizer.ggml.scores"]?.floats ?? [],
            bosTokenID: try id("tokenizer.ggml.bos_token_id"),
            eosTokenID: try id("tokenizer.ggml.eos_token_id"),
            unknownTokenID: try id("tokenizer.ggml.unknown_token_id"),
            paddingTokenID: try id("tokenizer.ggml.padding_token_id"),
            eotTokenID: try id("tokenizer.ggml.eot_token_id"),
            addBOS: meta["tokenizer.ggml.add_bos_token"]?.bool ?? false,
            addEOS: meta["tokenizer.ggml.add_eos_token"]?.bool ?? false)
    }
}
