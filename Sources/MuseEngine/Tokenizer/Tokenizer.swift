// The tokenizer interface the engine programs against, and the factory choosing an implementation.

/// Text to token ids and back, exact to llama.cpp for the vocabulary kinds implemented.
/// Implementations are immutable values, safe to share across threads.
public protocol Tokenizer: Sendable {
    /// Number of tokens in the vocabulary (valid ids are `0..<vocabularySize`).
    var vocabularySize: Int { get }
    var bosTokenID: Int32? { get }
    var eosTokenID: Int32? { get }
    /// Whether the model expects callers to put BOS in front of a prompt (`add_bos_token`).
    var addBOS: Bool { get }

    /// Token ids for `text`, never adding BOS/EOS (callers do). With `parseSpecial`, control tokens
    /// written literally (e.g. `<|im_end|>`) become their ids; user-defined tokens always do.
    func encode(_ text: String, parseSpecial: Bool) -> [Int32]

    /// The bytes `id` stands for. Control and unknown tokens give their text only when
    /// `renderSpecial` is set, otherwise nothing; ids outside the vocabulary give nothing.
    func tokenBytes(_ id: Int32, renderSpecial: Bool) -> [UInt8]

    /// Whether generating `id` ends the generation, by llama.cpp's `llama_vocab_is_eog` rules.
    func isEndOfGeneration(_ id: Int32) -> Bool

    /// The text of `ids` (see the default implementation); a requirement so that a vocabulary kind
    /// can adjust the joined pieces as llama.cpp's `llama_detokenize` does.
    func decode(_ ids: [Int32], renderSpecial: Bool) -> String
}

extension Tokenizer {
    /// The bytes `id` stands for, with control tokens rendering as nothing.
    public func tokenBytes(_ id: Int32) -> [UInt8] {
        tokenBytes(id, renderSpecial: false)
    }

    /// The text of `ids`, control tokens included as their text (like llama.cpp's
    /// `common_detokenize` default), so that `decode(encode(s, parseSpecial: true)) == s`.
    /// Invalid UTF-8 (e.g. a cut multi-byte character) becomes U+FFFD. llama.cpp's optional
    /// `clean_spaces` post-processing is deliberately not applied: this is the exact inverse.
    public func decode(_ ids: [Int32]) -> String {
        decode(ids, renderSpecial: true)
    }

    public func decode(_ ids: [Int32], renderSpecial: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { bytes.append(contentsOf: tokenBytes(id, renderSpecial: renderSpecial)) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension TokenizerVocabulary {
    /// A tokenizer for this vocabulary's `model` kind.
    public func makeTokenizer() throws(TokenizerError) -> any Tokenizer {
        switch model {
        case "gpt2":
            return try BPETokenizer(vocabulary: self)
        case "llama":
            return try SentencePieceTokenizer(vocabulary: self)
        default:
            throw .unsupportedModel(model)
        }
    }
}
