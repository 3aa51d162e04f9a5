// The SentencePiece tokenizer: merge order, fallbacks and escaping on hand-made vocabularies, and
// llama.cpp's recorded token ids for Gemma 3 270M.
import Foundation
import Testing
@testable import MuseEngine

/// A SentencePiece vocabulary: <unk> 0, <s> 1, </s> 2, the byte tokens <0x00>...<0xFF> (3...258,
/// unless `bytes` is false), then `pieces` (normal tokens with scores) and `specials` (text, type).
private func spmVocabulary(
    _ pieces: [(String, Float)], specials: [(String, Int32)] = [], bytes: Bool = true, addSpacePrefix: Bool? = false
) -> TokenizerVocabulary {
    var tokens = ["<unk>", "<s>", "</s>"]
    var types: [Int32] = [2, 3, 3]
    if bytes {
        tokens += (0..<256).map { String(format: "<0x%02X>", $0) }
        types += repeatElement(6, count: 256)
    }
    var scores = [Float](repeating: 0, count: tokens.count)
    for (text, score) in pieces { tokens.append(text); types.append(1); scores.append(score) }
    for (text, type) in specials { tokens.append(text); types.append(type); scores.append(0) }
    return TokenizerVocabulary(
        model: "llama", pre: "default", tokens: tokens, tokenTypes: types, scores: scores,
        bosTokenID: 1, eosTokenID: 2, unknownTokenID: 0, addBOS: true, addSpacePrefix: addSpacePrefix)
}

extension SentencePieceTokenizer {
    /// Ids of the tokens spelt `pieces` (byte-exact), -1 for a missing one.
    func ids(_ pieces: [String]) -> [Int32] {
        pieces.map { piece in
            Int32((0..<vocabularySize).first { sameBytes(texts[$0], piece) } ?? -1)
        }
    }
}

struct SentencePieceTokenizerTests {
    private func tokenizer(_ vocabulary: TokenizerVocabulary) throws -> SentencePieceTokenizer {
        try #require(try vocabulary.makeTokenizer() as? SentencePieceTokenizer)
    }

    @Test func highestScoreMergesFirst() throws {
        let letters: [(String, Float)] = ["a", "b", "c", "d"].map { ($0, -10) }
        var spm = try tokenizer(spmVocabulary(letters + [("ab", -1), ("bc", -2)]))
        #expect(spm.encode("abc", parseSpecial: false) == spm.ids(["ab", "c"]))
        spm = try tokenizer(spmVocabulary(letters + [("ab", -2), ("bc", -1)]))
        #expect(spm.encode("abc", parseSpecial: false) == spm.ids(["a", "bc"]))
        // "cd" goes first; the queued "bc" is then stale, and "ab" still merges.
        spm = try tokenizer(spmVocabulary(letters + [("ab", -3), ("bc", -2), ("cd", -1)]))
        #expect(spm.encode("abcd", parseSpecial: false) == spm.ids(["ab", "cd"]))
    }

    @Test func equalScoresMergeLeftmostFirst() throws {
        var spm = try tokenizer(spmVocabulary([("a", -5), ("aa", -1), ("aaaa", -1)]))
        #expect(spm.encode("aaa", parseSpecial: false) == spm.ids(["aa", "a"]))
        #expect(spm.encode("aaaa", parseSpecial: false) == spm.ids(["aaaa"]))
        #expect(spm.encode("aaaaa", parseSpecial: false) == spm.ids(["aaaa", "a"]))
        spm = try tokenizer(spmVocabulary([("a", -5), ("b", -5), ("c", -5), ("ab", -1), ("bc", -1)]))
        #expect(spm.encode("abc", parseSpecial: false) == spm.ids(["ab", "c"]))
        // No scores at all: every token scores 0 and merges go strictly left to right.
        var vocabulary = spmVocabulary([("x", 0), ("y", 0), ("xy", 0), ("yx", 0)])
        vocabulary.scores = []
        spm = try tokenizer(vocabulary)
        #expect(spm.encode("yxy", parseSpecial: false) == spm.ids(["yx", "y"]))
    }

    @Test func onlyTokenTextsMerge() throws {
        // Unlike BPE there is no path through non-token intermediates: "abc" cannot be reached.
        let spm = try tokenizer(spmVocabulary([("a", -1), ("b", -1), ("c", -1), ("abc", 0)]))
        #expect(spm.encode("abc", parseSpecial: false) == spm.ids(["a", "b", "c"]))
    }

