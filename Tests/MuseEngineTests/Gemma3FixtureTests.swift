// Gemma 3 270M (Q4_K_M, the gemma3 architecture with a SentencePiece vocabulary) through Muse's
// engine against llama.cpp on the same file: the prompts as llama.cpp tokenized them, greedy
// continuations followed until the best two tokens are within the engines' spread.
import Foundation
import MuseCore
import Testing
@testable import MuseEngine

@Suite(.serialized, .enabled(if: TestEnvironment.hasGemma, "needs the Gemma 3 270M GGUF (scripts/test fetches it) and ../shared/fixtures"))
struct Gemma3FixtureTests {
    let fixture: LlamaCppFixture
    let model: LocalModel

    init() throws {
        fixture = try LlamaCppFixture.load(TestEnvironment.gemmaFixture)
        model = try #require(TestEnvironment.gemma)
    }

    @Test func promptsTokenizeAsLlamaCppDid() throws {
        for c in fixture.complete {
            #expect(try model.promptTokens(.text(c.prompt)) == c.prompt_tokens, "\(c.prompt.debugDescription)")
        }
    }

    @Test func greedyContinuationsFollowLlamaCpp() async throws {
        let report = try await fixture.checkGreedyContinuations(model, spread: 0.25)
        print("greedy agreement with llama.cpp on Gemma 3 270M:\n  " + report.joined(separator: "\n  "))
    }
}
