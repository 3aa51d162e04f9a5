// SentencePiece (GGUF `tokenizer.ggml.model == "llama"`, e.g. Gemma 3), a port of llama.cpp's
// `llm_tokenizer_spm`.

/// SentencePiece as llama.cpp runs it: spaces become "▁", every character starts as a symbol, and
/// the adjacent pair whose concatenation is the highest-scoring token merges first (ties: the
/// leftmost); characters left without a token become `<0xXX>` byte tokens.
///
/// Unlike BPE there is no merge list and no pre-tokenizer: the vocabulary's scores alone order the
/// merges, and a candidate pair is only ever a token text, looked up byte-exactly.
public struct SentencePieceTokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenID: Int32?
    public let eosTokenID: Int32?
    /// EOT from the metadata, or the token llama.cpp finds by its text (`<end_of_turn>`, ...).
    public var eotTokenID: Int32? { special.eotTokenID }
    public let unknownTokenID: Int32?
    public let addBOS: Bool
    public let addEOS: Bool
    /// Whether "▁" goes in front of the text and after every special token (`add_space_prefix`;
    /// llama.cpp defaults it on for SentencePiece, Gemma 3 turns it off).
    public let addSpacePrefix: Bool

    let texts: [String]
    let special: SpecialTokenTable
    private let index: TokenTextIndex
    private let scores: [Float]
    /// The token for each byte of a character that has none: `<0xXX>`, else the one-byte text, else -1.
    private let byteTokens: [Int32]

    /// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
    static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]

    public init(vocabulary: TokenizerVocabulary) throws(TokenizerError) {
        let index = try vocabulary.validatedIndex()
        guard vocabulary.model == "llama" else { throw .unsupportedModel(vocabulary.model) }
        let count = vocabulary.tokens.count
        let texts = vocabulary.tokenTexts

        // llama.cpp's `byte_to_token`: the `<0xXX>` token, else the token spelt as that single byte.
        byteTokens = (0..<256).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            let id = index.id(of: "<0x\(byte < 16 ? "0" : "")\(hex)>")
            return id >= 0 ? id : [UInt8(byte)].withUnsafeBufferPointer { index.id(of: $0) }
        }
        vocabularySize = count
        bosTokenID = vocabulary.bosTokenID
        eosTokenID = vocabulary.eosTokenID
        unknownTokenID = vocabulary.unknownTokenID
        addBOS = vocabulary.addBOS
        addEOS = vocabulary.addEOS
        addSpacePrefix = vocabulary.addSpacePrefix ?? true
        self.texts = texts
        self.index = index
        // llama.cpp gives every token score 0 when the file has none.
        scores = vocabulary.scores.isEmpty ? Array(repeating: 0, count: count) : Array(vocabulary.scores.prefix(count))
        special = SpecialTokenTable(vocabulary: vocabulary, texts: texts)
    }

    /// The vocabulary text of `id` ("▁" for spaces), nil outside the vocabulary.
    public func tokenText(_ id: Int32) -> String? {
        id >= 0 && Int(id) < vocabularySize ? texts[Int(id)] : nil
    }

    public func isEndOfGeneration(_ id: Int32) -> Bool {
        special.endOfGeneration.contains(id)
    }

    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        let bytes = Array(text.utf8)
        var output: [Int32] = []
        output.reserveCapacity(bytes.count / 3 + 4)
        var scratch = SymbolScratch()
        var escaped: [UInt8] = []
        bytes.withUnsafeBufferPointer { bytes in
            // llama.cpp prefixes a text fragment with a space when it starts the input or follows
            // a special token (`is_prev_special`).
            var afterSpecial = true
            for fragment in special.partition(bytes, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    afterSpecial = true
                case .text(let range):
                    escaped.removeAll(keepingCapacity: true)
                    if addSpacePrefix && afterSpecial { escaped.append(contentsOf: Self.spaceMark) }
                    for byte in bytes[range] {
                        if byte == 0x20 { escaped.append(contentsOf: Self.spaceMark) } else { escaped.append(byte) }
                    }
                    escaped.withUnsafeBufferPointer { encodeFragment($0, &output, &scratch) }
                    afterSpecial = false
                }
            }
        }
        return output
    }

    public func tokenBytes(_ id: Int32, renderSpecial: Bool) -> [UInt8] {
        special.pieceBytes(id, texts: texts, renderSpecial: renderSpecial, normal: Self.unescape)
    }

    /// Joined pieces, as llama.cpp's `llama_detokenize`: when the encoder adds a space prefix, one
    /// leading space of the first piece is dropped again (Gemma 3 adds none, so keeps every space).
    public func decode(_ ids: [Int32], renderSpecial: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for (position, id) in ids.enumerated() {
            let piece = tokenBytes(id, renderSpecial: renderSpecial)
            let stripped = position == 0 && addSpacePrefix && piece.first == 0x20
            bytes.append(contentsOf: stripped ? piece.dropFirst() : piece[...])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Encoding

    /// llama.cpp's `llm_tokenizer_spm_session::tokenize` on one escaped fragment.
    private func encodeFragment(_ text: UnsafeBufferPointer<UInt8>, _ output: inout [Int32],
                                _ scratch: inout SymbolScratch) {
        scratch.reset()
        var offset = 0
        while offset < text.count {
            // Length from the lead byte alone, cut at the end (llama.cpp's `unicode_len_utf8`).
            let length = min(Self.utf8Length[Int(text[offset] >> 4)], text.count - offset)
            scratch.append(start: offset, length: length)
            offset += length
        }
        let count = scratch.start.count
        if count == 0 { return }
        for right in stride(from: 1, to: count, by: 1) { queuePair(right - 1, right, text, &scratch) }

        while let pair = scratch.queue.popBest() {
            let left = pair.left, right = pair.right
            let leftLength = scratch.length[left], rightLength = scratch.length[right]
            // A side already absorbed (length 0) or grown since the pair was queued: stale.
            guard leftLength > 0 && rightLength > 0 && leftLength + rightLength == pair.size else { continue }
            scratch.length[left] = pair.size
            scratch.length[right] = 0
            scratch.token[left] = pair.token
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[after] = left }
            queuePair(scratch.previous[left], left, text, &scratch)
            queuePair(left, after, text, &scratch)
        }

        var symbol = 0
        while symbol >= 0 {
            emit(symbol, text, &output, scratch)
            symbol = scratch.next[symbol]
        }
    }

    /// llama.cpp's `try_add_bigram`: queue the pair if its concatenation is a token (any kind).
    @inline(__always)
    private func queuePair(_ left: Int, _ right: Int, _ text: UnsafeBufferPointer<UInt8>,
                           _ scratch: inout SymbolScratch) {
        guard left >= 0 && right >= 0 else { return }
        let start = scratch.start[left]
        let size = scratch.length[left] + scratch.length[right]
        guard size <= index.maxLength else { return }
        let token = index.id(of: UnsafeBufferPointer(rebasing: text[start..<start + size]))
        guard token >= 0 else { return }
        scratch.queue.push(ScoredPair(score: scores[Int(token)], left: left, right: right, size: size, token: token))
    }

    /// A final symbol: its token, else one token per byte. llama.cpp's `resegment` would first split
    /// a non-token symbol along the pair that formed it, but a pair is only merged when its
    /// concatenation is a token, so only unmerged characters ever lack one; they go straight to
    /// bytes. A byte with no token at all (llama.cpp throws there) becomes the unknown token.
    private func emit(_ symbol: Int, _ text: UnsafeBufferPointer<UInt8>, _ output: inout [Int32],
                      _ scratch: SymbolScratch) {
        let start = scratch.start[symbol], end = start + scratch.length[symbol]
        var token = scratch.token[symbol]
        if token < 0 { token = index.id(of: UnsafeBufferPointer(rebasing: text[start..<end])) }
        if token >= 0 {
            output.append(token)
            return
        }
        for byte in text[start..<end] {
            let fallback = byteTokens[Int(byte)]
            if fallback >= 0 {
                output.append(fallback)
            } else if let unknownTokenID {
                output.append(unknownTokenID)
            }
        }
    }

    /// UTF-8 sequence length by the lead byte's top four bits; continuation bytes count as one.
    private static let utf8Length = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4]

    // MARK: - Decoding

    /// A normal token's text with every "▁" back to a space (`llama_unescape_whitespace`).
    static func unescape(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            if utf8[index] == 0xE2 && index + 2 < utf8.count && utf8[index + 1] == 0x96 && utf8[index + 2] == 0x81 {
                bytes.append(0x20)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return bytes
    }
}

