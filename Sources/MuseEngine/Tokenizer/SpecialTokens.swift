// Token attributes, end-of-generation set, special-token partitioning and piece rendering, as
// llama.cpp derives them.
import Foundation

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
    /// A trie over `partitionOrder`'s texts, to find in one pass which of them occur in a text at
    /// all: Gemma has 6,400 special tokens, and scanning a long text once per token is slow.
    private let trieRoot: [Int32]
    private let trieChildren: [UInt64: Int32]
    /// For each trie node, the `partitionOrder` index of the token ending there, or -1.
    private let trieTerminals: [Int32]

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
        var root = [Int32](repeating: -1, count: 256)
        var children: [UInt64: Int32] = [:]
        var terminals: [Int32] = []
        for (index, special) in partitionOrder.enumerated() {
            guard let first = special.bytes.first else { continue }
            if root[Int(first)] < 0 { root[Int(first)] = Int32(terminals.count); terminals.append(-1) }
            var node = root[Int(first)]
            for byte in special.bytes.dropFirst() {
                let key = UInt64(node) << 8 | UInt64(byte)
                if let child = children[key] {
                    node = child
                } else {
                    children[key] = Int32(terminals.count)
                    node = Int32(terminals.count)
                    terminals.append(-1)
                }
            }
            terminals[Int(node)] = Int32(index)
        }
        trieRoot = root
        trieChildren = children
        trieTerminals = terminals

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
        // A token absent from the whole text is absent from every fragment of it: skipping those
        // gives the same fragments.
        let present = presentSpecials(bytes)
        for (index, (id, needle)) in partitionOrder.enumerated() where present[index] {
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

    /// Which `partitionOrder` entries occur somewhere in `bytes`, by walking the trie from every
    /// position (at most as deep as the longest special token).
    private func presentSpecials(_ bytes: UnsafeBufferPointer<UInt8>) -> [Bool] {
        var present = [Bool](repeating: false, count: partitionOrder.count)
        for start in 0..<bytes.count {
            var node = trieRoot[Int(bytes[start])]
            var index = start
            while node >= 0 {
                let terminal = trieTerminals[Int(node)]
                if terminal >= 0 { present[Int(terminal)] = true }
                index += 1
                guard index < bytes.count, let child = trieChildren[UInt64(node) << 8 | UInt64(bytes[index])] else { break }
                node = child
            }
        }
        return present
    }

    /// First occurrence of `needle` inside `range` of `haystack`, like `std::string_view::find`.
    private static func find(_ needle: UnsafeBufferPointer<UInt8>, in haystack: UnsafeBufferPointer<UInt8>,
                             _ range: Range<Int>) -> Int? {
        let length = needle.count
        guard length > 0, range.count >= length,
              let base = haystack.baseAddress, let needleBase = needle.baseAddress else { return nil }
        let last = range.upperBound - length
        var index = range.lowerBound
        while index <= last {
            guard let hit = memchr(base + index, Int32(needleBase[0]), last - index + 1) else { return nil }
            index = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
            if memcmp(base + index, needleBase, length) == 0 { return index }
            index += 1
        }
        return nil
    }

    // MARK: - Rendering

    /// The bytes of `id` by llama.cpp's `token_to_piece` rules: control and unknown tokens only
    /// with `renderSpecial`, user-defined ones as their text, byte tokens as their byte, unused and
    /// undefined ones as nothing. Only normal tokens are spelled per vocabulary kind (`normal`).
    func pieceBytes(_ id: Int32, texts: [String], renderSpecial: Bool, normal: (String) -> [UInt8]) -> [UInt8] {
        guard id >= 0 && Int(id) < attributes.count && Int(id) < texts.count else { return [] }
        let attributes = attributes[Int(id)]
        let text = texts[Int(id)]
        if !attributes.isDisjoint(with: [.unknown, .control]) {
            return renderSpecial ? Array(text.utf8) : []
        }
        if attributes.contains(.userDefined) { return Array(text.utf8) }
        if attributes.contains(.normal) { return normal(text) }
        if attributes.contains(.byte) { return [Self.byteTokenValue(text)] }
        return []
    }

    /// Value of a `<0xXX>` byte token, parsed like llama.cpp's `strtol(text.substr(3, 2), 16)`.
    static func byteTokenValue(_ text: String) -> UInt8 {
        var value: UInt8 = 0
        for byte in Array(text.utf8).dropFirst(3).prefix(2) {
            guard let digit = Int(String(UnicodeScalar(byte)), radix: 16) else { break }
            value = value &* 16 &+ UInt8(digit)
        }
        return value
    }
}
