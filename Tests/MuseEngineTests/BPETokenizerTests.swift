// BPE merge order, fallbacks, special tokens, EOG rules and validation, on hand-made vocabularies.
import Testing
@testable import MuseEngine

struct BPETokenizerTests {
    private func tokenizer(_ vocabulary: TokenizerVocabulary) throws -> BPETokenizer {
        try BPETokenizer(vocabulary: vocabulary)
    }

    @Test func lowestRankMergesFirst() throws {
        // "hell": (e,l) has rank 0, so "l l" (rank 1) never gets its chance.
        let bpe = try tokenizer(tinyVocabulary(
            extra: [("el", 1), ("ll", 1), ("he", 1)], merges: [("e", "l"), ("l", "l"), ("h", "e")]))
        #expect(bpe.encode("hell", parseSpecial: false) == bpe.ids(["h", "el", "l"]))
        #expect(bpe.encode("hel", parseSpecial: false) == bpe.ids(["h", "el"]))
        #expect(bpe.encode("hll", parseSpecial: false) == bpe.ids(["h", "ll"]))
    }

    @Test func equalRanksMergeLeftmostFirst() throws {
        let bpe = try tokenizer(tinyVocabulary(
            extra: [("aa", 1), ("aaaa", 1)], merges: [("a", "a"), ("aa", "aa")]))
        #expect(bpe.encode("aaa", parseSpecial: false) == bpe.ids(["aa", "a"]))
        #expect(bpe.encode("aaaa", parseSpecial: false) == bpe.ids(["aaaa"]))
        #expect(bpe.encode("aaaaa", parseSpecial: false) == bpe.ids(["aaaa", "a"]))
    }

    @Test func spaceJoinsTheFollowingWord() throws {
        let bpe = try tokenizer(tinyVocabulary(
            extra: [(" t", 1), (" the", 1), ("he", 1)], merges: [("h", "e"), (" ", "t"), (" t", "he")]))
        #expect(bpe.encode("the the", parseSpecial: false) == bpe.ids(["t", "he", " the"]))
    }

    @Test func mergesThroughNonTokenIntermediates() throws {
        // "xy" is not a token, but llama.cpp still merges it on the way to "xyz"; left alone it
        // falls back to the single-byte tokens.
        let bpe = try tokenizer(tinyVocabulary(extra: [("xyz", 1)], merges: [("x", "y"), ("xy", "z")]))
        #expect(bpe.encode("xyz", parseSpecial: false) == bpe.ids(["xyz"]))
        #expect(bpe.encode("xy", parseSpecial: false) == bpe.ids(["x", "y"]))
    }

    @Test func firstOfDuplicateMergesKeepsItsRank() throws {
        let bpe = try tokenizer(tinyVocabulary(
            extra: [("ab", 1), ("bc", 1)], merges: [("a", "b"), ("b", "c"), ("a", "b")]))
        #expect(bpe.encode("abc", parseSpecial: false) == bpe.ids(["ab", "c"]))
    }

    @Test func unencodableBytesAreDroppedLikeLlamaCpp() throws {
        // No tokens for bytes >= 0x80: llama.cpp's BPE fallback looks up single raw bytes, finds
        // nothing, and drops them (no unknown token is emitted).
        let tokens = (0x21...0x7E).map { String(Unicode.Scalar(UInt8($0))) } + ["Ġ"]
        let bpe = try tokenizer(TokenizerVocabulary(model: "gpt2", pre: "gpt-2", tokens: tokens))
        #expect(bpe.encode("a é", parseSpecial: false) == [Int32(tokens.firstIndex(of: "a")!), Int32(tokens.count - 1)])
        #expect(bpe.encode("é", parseSpecial: false).isEmpty)
    }

    @Test func llama3TakesWholeWordTokensBeforeMerging() throws {
        var vocabulary = tinyVocabulary(extra: [("hello", 1)], pre: "llama-bpe")
        #expect(try tokenizer(vocabulary).encode("hello", parseSpecial: false) == [256])
        vocabulary.pre = "qwen2"  // same regex family, but merges are not skipped
        #expect(try tokenizer(vocabulary).encode("hello", parseSpecial: false) == Array("hello".utf8).map(Int32.init))
    }

    @Test func specialTokensLongestFirst() throws {
        let bpe = try tokenizer(tinyVocabulary(extra: [("<|x|>", 3), ("<|x|><|y|>", 3)]))
        #expect(bpe.encode("<|x|><|y|>z<|x|>", parseSpecial: true) == [257, 122, 256])
    }

    @Test func specialTokensAreCutOneTokenAtATime() throws {
        // llama.cpp cuts the longer "ab>" out everywhere before looking for "<a", even though "<a"
        // starts earlier in "<ab>".
        let bpe = try tokenizer(tinyVocabulary(extra: [("ab>", 3), ("<a", 3)]))
        #expect(bpe.encode("<ab>", parseSpecial: true) == [60, 256])
        #expect(bpe.encode("<a", parseSpecial: true) == [257])
    }

