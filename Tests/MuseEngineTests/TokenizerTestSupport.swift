// Shared helpers for tokenizer tests: fixture paths, the SmolLM2 vocabulary loader, tiny vocabularies.
import Foundation
import Testing
@testable import MuseEngine

/// The real SmolLM2 vocabulary, read from the model's GGUF file.
func loadSmolLM2Vocabulary() throws -> TokenizerVocabulary {
    let path = try #require(TestEnvironment.smolLM2Path)
    return try TokenizerVocabulary(gguf: GGUFFile(path: path))
}

/// Built once per test process; debug builds make construction slow enough to be worth sharing.
let sharedSmolLM2Tokenizer: Result<BPETokenizer, any Error> = Result {
    try BPETokenizer(vocabulary: loadSmolLM2Vocabulary())
}

/// Byte equality: Swift's `==` on strings is canonical equivalence, which would equate "e\u{301}"
/// with "é" and so hide a tokenizer that changed one into the other.
func sameBytes(_ a: String, _ b: String) -> Bool {
    a.utf8.elementsEqual(b.utf8)
}

/// The GPT-2 byte-level spelling of `text` (" the" -> "Ġthe").
func byteLevel(_ text: String) -> String {
    var scalars = String.UnicodeScalarView()
    for byte in text.utf8 { scalars.append(Unicode.Scalar(ByteLevelAlphabet.codepointForByte[Int(byte)])!) }
    return String(scalars)
}

/// A byte-level vocabulary whose ids 0...255 are the single bytes (id == byte value), followed by
/// `extra` tokens given in plain text (converted to byte-level unless they are special); merges
/// are plain-text pairs too.
func tinyVocabulary(
    extra: [(text: String, type: Int32)] = [], merges: [(String, String)] = [], pre: String = "gpt-2",
    eos: Int32? = nil, eot: Int32? = nil
) -> TokenizerVocabulary {
    var tokens = (0..<256).map { byteLevel(String(decoding: [UInt8($0)], as: UTF8.self)) }
    // Bytes >= 0x80 are not valid UTF-8 on their own; spell them straight from the alphabet.
    for byte in 0x80..<0x100 {
        tokens[byte] = String(Unicode.Scalar(ByteLevelAlphabet.codepointForByte[byte])!)
    }
    var types = [Int32](repeating: 1, count: 256)
    for (text, type) in extra {
        tokens.append(type == 1 ? byteLevel(text) : text)
        types.append(type)
    }
    return TokenizerVocabulary(
        model: "gpt2", pre: pre, tokens: tokens, tokenTypes: types,
        merges: merges.map { byteLevel($0.0) + " " + byteLevel($0.1) },
        eosTokenID: eos, eotTokenID: eot)
}

extension BPETokenizer {
    /// Ids of plain-text tokens, for readable expectations.
    func ids(_ pieces: [String]) -> [Int32] {
        pieces.map { piece in
            let text = byteLevel(piece)
            return Int32(texts.firstIndex(of: text) ?? -1)
        }
    }
}
