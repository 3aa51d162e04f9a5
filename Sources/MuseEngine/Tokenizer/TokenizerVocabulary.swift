// Tokenizer metadata as read from GGUF (`tokenizer.ggml.*`), plus the typed errors tokenizers throw.

/// Everything a tokenizer needs from the model file. Field meanings follow the GGUF keys
/// `tokenizer.ggml.model`, `.pre`, `.tokens`, `.token_type`, `.merges`, `.scores`, `.*_token_id`,
/// `.add_bos_token`, `.add_eos_token`, `.add_space_prefix`.
public struct TokenizerVocabulary: Sendable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece).
    public var model: String
    /// `tokenizer.ggml.pre`: "smollm", "gpt-2", "llama-bpe", "qwen2", "default", ...
    public var pre: String
    /// Token texts, indexed by id (byte-level alphabet for BPE, e.g. "Ġthe"; "▁the" for SentencePiece).
    public var tokens: [String]
    /// llama.cpp token types: 0 undefined, 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    /// Empty means every token is normal.
    public var tokenTypes: [Int32]
    /// "left right" pairs; the rank of a merge is its index.
    public var merges: [String]
    /// Per-token scores (SentencePiece); may be empty.
    public var scores: [Float]
    public var bosTokenID: Int32?
    public var eosTokenID: Int32?
    public var unknownTokenID: Int32?
    public var paddingTokenID: Int32?
    public var eotTokenID: Int32?
    public var addBOS: Bool
    public var addEOS: Bool
    /// `tokenizer.ggml.add_space_prefix` (SentencePiece puts "▁" before the text); nil when the
    /// file does not say, meaning llama.cpp's default: on for "llama" vocabularies.
    public var addSpacePrefix: Bool?

    public init(
        model: String,
        pre: String,
        tokens: [String],
        tokenTypes: [Int32] = [],
        merges: [String] = [],
        scores: [Float] = [],
        bosTokenID: Int32? = nil,
        eosTokenID: Int32? = nil,
        unknownTokenID: Int32? = nil,
        paddingTokenID: Int32? = nil,
        eotTokenID: Int32? = nil,
        addBOS: Bool = false,
        addEOS: Bool = false,
        addSpacePrefix: Bool? = nil
    ) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.scores = scores
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.unknownTokenID = unknownTokenID
        self.paddingTokenID = paddingTokenID
        self.eotTokenID = eotTokenID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
    }

    /// Token texts with empty ones renamed "[EMPTY_<id>]", as llama.cpp does on load.
    var tokenTexts: [String] {
        tokens.enumerated().map { $1.isEmpty ? "[EMPTY_\($0)]" : $1 }
    }

    /// Checks the structural invariants llama.cpp also refuses to load without.
    /// Merges are not checked: llama.cpp keeps merges whose halves are not tokens (they can still
    /// fire on intermediate symbols), and so does `BPETokenizer`.
    public func validate() throws(TokenizerError) {
        _ = try validatedIndex()
    }

    /// `validate()`, handing back the byte-exact text index it builds to look for duplicates.
    func validatedIndex() throws(TokenizerError) -> TokenTextIndex {
        if tokens.isEmpty { throw .emptyVocabulary }
        // llama.cpp accepts longer arrays (it reads the first n); shorter ones are corrupt.
        if !tokenTypes.isEmpty && tokenTypes.count < tokens.count {
            throw .countMismatch(field: "token_type", expected: tokens.count, actual: tokenTypes.count)
        }
        if !scores.isEmpty && scores.count < tokens.count {
            throw .countMismatch(field: "scores", expected: tokens.count, actual: scores.count)
        }
        let specials: [(String, Int32?)] = [
            ("bos", bosTokenID), ("eos", eosTokenID), ("unknown", unknownTokenID),
            ("padding", paddingTokenID), ("eot", eotTokenID),
        ]
        for (name, id) in specials {
            if let id, id < 0 || Int(id) >= tokens.count {
                throw .tokenIDOutOfRange(name: name, id: id, vocabularySize: tokens.count)
            }
        }
        if addBOS && bosTokenID == nil { throw .missingSpecialToken(name: "bos") }
        if addEOS && eosTokenID == nil { throw .missingSpecialToken(name: "eos") }
        // Byte-exact, like llama.cpp's std::string keys: canonically equivalent texts are distinct.
        let index = TokenTextIndex(texts: tokenTexts)
        if let duplicate = index.duplicate {
            throw .duplicateToken(text: duplicate.text, firstID: duplicate.firstID, secondID: duplicate.secondID)
        }
        return index
    }
}

public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyVocabulary
    case countMismatch(field: String, expected: Int, actual: Int)
    case tokenIDOutOfRange(name: String, id: Int32, vocabularySize: Int)
    case missingSpecialToken(name: String)
    case duplicateToken(text: String, firstID: Int, secondID: Int)
    case unsupportedModel(String)
    case unsupportedPreTokenizer(String)

    public var description: String {
        switch self {
        case .emptyVocabulary:
            return "tokenizer vocabulary is empty"
        case let .countMismatch(field, expected, actual):
            return "tokenizer \(field) has \(actual) entries, expected \(expected)"
        case let .tokenIDOutOfRange(name, id, size):
            return "\(name) token id \(id) is outside the vocabulary (size \(size))"
        case let .missingSpecialToken(name):
            return "add_\(name)_token is set but no \(name) token id is given"
        case let .duplicateToken(text, first, second):
            return "duplicate token '\(text)' with ids \(first) and \(second)"
        case let .unsupportedModel(model):
            return "unsupported tokenizer model '\(model)'"
        case let .unsupportedPreTokenizer(pre):
            return "unsupported pre-tokenizer '\(pre)'"
        }
    }
}
