// Splits text into words before BPE, reproducing llama.cpp's regex chains per `tokenizer.ggml.pre`.

/// A chain of splitting stages, each refining the pieces of the previous one (as llama.cpp's
/// `unicode_regex_split` applies its list of regexes). The stages are hand-written scanners that
/// match llama.cpp's own custom implementations (GPT-2, Llama 3) or the exact semantics of the
/// `std::regex` it falls back to on category-collapsed text (the simple digit/punctuation ones,
/// and Qwen2's single-digit variant of the Llama 3 regex).
public struct PreTokenizer: Sendable {
    enum Stage: Sendable, Equatable {
        /// `\p{N}`: every number code point on its own.
        case eachNumber
        /// `\p{N}+`
        case numberRuns
        /// `[0-9][0-9][0-9]`, leftmost first.
        case asciiDigitTriples
        /// `[\p{P}\$\+<=>\^~\|]+`
        case punctuationRuns
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}|
        ///  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` with k = 3 (Llama 3) or 1 (Qwen2).
        case llama3(maxDigits: Int)
    }

    /// The `tokenizer.ggml.pre` value this was built for.
    public let name: String
    let stages: [Stage]
    /// llama.cpp's `ignore_merges`: a word that is itself a token skips BPE (Llama 3 family).
    let ignoreMerges: Bool

    /// Names as llama.cpp maps them to its pre-tokenizer types ("gpt2" is also taken as "gpt-2").
    /// Throws `unsupportedPreTokenizer` for any other name, including the rarer kinds llama.cpp
    /// has (deepseek, falcon, tekken, gpt-4o, kimi-k2, ...) that this port does not cover yet.
    public init(pre: String) throws(TokenizerError) {
        name = pre
        switch pre {
        case "", "default":
            stages = [.punctuationRuns, .gpt2, .numberRuns, .asciiDigitTriples]
            ignoreMerges = false
        case "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
             "a.x-4.0", "mellum", "modern-bert", "exaone4", "jina-v1-en", "jina-v2-code", "roberta-bpe",
             "mpt", "olmo", "jais", "trillion", "granite-docling":
            stages = [.gpt2]
            ignoreMerges = false
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            stages = [.eachNumber, .gpt2]
            ignoreMerges = false
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
             "jina-v5-nano":
            stages = [.llama3(maxDigits: 3)]
            ignoreMerges = true
        case "dbrx", "smaug-bpe", "glm4", "chatglm-bpe":
            stages = [.llama3(maxDigits: 3)]
            ignoreMerges = false
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan",
             "solar-open", "grok-2":
            stages = [.llama3(maxDigits: 1)]
            ignoreMerges = false
        default:
            throw .unsupportedPreTokenizer(pre)
        }
    }

    /// The words of `text`, for inspection and tests; encoding uses `splitLengths` directly.
    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        let lengths = splitLengths(scalars.map(\.value), scalars.map(CodepointFlags.of))
        var words: [String] = []
        var start = 0
        for length in lengths {
            var word = String.UnicodeScalarView()
            word.append(contentsOf: scalars[start..<start + length])
            words.append(String(word))
            start += length
        }
        return words
    }

    /// Word lengths in code points; they add up to `codepoints.count`.
    func splitLengths(_ codepoints: [UInt32], _ flags: [CodepointFlags]) -> [Int] {
        if codepoints.isEmpty { return [] }
        var pieces = [codepoints.count]
        codepoints.withUnsafeBufferPointer { cpts in
            flags.withUnsafeBufferPointer { flags in
                for stage in stages {
                    var out: [Int] = []
                    out.reserveCapacity(pieces.count * 2 + 8)
                    var start = 0
                    for length in pieces {
                        var scanner = PieceScanner(cpts: cpts, flags: flags, start: start, end: start + length)
                        switch stage {
                        case .eachNumber: scanner.splitNumbers(&out, maxRun: 1)
                        case .numberRuns: scanner.splitNumbers(&out, maxRun: Int.max)
                        case .punctuationRuns: scanner.splitPunctuationRuns(&out)
                        case .asciiDigitTriples: scanner.splitDigitTriples(&out)
                        case .gpt2: scanner.splitGPT2(&out)
                        case .llama3(let maxDigits): scanner.splitLlama3(&out, maxDigits: maxDigits)
                        }
                        start += length
                    }
                    pieces = out
                }
            }
        }
        return pieces
    }
}

private enum ASCII {
    static let apostrophe = UInt32(UInt8(ascii: "'"))
    static let space = UInt32(UInt8(ascii: " "))
    static let cr = UInt32(UInt8(ascii: "\r"))
    static let lf = UInt32(UInt8(ascii: "\n"))
    static let zero = UInt32(UInt8(ascii: "0"))
    static let nine = UInt32(UInt8(ascii: "9"))

