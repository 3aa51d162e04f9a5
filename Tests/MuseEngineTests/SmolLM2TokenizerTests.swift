// Checks the BPE tokenizer against llama.cpp's recorded token ids for SmolLM2-135M-Instruct.
import Foundation
import Testing
@testable import MuseEngine

@Suite(.enabled(if: TestEnvironment.hasSmolLM2, "SmolLM2 vocabulary or llama.cpp fixture missing"))
struct SmolLM2TokenizerTests {
    let tokenizer: BPETokenizer
    let reference: LlamaCppFixture

    init() throws {
        tokenizer = try sharedSmolLM2Tokenizer.get()
        reference = try LlamaCppFixture.load(TestEnvironment.smolLM2Fixture)
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
            #expect(sameBytes(tokenizer.decode(ids), item.prompt))
        }
    }

    @Test func generatedTokensDecodeToLlamaCppText() {
        for item in reference.complete {
            // The last token may be <|im_end|>, which llama.cpp's generated text does not render.
            #expect(sameBytes(tokenizer.decode(item.tokens, renderSpecial: false), item.text))
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            let streamed = item.tokens.map { stream.append($0) }.joined() + stream.flush()
            #expect(sameBytes(streamed, item.text))
        }
    }

    @Test func chatTemplatesRoundTrip() {
        for item in reference.chat {
            let ids = tokenizer.encode(item.templated, parseSpecial: true)
            #expect(ids.first == 1)  // <|im_start|>
            #expect(ids.filter { $0 == 2 }.count == 2)  // two <|im_end|>
            #expect(sameBytes(tokenizer.decode(ids), item.templated))
            #expect(tokenizer.decode(ids, renderSpecial: false) == item.templated
                .replacingOccurrences(of: "<|im_start|>", with: "").replacingOccurrences(of: "<|im_end|>", with: ""))
        }
    }

    @Test func specialTokensOnlyWhenParsed() {
        #expect(tokenizer.encode("<|im_end|>", parseSpecial: true) == [2])
        let literal = tokenizer.encode("<|im_end|>", parseSpecial: false)
        #expect(!literal.contains(2) && literal.count > 1)
        #expect(tokenizer.decode(literal) == "<|im_end|>")
    }

    @Test func endOfGenerationFollowsLlamaCpp() {
        // <|endoftext|> and <|im_end|> by text; <reponame> as the FIM repo token; eos = 2.
        let eog = (0..<Int32(tokenizer.vocabularySize)).filter(tokenizer.isEndOfGeneration)
        #expect(eog == [0, 2, 4])
        #expect(tokenizer.eotTokenID == 0 || tokenizer.eotTokenID == 2)
    }

    @Test func metadataIsCarried() {
        #expect(tokenizer.vocabularySize == 49_152)
        #expect(tokenizer.bosTokenID == 1 && tokenizer.eosTokenID == 2 && !tokenizer.addBOS)
        #expect(tokenizer.preTokenizer.name == "smollm")
        #expect(tokenizer.tokenBytes(2).isEmpty)
        #expect(tokenizer.tokenBytes(2, renderSpecial: true) == Array("<|im_end|>".utf8))
        #expect(tokenizer.tokenBytes(-1).isEmpty && tokenizer.tokenBytes(49_152).isEmpty)
    }

    @Test func roundTripsAssortedText() {
        let samples = [
            "", " ", "\n\n\n", "Ünïcödé — “quotes” and emoji 👩‍👩‍👧 🇫🇷", "日本語のテキスト、中文测试",
            "func f(x: Int) -> Int {\n\treturn x * 2 // double\n}\n", "١٢٣ ٤٥", "\u{0}\u{1}\u{7F}\u{85}\u{A0}",
            "e\u{301}t\u{E9}", "<|im_start|>user\nHi<|im_end|>", "a  \tb   \n  c",
        ]
        for text in samples {
            #expect(sameBytes(tokenizer.decode(tokenizer.encode(text, parseSpecial: true)), text))
            #expect(sameBytes(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)), text))
        }
    }

    /// Timing is only asserted in optimised builds; debug builds just report.
    @Test func buildAndEncodeSpeed() throws {
        let vocabulary = try loadSmolLM2Vocabulary()
        let clock = ContinuousClock()
        var built: BPETokenizer?
        let buildTime = try clock.measure { built = try BPETokenizer(vocabulary: vocabulary) }
        let tokenizer = try #require(built)

        let paragraph = """
            The quick brown fox jumps over the lazy dog. It's 2024, and we've got 1,299.99 reasons \
            to write tests — don't we? Tokenizers split text into words, then merge bytes by rank.\n
            """
        var text = ""
        while text.utf8.count < 10_000 { text += paragraph }
        var ids: [Int32] = []
        let encodeTime = clock.measure { ids = tokenizer.encode(text, parseSpecial: true) }
        #expect(sameBytes(tokenizer.decode(ids), text))
        print("tokenizer build \(buildTime), encode \(text.utf8.count) bytes -> \(ids.count) tokens in \(encodeTime)")
        // Loose guards against a pathological slowdown (quadratic merging, say), not speed targets:
        // the suite shares two cores with model tests, so a few times the usual figures is normal.
        #if !DEBUG
        #expect(buildTime < .seconds(2))
        #expect(encodeTime < .milliseconds(500))
        #endif
    }
}
