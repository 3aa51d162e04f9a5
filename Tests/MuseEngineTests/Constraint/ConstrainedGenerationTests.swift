// Constrained decoding on the real model: whatever the prompt, outputs under a schema parse and
// validate, and the trie's masks over the real vocabulary equal a token-by-token check.
import Foundation
import MuseCore
import Testing
@testable import MuseEngine

@Suite(.serialized, .enabled(if: TestEnvironment.hasSmolLM2, "needs the SmolLM2 GGUF"))
struct ConstrainedGenerationTests {
    let model: LocalModel

    init() throws {
        model = try #require(TestEnvironment.smolLM2)
    }

    static let schemas: [String] = [
        #"{"type": "object", "properties": {"name": {"type": "string", "maxLength": 30}, "age": {"type": "integer"}, "email": {"type": "string", "maxLength": 40}}, "required": ["name", "age"]}"#,
        #"{"type": "object", "properties": {"city": {"type": "string", "maxLength": 30}, "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"]}"#,
        #"{"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 1, "maxItems": 4}"#,
        #"{"type": "object", "properties": {"answer": {"type": "number"}, "confident": {"type": "boolean"}}, "required": ["answer", "confident"]}"#,
        #"{"type": "object", "properties": {"name": {"const": "calculator"}, "arguments": {"type": "object", "properties": {"expression": {"type": "string", "maxLength": 40}}, "required": ["expression"]}}, "required": ["name", "arguments"]}"#,
        #"{"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"product": {"type": "string", "maxLength": 20}, "qty": {"type": "integer"}}, "required": ["product", "qty"]}, "maxItems": 3}}, "required": ["items"]}"#,
        #"{"anyOf": [{"type": "object", "properties": {"yes": {"type": "boolean"}}, "required": ["yes"]}, {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 30}}, "required": ["reason"]}]}"#,
    ]

    static let prompts: [String] = [
        "Describe the user Alice, 31, alice@example.com.", "What is the weather in Paris?", "List some fruits.",
        "What is 7 times 6?", "Compute 12.5% of 3,480.", "I want two apples and three pears.", "Is the sky blue?",
        "Give me a person record for Bob.", "Temperature in Tokyo please.", "Name three colours.",
    ]

    @Test func outputsFollowTheirSchemasEveryTime() async throws {
        var cases: [(String, String)] = []
        for (i, prompt) in Self.prompts.enumerated() {
            // Each prompt under two schemas: 20 generations, greedy and sampled.
            cases.append((prompt, Self.schemas[i % Self.schemas.count]))
            cases.append((prompt, Self.schemas[(i + 3) % Self.schemas.count]))
        }
        for (i, (prompt, schema)) in cases.enumerated() {
            let sampling = i.isMultiple(of: 2) ? SamplingParameters.greedy : SamplingParameters(temperature: 0.9, seed: UInt64(i))
            let request = GenerationRequest(prompt: .chat([.system("Answer in JSON."), .user(prompt)]), sampling: sampling,
                                            maxTokens: 200, format: .jsonSchema(schema))
            let result = try await Collected.run(model.generate(request))
            #expect(result.finish == .stop, "\(prompt): ran out of tokens: \(result.text)")
            #expect(SchemaValidator.problems(result.text, schema: schema) == [], "\(prompt) → \(result.text)")
        }
    }

    @Test func anyJSONObjectParses() async throws {
        for (i, prompt) in Self.prompts.prefix(4).enumerated() {
            let request = GenerationRequest(prompt: .chat([.user(prompt)]), sampling: SamplingParameters(temperature: 0.8, seed: UInt64(i)),
                                            maxTokens: 120, format: .jsonObject)
            let result = try await Collected.run(model.generate(request))
            if result.finish == .stop {
                let parsed = try JSONSerialization.jsonObject(with: Data(result.text.utf8))
                #expect(parsed is [String: Any], "\(result.text)")
            } else {
                // Cut by the token limit: still a valid prefix of an object.
                #expect(result.text.hasPrefix("{"))
            }
        }
    }

    @Test func aFinalAssistantMessageIsContinuedWithOneBoundedLine() async throws {
        let conversation: [ChatMessage] = [.user("What is 7 times 6? Reason, then end with a line starting with Answer:.")]
        let partial = "7 times 6 means adding 7 six times: 7, 14, 21, 28, 35, 42.\nAnswer:"
        // The prompt is the conversation's, generation prompt included, then the message's text unclosed.
        let tokens = try model.promptTokens(.chat(conversation + [.assistant(partial)]))
        #expect(tokens == (try model.promptTokens(.text(try model.renderChat(conversation) + partial))))
        #expect(model.continuesAssistantMessages)
        for i in 0..<4 {
            let sampling = i == 0 ? SamplingParameters.greedy : SamplingParameters(temperature: 1.0, seed: UInt64(i))
            let request = GenerationRequest(prompt: .chat(conversation + [.assistant(partial)]), sampling: sampling,
                                            maxTokens: 60, format: .line(maxLength: 40))
            let result = try await Collected.run(model.generate(request))
            let line = result.text.trimmingCharacters(in: .newlines)
            #expect(!line.isEmpty && line.count <= 40 && !line.contains("\n"), "\(result.text)")
            #expect(result.finish == .stop, "\(result.text)")
        }
    }

    @Test func realVocabularyMasksEqualATokenByTokenCheck() throws {
        let grammar = try FormatCompiler.compile(.jsonSchema(Self.schemas[0]))
        var constraint = TokenConstraint(automaton: ConstraintAutomaton(grammar: grammar, trie: model.tokenTrie))
        let size = model.tokenizer.vocabularySize
        for piece in ["", "{", " \"name\"", ":", " \"Al", "ice", "\",", " \"age\": ", "3"] {
            let ids = model.tokenizer.encode(piece, parseSpecial: false)
            for id in ids {
                #expect(constraint.allows(id), "\(piece)")
                constraint.accept(id)
            }
            let mask = constraint.automaton.allowedMask(in: constraint.state)
            #expect(mask == bruteForceMask(constraint, size: size), "after \(piece)")
            #expect(mask.contains(true))
        }
    }

    @Test func aBadSchemaFailsTheRequestWithAClearError() async {
        let request = GenerationRequest(prompt: .text("x"), format: .jsonSchema(#"{"type": "tuple"}"#))
        await #expect {
            _ = try await Collected.run(model.generate(request))
        } throws: { error in
            "\(error)".contains("unsupported")
        }
    }
}