    /// ASCII-only lowering; the contraction alternatives only ever compare against ASCII letters.
    @inline(__always) static func lower(_ c: UInt32) -> UInt32 {
        (0x41...0x5A).contains(c) ? c + 0x20 : c
    }
}

/// Scans one piece `[start, end)`, appending sub-piece lengths. Positions outside the piece read as
/// `outOfRange` with empty flags, which is how llama.cpp's scanners see piece boundaries.
private struct PieceScanner {
    let cpts: UnsafeBufferPointer<UInt32>
    let flags: UnsafeBufferPointer<CodepointFlags>
    let start: Int
    let end: Int
    private var previousEnd: Int

    static let outOfRange: UInt32 = 0xFFFF_FFFF
    private static let wordClasses: CodepointFlags = [.whitespace, .letter, .number]

    init(cpts: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<CodepointFlags>, start: Int, end: Int) {
        self.cpts = cpts
        self.flags = flags
        self.start = start
        self.end = end
        self.previousEnd = start
    }

    @inline(__always) func cpt(_ pos: Int) -> UInt32 {
        pos >= start && pos < end ? cpts[pos] : Self.outOfRange
    }

    @inline(__always) func flag(_ pos: Int) -> CodepointFlags {
        pos >= start && pos < end ? flags[pos] : .none
    }

    @inline(__always) mutating func emit(upTo pos: Int, _ out: inout [Int]) {
        if pos > previousEnd { out.append(pos - previousEnd) }
        previousEnd = pos
    }

    /// A single-class regex: runs of member code points become pieces, cut every `maxRun` code
    /// points, and the text between matches stays one piece.
    mutating func splitMatches(_ out: inout [Int], maxRun: Int, isMember: (Int) -> Bool) {
        var pos = start
        while pos < end {
            if !isMember(pos) { pos += 1; continue }
            emit(upTo: pos, &out)
            var count = 0
            while pos < end && count < maxRun && isMember(pos) { pos += 1; count += 1 }
            emit(upTo: pos, &out)
        }
        emit(upTo: end, &out)
    }

    /// `\p{N}` (maxRun 1) or `\p{N}+`.
    mutating func splitNumbers(_ out: inout [Int], maxRun: Int) {
        let flags = self.flags
        splitMatches(&out, maxRun: maxRun) { flags[$0].contains(.number) }
    }

    /// `[\p{P}\$\+<=>\^~\|]+`: Unicode punctuation plus the ASCII symbols listed (not the backtick).
    mutating func splitPunctuationRuns(_ out: inout [Int]) {
        let cpts = self.cpts, flags = self.flags
        splitMatches(&out, maxRun: Int.max) { pos in
            switch cpts[pos] {
            case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
            default: return flags[pos].contains(.punctuation)
            }
        }
    }

    /// `[0-9][0-9][0-9]`: groups of three ASCII digits from the left of each digit run.
    mutating func splitDigitTriples(_ out: inout [Int]) {
        var pos = start
        while pos < end {
            let c = cpts[pos]
            guard c >= ASCII.zero && c <= ASCII.nine else { pos += 1; continue }
            var runEnd = pos
            while runEnd < end && cpts[runEnd] >= ASCII.zero && cpts[runEnd] <= ASCII.nine { runEnd += 1 }
            let triples = (runEnd - pos) / 3
            if triples > 0 {
                emit(upTo: pos, &out)
                for _ in 0..<triples { pos += 3; emit(upTo: pos, &out) }
            }
            pos = runEnd
        }
        emit(upTo: end, &out)
    }

