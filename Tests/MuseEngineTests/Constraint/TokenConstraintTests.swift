// Token masks: the trie walk allows exactly the tokens a direct check allows, on a toy vocabulary
// and on the real one, and sampling under a constraint only ever picks allowed tokens.
import MuseCore
import Testing
@testable import MuseEngine

/// A vocabulary given as a list of strings; the last id ends generation.
struct ListTokenizer: Tokenizer {
    let pieces: [String]
    var vocabularySize: Int { pieces.count + 1 }
    var bosTokenID: Int32? { nil }
    var eosTokenID: Int32? { Int32(pieces.count) }
    var addBOS: Bool { false }
    func encode(_ text: String, parseSpecial: Bool) -> [Int32] { [] }
    func tokenBytes(_ id: Int32, renderSpecial: Bool) -> [UInt8] {
        Int(id) < pieces.count ? Array(pieces[Int(id)].utf8) : (renderSpecial ? Array("</s>".utf8) : [])
    }
    func isEndOfGeneration(_ id: Int32) -> Bool { Int(id) == pieces.count }
}

/// The allowed set by testing every token on its own: the reference the trie walk must equal.
func bruteForceMask(_ constraint: TokenConstraint, size: Int) -> [Bool] {
    (0..<size).map { constraint.allows(Int32($0)) }
}

@Suite struct TokenConstraintTests {
    let toy = ListTokenizer(pieces: ["{", "}", "{\"", "\":", "\"", "a", "ab", "abc", " ", "1", "12", "true", "tr", "ue",
                                     ",", ", \"", "\"}", "é", "\u{00C3}", "x\"y", "[", "]", "null", ":", "\"a\":", "b", "c", "t", "r", "u", "e"])

    @Test func trieMasksEqualBruteForceAlongAGeneration() throws {
        let grammar = try FormatCompiler.compile(.jsonObject)
        var constraint = TokenConstraint(automaton: ConstraintAutomaton(grammar: grammar, trie: TokenTrie(tokenizer: toy)))
        // Walk a sentence token by token, comparing masks at every state.
        let path = ["{\"", "ab", "\":", " ", "12", ", \"", "a", "\":", "true", "}"]
        for piece in path {
            let mask = constraint.automaton.allowedMask(in: constraint.state)
            #expect(mask == bruteForceMask(constraint, size: toy.vocabularySize), "before \(piece)")
            let id = Int32(try #require(toy.pieces.firstIndex(of: piece)))
            #expect(mask[Int(id)], "\(piece) must be allowed")
            constraint.accept(id)
        }
        #expect(constraint.isFinished)
        #expect(constraint.allows(Int32(toy.pieces.count)), "end of generation once complete")
    }

    @Test func endOfGenerationOnlyWhenComplete() throws {
        let grammar = try FormatCompiler.compile(.jsonSchema(#"{"type": "array", "items": {"type": "integer"}}"#))
        var constraint = TokenConstraint(automaton: ConstraintAutomaton(grammar: grammar, trie: TokenTrie(tokenizer: toy)))
        let eos = Int32(toy.pieces.count)
        #expect(!constraint.allows(eos))
        constraint.accept(Int32(toy.pieces.firstIndex(of: "[")!))
        #expect(!constraint.allows(eos))
        #expect(constraint.allows(Int32(toy.pieces.firstIndex(of: "12")!)))
        #expect(!constraint.allows(Int32(toy.pieces.firstIndex(of: "a")!)))
    }

    @Test func samplingUnderAConstraintPicksOnlyAllowedTokens() throws {
        let grammar = try FormatCompiler.compile(.jsonSchema(#"{"enum": ["abc", "true"]}"#))
        let automaton = ConstraintAutomaton(grammar: grammar, trie: TokenTrie(tokenizer: toy))
        // Logits that prefer disallowed tokens: the sampler must still choose an allowed one. (Every
        // letter is a token, as every byte is in a real vocabulary, so no allowed prefix is a dead end.)
        var logits = [Float](repeating: 0, count: toy.vocabularySize)
        logits[Int(toy.pieces.firstIndex(of: "{")!)] = 10
        logits[Int(toy.pieces.firstIndex(of: "\"")!)] = 1
        logits[Int(toy.pieces.firstIndex(of: "tr")!)] = 2
        for parameters in [SamplingParameters.greedy, SamplingParameters(temperature: 1.5, topK: 0, seed: 1),
                           SamplingParameters(temperature: 1, topK: 3, topP: 1, minP: 0, seed: 2)] {
            for _ in 0..<20 {
                var sampler = Sampler(parameters)
                var constraint = TokenConstraint(automaton: automaton)
                var text = ""
                while !constraint.isFinished {
                    let token = try #require(logits.withUnsafeBufferPointer { sampler.sample($0, constraint: constraint) }, "\(parameters) after \(text)")
                    #expect(constraint.allows(token))
                    constraint.accept(token)
                    text += toy.pieces[Int(token)]
                    #expect(text.count < 20)
                    if text.count >= 20 { break }
                }
                #expect(text == "\"abc\"" || text == "\"true\"", "\(text)")
            }
        }
    }

    @Test func nothingAllowedGivesNoToken() throws {
        // The vocabulary cannot spell "z".
        let grammar = try FormatCompiler.compile(.literal("z"))
        let constraint = TokenConstraint(automaton: ConstraintAutomaton(grammar: grammar, trie: TokenTrie(tokenizer: toy)))
        var sampler = Sampler(.greedy)
        let logits = [Float](repeating: 0, count: toy.vocabularySize)
        #expect(logits.withUnsafeBufferPointer { sampler.sample($0, constraint: constraint) } == nil)
    }
}