    @Test func unknownCharactersFallBackToBytes() throws {
        let spm = try tokenizer(spmVocabulary([("a", -1)]))
        #expect(spm.encode("aé", parseSpecial: false) == spm.ids(["a", "<0xC3>", "<0xA9>"]))
        // A space is "▁" by then: without a "▁" token it is three bytes, and decodes as "▁".
        #expect(spm.encode(" ", parseSpecial: false) == spm.ids(["<0xE2>", "<0x96>", "<0x81>"]))
        #expect(spm.decode(spm.encode("a a", parseSpecial: false)) == "a▁a")
        #expect(spm.encode("🙂", parseSpecial: false) == spm.ids(["<0xF0>", "<0x9F>", "<0x99>", "<0x82>"]))
        #expect(spm.encode("\u{1}", parseSpecial: false) == spm.ids(["<0x01>"]))
        for text in ["aé", "🙂a", "\u{1}\u{7F}a"] { #expect(sameBytes(spm.decode(spm.encode(text, parseSpecial: false)), text)) }

        // Without byte tokens llama.cpp throws; here each byte becomes the unknown token.
        let bare = try tokenizer(spmVocabulary([("a", -1)], bytes: false))
        #expect(bare.encode("éa", parseSpecial: false) == [0, 0] + bare.ids(["a"]))
    }

    @Test func spacesAreEscapedAndPrefixed() throws {
        let pieces: [(String, Float)] = [("a", -3), ("b", -3), ("▁", -4), ("▁a", -1), ("▁b", -1), ("▁▁", -2)]
        var spm = try tokenizer(spmVocabulary(pieces))
        #expect(!spm.addSpacePrefix)
        #expect(spm.encode("a b", parseSpecial: false) == spm.ids(["a", "▁b"]))
        // "▁a" outscores "▁▁", so the second space joins the "a".
        #expect(spm.encode("  a ", parseSpecial: false) == spm.ids(["▁", "▁a", "▁"]))
        #expect(spm.decode(spm.encode("  a ", parseSpecial: false)) == "  a ")

        // llama.cpp's default: "▁" before the text and after each special token; decoding drops
        // the first piece's leading space again.
        spm = try tokenizer(spmVocabulary(pieces, addSpacePrefix: nil))
        #expect(spm.addSpacePrefix)
        #expect(spm.encode("a b", parseSpecial: false) == spm.ids(["▁a", "▁b"]))
        #expect(spm.decode(spm.encode("a b", parseSpecial: false)) == "a b")
        #expect(spm.encode("</s>a", parseSpecial: true) == [2] + spm.ids(["▁a"]))
        #expect(spm.decode([2] + spm.ids(["▁a"])) == "</s> a")
        #expect(spm.encode("", parseSpecial: true).isEmpty)
    }

    @Test func specialTokensFollowTheirType() throws {
        let spm = try tokenizer(spmVocabulary(
            [("<", -1), (">", -1), ("c", -1), ("u", -1)], specials: [("<c>", 3), ("<u>", 4)]))
        let control = spm.ids(["<c>"])[0], user = spm.ids(["<u>"])[0]
        #expect(spm.encode("c<c>u<u>", parseSpecial: true) == spm.ids(["c"]) + [control] + spm.ids(["u"]) + [user])
        // Control tokens stay text without parseSpecial; user-defined ones are always cut out.
        #expect(spm.encode("<c><u>", parseSpecial: false) == spm.ids(["<", "c", ">"]) + [user])
        #expect(spm.decode([control, user], renderSpecial: false) == "<u>")
        #expect(spm.decode([control, user]) == "<c><u>")
        #expect(spm.tokenBytes(-1).isEmpty && spm.tokenBytes(Int32(spm.vocabularySize)).isEmpty)
        #expect(spm.isEndOfGeneration(2) && !spm.isEndOfGeneration(control))
    }

    @Test func canonicallyEquivalentTokensStayDistinct() throws {
        // "é" precomposed and "e" + combining acute are equal Swift strings but different tokens.
        let spm = try tokenizer(spmVocabulary([("e", -1), ("\u{E9}", -1), ("e\u{301}", -1)]))
        #expect(spm.encode("\u{E9}", parseSpecial: false) == spm.ids(["\u{E9}"]))
        #expect(spm.encode("e\u{301}", parseSpecial: false) == spm.ids(["e\u{301}"]))
        #expect(spm.ids(["\u{E9}"]) != spm.ids(["e\u{301}"]))
        #expect(sameBytes(spm.decode(spm.encode("e\u{301}", parseSpecial: false)), "e\u{301}"))
    }

    @Test func invalidVocabulariesAreRejected() throws {
        var vocabulary = spmVocabulary([("a", -1)])
        vocabulary.scores.removeLast()
        #expect(throws: TokenizerError.countMismatch(field: "scores", expected: 260, actual: 259)) {
            try vocabulary.makeTokenizer()
        }
        vocabulary = spmVocabulary([("a", -1), ("aa", .nan), ("aaa", .infinity)])
        let spm = try tokenizer(vocabulary)  // odd scores give some tokenization, never a trap
        #expect(spm.decode(spm.encode("aaaaaaa", parseSpecial: false)) == "aaaaaaa")
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(vocabulary: tinyVocabulary()) }
    }

    @Test func ggufDefaultsFollowLlamaCpp() throws {
        var writer = GGUFWriter()
        writer.set("tokenizer.ggml.model", .string("llama"))
        writer.set("tokenizer.ggml.tokens", .array(["<unk>", "<s>", "</s>", "▁a", "a"].map { .string($0) }))
        writer.set("tokenizer.ggml.scores", .array([0, 0, 0, -1, -2].map { .int32($0) }))
        var vocabulary = try TokenizerVocabulary(gguf: GGUFFile(data: writer.serializedBytes()))
        #expect(vocabulary.scores == [0, 0, 0, -1, -2])
        #expect(vocabulary.unknownTokenID == 0 && vocabulary.bosTokenID == 1 && vocabulary.eosTokenID == 2)
        #expect(vocabulary.addBOS && vocabulary.addSpacePrefix == nil)
        #expect(try tokenizer(vocabulary).encode("a", parseSpecial: false) == [3])

        writer.set("tokenizer.ggml.add_space_prefix", .bool(false))
        vocabulary = try TokenizerVocabulary(gguf: GGUFFile(data: writer.serializedBytes()))
        #expect(try tokenizer(vocabulary).encode("a", parseSpecial: false) == [4])

        writer.set("tokenizer.ggml.scores", .array([.string("x")]))
        #expect(throws: ModelLoadError.invalidMetadata(key: "tokenizer.ggml.scores", reason: "expected an array of numbers")) {
            try TokenizerVocabulary(gguf: GGUFFile(data: writer.serializedBytes()))
        }
    }

    @Test func megabyteInputFinishesInBoundedTime() async throws {
        let spm = try tokenizer(spmVocabulary(
            [("a", -1), ("b", -1), ("aa", -2), ("ab", -1), ("▁", -2), ("▁a", -1), ("aaaa", -3)], specials: [("<u>", 4)]))
        let unit = "aaaa ab\u{1}é🙂<u>  日本 "
        let text = String(repeating: unit, count: (1 << 20) / unit.utf8.count)
        let (elapsed, roundTrips, runOfA) = await offThePool {
            let clock = ContinuousClock()
            let start = clock.now
            let ids = spm.encode(text, parseSpecial: true)
            let elapsed = clock.now - start
            return (elapsed, sameBytes(spm.decode(ids), text), spm.encode(String(repeating: "a", count: 1 << 20), parseSpecial: false).count)
        }
        #expect(elapsed < .seconds(60))
        #expect(roundTrips)  // not the texts in the expectation: 1 MB messages
        #expect(runOfA == 1 << 18)
    }
}