    /// Port of llama.cpp's `unicode_regex_split_custom_gpt2`.
    mutating func splitGPT2(_ out: inout [Int]) {
        var pos = start
        while pos < end {
            let c = cpt(pos)
            let f = flag(pos)

            // 's|'t|'re|'ve|'m|'ll|'d
            if c == ASCII.apostrophe && pos + 1 < end {
                let next = cpt(pos + 1)
                if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {  // s t m d
                    pos += 2; emit(upTo: pos, &out); continue
                }
                if pos + 2 < end {
                    let nextNext = cpt(pos + 2)
                    if (next == 0x72 && nextNext == 0x65) || (next == 0x76 && nextNext == 0x65)
                        || (next == 0x6C && nextNext == 0x6C) {  // re ve ll
                        pos += 3; emit(upTo: pos, &out); continue
                    }
                }
            }

            let skipSpace = c == ASCII.space ? 1 : 0
            var f2 = c == ASCII.space ? flag(pos + 1) : f
            // <space>?\p{L}+
            if f2.contains(.letter) {
                pos += skipSpace
                while f2.contains(.letter) { pos += 1; f2 = flag(pos) }
                emit(upTo: pos, &out); continue
            }
            // <space>?\p{N}+
            if f2.contains(.number) {
                pos += skipSpace
                while f2.contains(.number) { pos += 1; f2 = flag(pos) }
                emit(upTo: pos, &out); continue
            }
            // <space>?[^\s\p{L}\p{N}]+
            if f2.isDisjoint(with: Self.wordClasses) && f2 != .none {
                pos += skipSpace
                while f2.isDisjoint(with: Self.wordClasses) && f2 != .none { pos += 1; f2 = flag(pos) }
                emit(upTo: pos, &out); continue
            }

            var whitespaceCount = 0
            while flag(pos + whitespaceCount).contains(.whitespace) { whitespaceCount += 1 }
            // \s+(?!\S): leave the last whitespace to prefix the next word
            if whitespaceCount > 1 && cpt(pos + whitespaceCount) != Self.outOfRange {
                pos += whitespaceCount - 1; emit(upTo: pos, &out); continue
            }
            // \s+
            if whitespaceCount > 0 {
                pos += whitespaceCount; emit(upTo: pos, &out); continue
            }
            pos += 1
            emit(upTo: pos, &out)
        }
        emit(upTo: end, &out)
    }

    /// Port of llama.cpp's `unicode_regex_split_custom_llama3`, with the digit group width as a
    /// parameter: at width 1 it gives exactly what `std::regex` gives for Qwen2's `\p{N}` variant.
    mutating func splitLlama3(_ out: inout [Int], maxDigits: Int) {
        var pos = start
        while pos < end {
            let c = cpt(pos)
            let f = flag(pos)

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if c == ASCII.apostrophe && pos + 1 < end {
                let next = ASCII.lower(cpt(pos + 1))
                if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {
                    pos += 2; emit(upTo: pos, &out); continue
                }
                if pos + 2 < end {
                    let nextNext = ASCII.lower(cpt(pos + 2))
                    if (next == 0x72 && nextNext == 0x65) || (next == 0x76 && nextNext == 0x65)
                        || (next == 0x6C && nextNext == 0x6C) {
                        pos += 3; emit(upTo: pos, &out); continue
                    }
                }
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == ASCII.cr || c == ASCII.lf || f.contains(.number)) {
                if f.contains(.letter) || flag(pos + 1).contains(.letter) {
                    pos += 1
                    while flag(pos).contains(.letter) { pos += 1 }
                    emit(upTo: pos, &out); continue
                }
            }

            // \p{N}{1,maxDigits}
            if f.contains(.number) {
                var groupStart = pos
                while flag(pos).contains(.number) {
                    pos += 1
                    if pos - groupStart >= maxDigits {
                        emit(upTo: pos, &out)
                        groupStart = pos
                    }
                }
                emit(upTo: pos, &out); continue
            }

            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            var f2 = c == ASCII.space ? flag(pos + 1) : f
            if f2.isDisjoint(with: Self.wordClasses) && f != .none {
                pos += c == ASCII.space ? 1 : 0
                while f2.isDisjoint(with: Self.wordClasses) && f2 != .none { pos += 1; f2 = flag(pos) }
                var c2 = cpt(pos)
                while c2 == ASCII.cr || c2 == ASCII.lf { pos += 1; c2 = cpt(pos) }
                emit(upTo: pos, &out); continue
            }

            var whitespaceCount = 0
            var lastLineBreakEnd = 0
            while flag(pos + whitespaceCount).contains(.whitespace) {
                let c2 = cpt(pos + whitespaceCount)
                if c2 == ASCII.cr || c2 == ASCII.lf { lastLineBreakEnd = pos + whitespaceCount + 1 }
                whitespaceCount += 1
            }
            // \s*[\r\n]+
            if lastLineBreakEnd > 0 {
                pos = lastLineBreakEnd; emit(upTo: pos, &out); continue
            }
            // \s+(?!\S)
            if whitespaceCount > 1 && cpt(pos + whitespaceCount) != Self.outOfRange {
                pos += whitespaceCount - 1; emit(upTo: pos, &out); continue
            }
            // \s+
            if whitespaceCount > 0 {
                pos += whitespaceCount; emit(upTo: pos, &out); continue
            }
            pos += 1
            emit(upTo: pos, &out)
        }
        emit(upTo: end, &out)
    }
}