    @Test func parseSpecialSwitchesControlTokensOnly() throws {
        let bpe = try tokenizer(tinyVocabulary(extra: [("<|end|>", 3), ("<tool>", 4)]))
        let text = "hi<|end|> <tool>"
        #expect(bpe.encode(text, parseSpecial: true) == [104, 105, 256, 32, 257])
        let literal = bpe.encode(text, parseSpecial: false)
        #expect(!literal.contains(256))
        #expect(literal.suffix(1) == [257])  // user-defined tokens are always matched, as in llama.cpp
        #expect(bpe.decode(literal) == text)
        #expect(bpe.decode(bpe.encode(text, parseSpecial: true)) == text)
    }

    @Test func controlTokensRenderOnlyWhenAsked() throws {
        let bpe = try tokenizer(tinyVocabulary(extra: [("<|end|>", 3), ("<tool>", 4), ("<0x0A>", 6), ("☃", 1)]))
        #expect(bpe.tokenBytes(256).isEmpty)
        #expect(bpe.tokenBytes(256, renderSpecial: true) == Array("<|end|>".utf8))
        #expect(bpe.tokenBytes(257) == Array("<tool>".utf8))
        #expect(bpe.tokenBytes(258) == [0x0A])
        #expect(bpe.decode([104, 256, 105], renderSpecial: false) == "hi")
        // A normal token outside the byte alphabet renders as llama.cpp's llama_decode_text does.
        var snowman = tinyVocabulary()
        snowman.tokens.append("☃")
        snowman.tokenTypes.append(1)
        #expect(try tokenizer(snowman).decode([256]) == "[UNK_BYTE_0xe29883☃]")
    }

    @Test func endOfGenerationRules() throws {
        let bpe = try tokenizer(tinyVocabulary(
            extra: [("<|eot_id|>", 1), ("<|im_start|>", 3), ("<|im_end|>", 3), ("<|fim_pad|>", 3), ("<|file_sep|>", 1)],
            eos: 65))
        #expect(bpe.isEndOfGeneration(256))  // by text, even though typed normal...
        #expect(bpe.encode("<|eot_id|>", parseSpecial: true) == [256])  // ...which also makes it control
        #expect(!bpe.isEndOfGeneration(257))
        #expect(bpe.isEndOfGeneration(258))
        #expect(bpe.isEndOfGeneration(259) && bpe.isEndOfGeneration(260))  // FIM pad / file separator
        #expect(bpe.isEndOfGeneration(65))  // eos
        #expect(!bpe.isEndOfGeneration(66) && !bpe.isEndOfGeneration(-1))
        #expect(bpe.eotTokenID == 256)
    }

    @Test func harmonyEndIsNotEndOfGeneration() throws {
        let bpe = try tokenizer(tinyVocabulary(extra: [("<|return|>", 3), ("<|call|>", 3), ("<|end|>", 3)]))
        #expect(bpe.isEndOfGeneration(256) && bpe.isEndOfGeneration(257))
        #expect(!bpe.isEndOfGeneration(258))
        #expect(bpe.tokenBytes(258) == Array("<|end|>".utf8))  // now user-defined, always rendered
    }

    @Test func validationErrors() {
        let base = tinyVocabulary()
        var vocabulary = base
        vocabulary.tokenTypes.removeLast()
        #expect(throws: TokenizerError.countMismatch(field: "token_type", expected: 256, actual: 255)) {
            try vocabulary.validate()
        }
        vocabulary = base
        vocabulary.bosTokenID = 256
        #expect(throws: TokenizerError.tokenIDOutOfRange(name: "bos", id: 256, vocabularySize: 256)) {
            try BPETokenizer(vocabulary: vocabulary)
        }
        vocabulary = base
        vocabulary.tokens[1] = vocabulary.tokens[0]
        #expect(throws: TokenizerError.duplicateToken(text: vocabulary.tokens[0], firstID: 0, secondID: 1)) {
            try vocabulary.validate()
        }
        vocabulary = base
        vocabulary.addBOS = true
        #expect(throws: TokenizerError.missingSpecialToken(name: "bos")) { try vocabulary.validate() }
        vocabulary = base
        vocabulary.model = "t5"
        #expect(throws: TokenizerError.unsupportedModel("t5")) { try vocabulary.makeTokenizer() }
        #expect(throws: TokenizerError.emptyVocabulary) {
            try TokenizerVocabulary(model: "gpt2", pre: "gpt-2", tokens: []).validate()
        }
        vocabulary = base
        vocabulary.merges = ["a", "nosuch token", "Ġ Ġ"]  // malformed or unknown merges are tolerated
        #expect((try? vocabulary.makeTokenizer()) != nil)
    }

    @Test func concurrentEncodingIsConsistent() async throws {
        let bpe = try tokenizer(tinyVocabulary(
            extra: [("el", 1), ("ll", 1), ("he", 1)], merges: [("e", "l"), ("l", "l"), ("h", "e")]))
        let text = String(repeating: "hello, hell and shell 🙂 ", count: 50)
        let expected = bpe.encode(text, parseSpecial: true)
        let results = await withTaskGroup(of: [Int32].self) { group in
            for _ in 0..<8 { group.addTask { bpe.encode(text, parseSpecial: true) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 8 && results.allSatisfy { $0 == expected })
    }
}
