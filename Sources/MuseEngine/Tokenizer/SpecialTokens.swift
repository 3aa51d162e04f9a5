// Token attributes, end-of-generation set and special-token partitioning, as llama.cpp derives them.

/// llama.cpp's `llama_token_attr` bits that tokenization and rendering depend on.
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt8

    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    /// From a GGUF `token_type` value (0 and unknown values are "undefined", i.e. no bits).
    init(tokenType: Int32) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []
        }
    }
}

/// A piece of input after special tokens are cut out: either a token id or a byte range of raw text.
enum TextFragment: Equatable {
    case token(Int32)
    case text(Range<Int>)
}

/// Everything about special tokens that is independent of the tokenizer algorithm, so an SPM
/// tokenizer can share it.
struct SpecialTokenTable: Sendable {
    let attributes: [TokenAttributes]
    let endOfGeneration: Set<Int32>
    /// EOT as llama.cpp resolves it: the metadata value, else a token found by its text.
    let eotTokenID: Int32?
    /// Control, user-defined and unknown tokens with their UTF-8, longest first: llama.cpp cuts
    /// them out of the text one token at a time in this order.
    private let partitionOrder: [(id: Int32, bytes: [UInt8])]

    /// Roles llama.cpp assigns by token text when the GGUF lacks the ids (`llama_vocab::impl::load`).
    private struct Roles: OptionSet {
        let rawValue: UInt16
        static let eot = Roles(rawValue: 1 << 0)
        static let eom = Roles(rawValue: 1 << 1)
        static let fimPre = Roles(rawValue: 1 << 2)
        static let fimSuf = Roles(rawValue: 1 << 3)
        static let fimMid = Roles(rawValue: 1 << 4)
        static let fimPad = Roles(rawValue: 1 << 5)
        static let fimRep = Roles(rawValue: 1 << 6)
        static let fimSep = Roles(rawValue: 1 << 7)
        static let eog = Roles(rawValue: 1 << 8)
        /// gpt-oss tokens llama.cpp always renders (forced to user-defined).
        static let alwaysRendered = Roles(rawValue: 1 << 9)

        /// Roles that pick one token id each.
        static let single: [Roles] = [.eot, .eom, .fimPre, .fimSuf, .fimMid, .fimPad, .fimRep, .fimSep]
    }

