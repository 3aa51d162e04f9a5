// Byte-level BPE (GGUF `tokenizer.ggml.model == "gpt2"`), a port of llama.cpp's `llm_tokenizer_bpe`.

/// Byte-level BPE with llama.cpp's exact pre-tokenization, merge order and fallbacks.
///
/// Merges work on interned symbol ids rather than strings: every token text has its vocabulary id,
/// and every other string a merge can name or produce gets an id past the vocabulary. That keeps
/// llama.cpp's string semantics (a merge may build an intermediate that is not itself a token)
/// while the hot loop only hashes pairs of integers.
public struct BPETokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenID: Int32?
    public let eosTokenID: Int32?
    /// EOT from the metadata, or the token llama.cpp finds by its text (`<|im_end|>`, `<|eot_id|>`, ...).
    public var eotTokenID: Int32? { special.eotTokenID }
    public let addBOS: Bool
    public let addEOS: Bool
    public let preTokenizer: PreTokenizer

    let texts: [String]
    let special: SpecialTokenTable
    /// Token texts and merge-only strings to symbol ids (ids >= vocabularySize are not tokens).
    private let symbolIDs: [String: Int32]
    /// Byte-level UTF-8 of the merge-only symbols, indexed by `id - vocabularySize`.
    private let extraSymbolBytes: [[UInt8]]
    /// Starting symbol for each input byte (its byte-level character).
    private let byteSymbols: [Int32]
    /// Token of each one-byte string, -1 if none: llama.cpp's fallback for unfinished symbols.
    private let singleByteTokens: [Int32]
    /// (left << 32 | right) to (rank << 32 | merged symbol); the first of duplicate merges wins.
    private let merges: [UInt64: UInt64]

    public init(vocabulary: TokenizerVocabulary) throws(TokenizerError) {
        try vocabulary.validate()
        guard vocabulary.model == "gpt2" else { throw .unsupportedModel(vocabulary.model) }
        preTokenizer = try PreTokenizer(pre: vocabulary.pre)

        let count = vocabulary.tokens.count
        let texts = vocabulary.tokenTexts
        var symbolIDs = [String: Int32](minimumCapacity: count + vocabulary.merges.count / 8 + 256)
        for (id, text) in texts.enumerated() { symbolIDs[text] = Int32(id) }
        var extras: [[UInt8]] = []
        func intern(_ text: String) -> Int32 {
            if let id = symbolIDs[text] { return id }
            let id = Int32(count + extras.count)
            symbolIDs[text] = id
            extras.append(Array(text.utf8))
            return id
        }

        var merges = [UInt64: UInt64](minimumCapacity: vocabulary.merges.count)
        for (rank, merge) in vocabulary.merges.enumerated() {
            // llama.cpp splits at the first space from the second byte on; a merge without one
            // becomes ("", "") there, which no symbol can match.
            let utf8 = merge.utf8
            guard utf8.count > 1,
                  let space = utf8[utf8.index(after: utf8.startIndex)...].firstIndex(of: 0x20) else { continue }
            let left = String(merge[..<space])
            let right = String(merge[utf8.index(after: space)...])
            let key = Self.pairKey(intern(left), intern(right))
            if merges[key] == nil {
                merges[key] = UInt64(rank) << 32 | UInt64(UInt32(intern(left + right)))
            }
        }
        byteSymbols = ByteLevelAlphabet.codepointForByte.map { intern(String(Unicode.Scalar($0)!)) }
        singleByteTokens = (0..<128).map { byte in
            let id = symbolIDs[String(Unicode.Scalar(UInt8(byte)))] ?? -1
            return id < count ? id : -1
        }

        self.vocabularySize = count
        self.bosTokenID = vocabulary.bosTokenID
        self.eosTokenID = vocabulary.eosTokenID
        self.addBOS = vocabulary.addBOS
        self.addEOS = vocabulary.addEOS
        self.texts = texts
        self.special = SpecialTokenTable(vocabulary: vocabulary, texts: texts)
        self.symbolIDs = symbolIDs
        self.extraSymbolBytes = extras
        self.merges = merges
    }

    /// The vocabulary text of `id` (byte-level for normal tokens), nil outside the vocabulary.
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
        var scratch = MergeScratch()
        bytes.withUnsafeBufferPointer { bytes in
            for fragment in special.partition(bytes, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id): output.append(id)
                case .text(let range): encodeText(UnsafeBufferPointer(rebasing: bytes[range]), &output, &scratch)
                }
            }
        }
        return output
    }

    public func tokenBytes(_ id: Int32, renderSpecial: Bool) -> [UInt8] {
        special.pieceBytes(id, texts: texts, renderSpecial: renderSpecial, normal: Self.byteLevelDecode)
    }

    // MARK: - Encoding

    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Pre-tokenizes one fragment of raw text (valid UTF-8, cut only at character boundaries) and
    /// runs BPE on each word.
    private func encodeText(_ bytes: UnsafeBufferPointer<UInt8>, _ output: inout [Int32], _ scratch: inout MergeScratch) {
        var codepoints: [UInt32] = []
        var offsets: [Int] = []  // byte offset of each code point, plus the end
        codepoints.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var index = 0
        while index < bytes.count {
            let lead = UInt32(bytes[index])
            offsets.append(index)
            if lead < 0x80 {
                codepoints.append(lead); index += 1
            } else if lead < 0xE0 {
                codepoints.append((lead & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F)); index += 2
            } else if lead < 0xF0 {
                codepoints.append((lead & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6
                    | UInt32(bytes[index + 2] & 0x3F)); index += 3
            } else {
                codepoints.append((lead & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12
                    | UInt32(bytes[index + 2] & 0x3F) << 6 | UInt32(bytes[index + 3] & 0x3F)); index += 4
            }
        }
        offsets.append(bytes.count)
        let flags = codepoints.map { CodepointFlags.of(Unicode.Scalar($0).unsafelyUnwrapped) }

        var start = 0
        for length in preTokenizer.splitLengths(codepoints, flags) {
            let word = UnsafeBufferPointer(rebasing: bytes[offsets[start]..<offsets[start + length]])
            encodeWord(word, &output, &scratch)
            start += length
        }
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, _ output: inout [Int32], _ scratch: inout MergeScratch) {
        if preTokenizer.ignoreMerges {
            var encoded: [UInt8] = []
            for byte in word { encoded.append(contentsOf: ByteLevelAlphabet.utf8ForByte[Int(byte)]) }
            if let id = symbolIDs[String(decoding: encoded, as: UTF8.self)], Int(id) < vocabularySize {
                output.append(id)
                return
            }
        }
        if word.count <= 1 {
            if let byte = word.first { emit(byteSymbols[Int(byte)], &output) }
            return
        }

        // Symbols form a linked list over word positions; an absorbed symbol gets id -1, so queued
        // pairs naming it, or naming a symbol that has grown since, are recognised as stale.
        scratch.reset(count: word.count)
        for (position, byte) in word.enumerated() { scratch.symbols[position] = byteSymbols[Int(byte)] }
        for position in 1..<word.count { queuePair(position - 1, position, &scratch) }

        while let pair = scratch.popBest() {
            let left = Int(pair.left), right = Int(pair.right)
            guard scratch.symbols[left] == pair.leftSymbol && scratch.symbols[right] == pair.rightSymbol else { continue }
            scratch.symbols[left] = pair.merged
            scratch.symbols[right] = -1
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[Int(after)] = Int32(left) }
            queuePair(Int(scratch.previous[left]), left, &scratch)
            queuePair(left, Int(after), &scratch)
        }

        var position = 0
        while position >= 0 {
            emit(scratch.symbols[position], &output)
            position = Int(scratch.next[position])
        }
    }

    @inline(__always)
    private func queuePair(_ left: Int, _ right: Int, _ scratch: inout MergeScratch) {
        guard left >= 0 && right >= 0 else { return }
        let leftSymbol = scratch.symbols[left], rightSymbol = scratch.symbols[right]
        guard let entry = merges[Self.pairKey(leftSymbol, rightSymbol)] else { return }
        scratch.push(MergeCandidate(
            rank: Int32(truncatingIfNeeded: entry >> 32), left: Int32(left), right: Int32(right),
            leftSymbol: leftSymbol, rightSymbol: rightSymbol, merged: Int32(truncatingIfNeeded: entry)))
    }

    /// A finished symbol that is not a token falls back to the tokens of its single bytes; bytes
    /// without one (any non-ASCII byte of the byte-level text) are dropped, exactly as llama.cpp does.
    @inline(__always)
    private func emit(_ symbol: Int32, _ output: inout [Int32]) {
        if Int(symbol) < vocabularySize {
            output.append(symbol)
            return
        }
        for byte in extraSymbolBytes[Int(symbol) - vocabularySize] where byte < 0x80 {
            let token = singleByteTokens[Int(byte)]
            if token >= 0 { output.append(token) }
        }
    }

    // MARK: - Decoding

    /// Byte-level text back to bytes; a character outside the alphabet renders the way llama.cpp's
    /// `llama_decode_text` does, so malformed vocabularies decode identically.
    static func byteLevelDecode(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let byte = ByteLevelAlphabet.byte(for: scalar.value) {
                bytes.append(byte)
            } else {
                let hex = String(scalar).utf8.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
                bytes.append(contentsOf: "[UNK_BYTE_0x\(hex)\(text)]".utf8)
            }
        }
        return bytes
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A queued merge of the symbols at word positions `left` and `right`.
struct MergeCandidate: MergeOrdered {
    var rank: Int32
    var left: Int32
    var right: Int32
    var leftSymbol: Int32
    var rightSymbol: Int32
    var merged: Int32

    /// llama.cpp's order: lowest rank first, then leftmost.
    @inline(__always) func precedes(_ other: MergeCandidate) -> Bool {
        rank != other.rank ? rank < other.rank : left < other.left
    }
}

/// Per-call working storage for `encodeWord`, reused across the words of one `encode` call so the
/// tokenizer itself stays immutable and freely shareable between threads.
struct MergeScratch {
    var symbols: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    private var queue = MergeQueue<MergeCandidate>()

    mutating func reset(count: Int) {
        symbols.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        queue.removeAll()
        symbols.append(contentsOf: repeatElement(-1, count: count))
        for position in 0..<count {
            previous.append(Int32(position - 1))
            next.append(position + 1 < count ? Int32(position + 1) : -1)
        }
    }

    mutating func push(_ candidate: MergeCandidate) { queue.push(candidate) }

    mutating func popBest() -> MergeCandidate? { queue.popBest() }
}
