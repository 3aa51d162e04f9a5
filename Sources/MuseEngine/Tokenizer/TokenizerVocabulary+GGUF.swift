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
        // Float or integer entries, as llama.cpp takes either; anything else is an error rather
        // than silently no scores, which would change every SentencePiece merge.
        func floats(_ key: String) throws(ModelLoadError) -> [Float] {
            guard let value = meta[key] else { return [] }
            guard let floats = value.floats else { throw .invalidMetadata(key: key, reason: "expected an array of numbers") }
            return floats
        }
        guard let model = meta["tokenizer.ggml.model"]?.string else { throw .missingMetadata("tokenizer.ggml.model") }
        let types: [Int32]
        if let value = meta["tokenizer.ggml.token_type"] {
            guard let ints = value.ints else { throw .invalidMetadata(key: "tokenizer.ggml.token_type", reason: "expected integers") }
            types = ints.map { Int32(clamping: $0) }
        } else {
            types = []
        }
        let tokens = try strings("tokenizer.ggml.tokens", required: true)
        // llama.cpp's defaults for keys a SentencePiece file leaves out: <unk> 0, <s> 1, </s> 2
        // (each dropped if outside the vocabulary), and BOS added.
        let isSentencePiece = model == "llama"
        func defaultID(_ id: Int32) -> Int32? { isSentencePiece && Int(id) < tokens.count ? id : nil }
        self.init(
            model: model,
            pre: meta["tokenizer.ggml.pre"]?.string ?? "default",
            tokens: tokens,
            tokenTypes: types,
            merges: try strings("tokenizer.ggml.merges", required: false),
            scores: try floats("tokenizer.ggml.scores"),
            bosTokenID: try id("tokenizer.ggml.bos_token_id") ?? defaultID(1),
            eosTokenID: try id("tokenizer.ggml.eos_token_id") ?? defaultID(2),
            unknownTokenID: try id("tokenizer.ggml.unknown_token_id") ?? defaultID(0),
            paddingTokenID: try id("tokenizer.ggml.padding_token_id"),
            eotTokenID: try id("tokenizer.ggml.eot_token_id"),
            addBOS: meta["tokenizer.ggml.add_bos_token"]?.bool ?? isSentencePiece,
            addEOS: meta["tokenizer.ggml.add_eos_token"]?.bool ?? false,
            addSpacePrefix: meta["tokenizer.ggml.add_space_prefix"]?.bool)
    }
}