    // Text lists copied from llama.cpp.
    private static let rolesByText: [String: Roles] = {
        let lists: [(Roles, [String])] = [
            (.eot, ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                    "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"]),
            (.eom, ["<|eom_id|>"]),
            (.fimPre, ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                       "<|code_prefix|>", "<|prefix|>"]),
            (.fimSuf, ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                       "<|code_suffix|>", "<|suffix|>"]),
            (.fimMid, ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
                       "<|code_middle|>", "<|middle|>"]),
            (.fimPad, ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]),
            (.fimRep, ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
            (.fimSep, ["<|file_sep|>"]),
            (.eog, ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
                    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
                    "<｜end▁of▁sentence｜>", "[e~["]),
            (.alwaysRendered, ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]),
        ]
        var table: [String: Roles] = [:]
        for (role, texts) in lists { for text in texts { table[text, default: []].insert(role) } }
        return table
    }()

    /// First UTF-8 bytes of every text in `rolesByText`, to skip hashing almost every token.
    private static let roleLeadBytes: Set<UInt8> = Set(rolesByText.keys.compactMap { $0.utf8.first })

    /// `texts` are the token texts with empty ones already renamed, indexed by id.
    init(vocabulary: TokenizerVocabulary, texts: [String]) {
        let count = texts.count
        var attributes = (0..<count).map { id in
            vocabulary.tokenTypes.isEmpty ? TokenAttributes.normal : TokenAttributes(tokenType: vocabulary.tokenTypes[id])
        }

        // llama.cpp takes the first match in hash-map order; the lowest id is the stable choice.
        var firstIDs: [UInt16: Int32] = [:]
        var textEOG: [Int32] = []
        var rendered: [Int32] = []
        for (id, text) in texts.enumerated() {
            guard let lead = text.utf8.first, Self.roleLeadBytes.contains(lead),
                  let roles = Self.rolesByText[text] else { continue }
            for role in Roles.single where roles.contains(role) && firstIDs[role.rawValue] == nil {
                firstIDs[role.rawValue] = Int32(id)
            }
            if roles.contains(.eog) { textEOG.append(Int32(id)) }
            if roles.contains(.alwaysRendered) { rendered.append(Int32(id)) }
        }
        // Same order of effects as llama.cpp: detected roles and EOG texts become control tokens,
        // then the gpt-oss ones are forced to user-defined.
        if vocabulary.eotTokenID != nil { firstIDs[Roles.eot.rawValue] = nil }
        let eot = vocabulary.eotTokenID ?? firstIDs[Roles.eot.rawValue]
        let eom = firstIDs[Roles.eom.rawValue]
        var eog = Set<Int32>()
        for role in Roles.single {
            guard let id = firstIDs[role.rawValue] else { continue }
            attributes[Int(id)].insert(.control)
            if role == .fimPad || role == .fimRep || role == .fimSep { eog.insert(id) }
        }
        for id in textEOG {
            eog.insert(id)
            attributes[Int(id)].insert(.control)
        }
        for id in rendered { attributes[Int(id)] = .userDefined }
        for id in [vocabulary.eosTokenID, eot, eom] { if let id { eog.insert(id) } }

        // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
        let eogTexts = Set(eog.map { texts[Int($0)] })
        let hasCall = eogTexts.contains("<|call|>") || eogTexts.contains("<|calls|>")
        if eogTexts.contains("<|end|>"),
           (eogTexts.contains("<|return|>") && hasCall) || (hasCall && eogTexts.contains("<|flush|>")),
           let end = eog.first(where: { texts[Int($0)] == "<|end|>" }) {
            eog.remove(end)
            attributes[Int(end)] = .userDefined
        }
        // gemma4 / paddleocr: "</s>" is not an end of generation there.
        if eogTexts.contains("<|tool_response>"), let s = eog.first(where: { texts[Int($0)] == "</s>" }) {
            eog.remove(s)
            attributes[Int(s)] = .normal
        }

        let partitionAttributes: TokenAttributes = [.control, .userDefined, .unknown]
        let specials = (0..<count).filter { !attributes[$0].isDisjoint(with: partitionAttributes) }
            .map { (id: Int32($0), bytes: Array(texts[$0].utf8)) }
        // Ties keep id order (llama.cpp's std::sort leaves it unspecified; it cannot matter unless
        // two equally long special tokens overlap in the text).
        partitionOrder = specials.enumerated().sorted {
            $0.element.bytes.count != $1.element.bytes.count
                ? $0.element.bytes.count > $1.element.bytes.count : $0.offset < $1.offset
        }.map(\.element)

        self.attributes = attributes
        self.endOfGeneration = eog
        self.eotTokenID = eot
    }

    /// Port of `tokenizer_st_partition`: for each special token, longest first, every occurrence in
    /// every remaining text fragment becomes that token. Without `parseSpecial`, control and
    /// unknown tokens stay text but user-defined ones are still cut out, as in llama.cpp.
    func partition(_ bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [TextFragment] {
        if bytes.isEmpty { return [] }
        var fragments: [TextFragment] = [.text(0..<bytes.count)]
        for (id, needle) in partitionOrder {
            if !parseSpecial && !attributes[Int(id)].isDisjoint(with: [.control, .unknown]) { continue }
            let found = needle.withUnsafeBufferPointer { needle in
                fragments.contains { fragment in
                    guard case .text(let range) = fragment else { return false }
                    return Self.find(needle, in: bytes, range) != nil
                }
            }
            guard found else { continue }
            var result: [TextFragment] = []
            result.reserveCapacity(fragments.count + 2)
            needle.withUnsafeBufferPointer { needle in
                for fragment in fragments {
                    guard case .text(let range) = fragment else { result.append(fragment); continue }
                    var low = range.lowerBound
                    while let match = Self.find(needle, in: bytes, low..<range.upperBound) {
                        if match > low { result.append(.text(low..<match)) }
                        result.append(.token(id))
                        low = match + needle.count
                    }
                    if low < range.upperBound { result.append(.text(low..<range.upperBound)) }
                }
            }
            fragments = result
        }
        return fragments
    }

    private static func find(_ needle: UnsafeBufferPointer<UInt8>, in haystack: UnsafeBufferPointer<UInt8>,
                             _ range: Range<Int>) -> Int? {
        let length = needle.count
        guard length > 0, range.count >= length else { return nil }
        let first = needle[0]
        var index = range.lowerBound
        let last = range.upperBound - length
        while index <= last {
            if haystack[index] == first {
                var matched = 1
                while matched < length && haystack[index + matched] == needle[matched] { matched += 1 }
                if matched == length { return index }
            }
            index += 1
        }
        return nil
    }
}