/// Built once per test process: reading 262,144 tokens is slow in debug builds.
let sharedGemmaTokenizer: Result<SentencePieceTokenizer, any Error> = Result {
    let path = try #require(TestEnvironment.gemmaPath)
    let tokenizer = try TokenizerVocabulary(gguf: GGUFFile(path: path)).makeTokenizer()
    return try #require(tokenizer as? SentencePieceTokenizer)
}

@Suite(.enabled(if: TestEnvironment.hasGemma, "Gemma 3 270M or its llama.cpp fixture missing"))
struct Gemma3TokenizerTests {
    let tokenizer: SentencePieceTokenizer
    let reference: LlamaCppFixture

    init() throws {
        tokenizer = try sharedGemmaTokenizer.get()
        reference = try LlamaCppFixture.load(TestEnvironment.gemmaFixture)
    }

    @Test func tokenizeCasesMatchLlamaCpp() {
        #expect(reference.tokenize.count == 10)
        for item in reference.tokenize {
            let ids = tokenizer.encode(item.text, parseSpecial: true)
            #expect(ids == item.tokens, "text: \(item.text.debugDescription)")
            #expect(sameBytes(tokenizer.decode(ids), item.text))
        }
    }

    @Test func completionPromptsMatchLlamaCpp() {
        #expect(!reference.complete.isEmpty)
        for item in reference.complete {
            var ids = tokenizer.encode(item.prompt, parseSpecial: true)
            if tokenizer.addBOS, let bos = tokenizer.bosTokenID { ids.insert(bos, at: 0) }
            #expect(ids == item.prompt_tokens, "prompt: \(item.prompt.debugDescription)")
            #expect(sameBytes(tokenizer.decode(ids, renderSpecial: false), item.prompt))
        }
    }

