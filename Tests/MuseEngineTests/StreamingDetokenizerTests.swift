// StreamingDetokenizer: characters split across tokens at every possible point are never emitted broken.
import Testing
@testable import MuseEngine

struct StreamingDetokenizerTests {
    /// Every contiguous piece of `text`'s UTF-8 is a token, so any split of it can be fed.
    private func vocabulary(covering text: String) -> TokenizerVocabulary {
        var vocabulary = tinyVocabulary(extra: [("<|end|>", 3)])
        var seen = Set(vocabulary.tokens)
        let bytes = Array(text.utf8)
        for start in 0..<bytes.count {
            for end in (start + 2)..<(bytes.count + 1) {
                let token = String(bytes[start..<end].map {
                    Character(Unicode.Scalar(ByteLevelAlphabet.codepointForByte[Int($0)])!)
                })
                if seen.insert(token).inserted {
                    vocabulary.tokens.append(token)
                    vocabulary.tokenTypes.append(1)
                }
            }
        }
        return vocabulary
    }

    /// All ways to cut `bytes` into contiguous chunks.
    private func compositions(_ bytes: [UInt8]) -> [[[UInt8]]] {
        if bytes.isEmpty { return [[]] }
        return (1...bytes.count).flatMap { first in
            compositions(Array(bytes[first...])).map { [Array(bytes[..<first])] + $0 }
        }
    }

    @Test(arguments: ["🙂", "é", "€", "👍🏽"])
    func splitCharactersAreHeldUntilComplete(_ character: String) throws {
        let text = "a" + character + "b"
        let bpe = try BPETokenizer(vocabulary: vocabulary(covering: character))
        for chunks in compositions(Array(character.utf8)) {
            let ids = [97] + chunks.map { chunk in
                Int32(bpe.texts.firstIndex(of: String(chunk.map {
                    Character(Unicode.Scalar(ByteLevelAlphabet.codepointForByte[Int($0)])!)
                }))!)
            } + [98]
            var stream = StreamingDetokenizer(tokenizer: bpe)
            var emitted = ""
            var fed: [UInt8] = []
            for id in ids {
                let piece = stream.append(id)
                fed += bpe.tokenBytes(id)
                #expect(!piece.unicodeScalars.contains("\u{FFFD}"), "chunks \(chunks)")
                emitted += piece
                // Everything up to the last complete character is out; only its unfinished tail waits.
                #expect(Array(emitted.utf8) + Array(fed[emitted.utf8.count...]) == fed)
                #expect(stream.pendingByteCount == fed.count - emitted.utf8.count)
                #expect(stream.pendingByteCount < 4)
            }
            #expect(stream.flush().isEmpty)
            #expect(Array(emitted.utf8) == Array(text.utf8))
        }
    }

    @Test func brokenSequencesBecomeReplacementCharacters() throws {
        let bpe = try BPETokenizer(vocabulary: tinyVocabulary())
        var stream = StreamingDetokenizer(tokenizer: bpe)
        #expect(stream.append(0x80) == "\u{FFFD}")  // a lone continuation byte can never complete
        #expect(stream.append(0xF0) == "")
        #expect(stream.append(0x9F) == "")
        #expect(stream.append(0x61) == "\u{FFFD}a")  // the unfinished emoji is cut short by "a"
        #expect(stream.append(0xE2) == "")
        #expect(stream.flush() == "\u{FFFD}")
        #expect(stream.pendingByteCount == 0)
        #expect(stream.append(0xED) == "")
        #expect(stream.append(0xA0) == "\u{FFFD}\u{FFFD}")  // a surrogate prefix is not held back
        #expect(stream.append(0xC0) == "\u{FFFD}")  // nor is an overlong lead byte
    }

    @Test func controlTokensHiddenUnlessRequested() throws {
        let bpe = try BPETokenizer(vocabulary: tinyVocabulary(extra: [("<|end|>", 3)]))
        var plain = StreamingDetokenizer(tokenizer: bpe)
        #expect(plain.append(104) + plain.append(256) + plain.append(105) == "hi")
        var rendering = StreamingDetokenizer(tokenizer: bpe, renderSpecial: true)
        #expect(rendering.append(104) + rendering.append(256) + rendering.append(105) == "h<|end|>i")
    }
}