/// A queued merge of the symbols at positions `left` and `right` into `token`, `size` bytes long.
struct ScoredPair: MergeOrdered {
    var score: Float
    var left: Int
    var right: Int
    var size: Int
    var token: Int32

    /// llama.cpp's `llm_bigram_spm::comparator` turned around: highest score first, then leftmost.
    @inline(__always) func precedes(_ other: ScoredPair) -> Bool {
        score > other.score || (score == other.score && left < other.left)
    }
}

/// Per-call symbol list for `encodeFragment`: symbol `i` is `length[i]` bytes from `start[i]`
/// (0 once absorbed into its left neighbour), linked through `previous`/`next`; `token` is the
/// token a merge produced, -1 for a symbol still one character.
struct SymbolScratch {
    var start: [Int] = []
    var length: [Int] = []
    var previous: [Int] = []
    var next: [Int] = []
    var token: [Int32] = []
    var queue = MergeQueue<ScoredPair>()

    mutating func reset() {
        start.removeAll(keepingCapacity: true)
        length.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        token.removeAll(keepingCapacity: true)
        queue.removeAll()
    }

    /// Adds a symbol after the last one; the last symbol's `next` is -1 until another follows.
    mutating func append(start offset: Int, length count: Int) {
        let position = start.count
        if position > 0 { next[position - 1] = position }
        start.append(offset)
        length.append(count)
        previous.append(position - 1)
        next.append(-1)
        token.append(-1)
    }
}