    @Test func generatedTokensDecodeToLlamaCppText() {
        for item in reference.complete {
            #expect(sameBytes(tokenizer.decode(item.tokens, renderSpecial: false), item.text))
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            let streamed = item.tokens.map { stream.append($0) }.joined() + stream.flush()
            #expect(sameBytes(streamed, item.text))
        }
    }

    @Test(arguments: [
        "", " ", "   leading", "trailing   ", "a  b   c", "🙂🚀 emoji", "日本語のテキスト", "한국어 텍스트",
        "control \u{0}\u{1}\u{7F} bytes", "rare 𓀀 𝔘 symbols", "e\u{301} vs \u{E9}", "<start_of_turn>user\nhi<end_of_turn>\n",
        "tabs\t\tand\r\nnewlines\n\n\n", "<0x41> literal byte token text",
    ])
    func roundTrips(_ text: String) {
        #expect(sameBytes(tokenizer.decode(tokenizer.encode(text, parseSpecial: true)), text))
        #expect(sameBytes(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)), text))
    }

    @Test func unknownCharactersBecomeByteTokens() throws {
        // Neither U+13000 nor NUL has a piece of its own: they go out as their UTF-8 bytes.
        let ids = tokenizer.encode("\u{0}𓀀", parseSpecial: false)
        #expect(ids.map { tokenizer.tokenText($0) } == ["<0x00>", "<0xF0>", "<0x93>", "<0x80>", "<0x80>"])
    }

    @Test func specialTokensOnlyWhenParsed() throws {
        let start = tokenizer.ids(["<start_of_turn>"])[0]
        #expect(start == 105)
        #expect(tokenizer.encode("<start_of_turn>", parseSpecial: true) == [105])
        let literal = tokenizer.encode("<start_of_turn>", parseSpecial: false)
        #expect(!literal.contains(105) && literal.count > 1)
        // "\n" is user-defined in Gemma 3, so it is cut out even without parseSpecial.
        #expect(tokenizer.encode("\n", parseSpecial: false) == [107])
        #expect(tokenizer.decode([105], renderSpecial: false).isEmpty)
    }

    @Test func canonicallyEquivalentVocabularyEntriesStayDistinct() throws {
        // Gemma holds hundreds of NFC/NFD twins, e.g. ids 1216 and 236956 (Bengali "য়").
        let composed = try #require(tokenizer.tokenText(1216)), decomposed = try #require(tokenizer.tokenText(236_956))
        #expect(composed == decomposed && !sameBytes(composed, decomposed))
        #expect(tokenizer.encode(composed, parseSpecial: false) == [1216])
        #expect(tokenizer.encode(decomposed, parseSpecial: false) == [236_956])
    }

    @Test func metadataAndEndOfGeneration() {
        #expect(tokenizer.vocabularySize == 262_144)
        #expect(tokenizer.bosTokenID == 2 && tokenizer.eosTokenID == 1 && tokenizer.unknownTokenID == 3)
        #expect(tokenizer.addBOS && !tokenizer.addEOS && !tokenizer.addSpacePrefix)
        #expect(tokenizer.eotTokenID == 106)  // <end_of_turn>, found by its text
        #expect(tokenizer.isEndOfGeneration(1) && tokenizer.isEndOfGeneration(106))
        #expect(!tokenizer.isEndOfGeneration(105) && !tokenizer.isEndOfGeneration(2))
    }

    @Test func megabyteInputFinishesInBoundedTime() async {
        let unit = "The quick brown fox 🙂 jumps over 日本語 <start_of_turn> \u{1}\n"
        let text = String(repeating: unit, count: (1 << 20) / unit.utf8.count)
        let tokenizer = tokenizer
        let (elapsed, roundTrips) = await offThePool {
            let clock = ContinuousClock()
            let start = clock.now
            let ids = tokenizer.encode(text, parseSpecial: true)
            return (clock.now - start, sameBytes(tokenizer.decode(ids), text))
        }
        #expect(elapsed < .seconds(120))
        #expect(roundTrips)
    }
}
