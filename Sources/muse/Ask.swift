// `muse ask`: one question, one streamed answer.
import ArgumentParser
import MuseCore
import MuseEngine

struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer one question with the model's chat template.")

    @Argument(help: "The question.")
    var question: String

    @Option(help: "A system prompt.")
    var system: String?

    @Flag(help: "Print one JSON object {answer, usage, timings} instead of streaming text.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    func run() async throws {
        let model = try modelOptions.load()
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        messages.append(.user(question))
        let request = GenerationRequest(prompt: .chat(messages), sampling: sampling.parameters,
                                        maxTokens: sampling.maxTokens, stop: sampling.stop)
        if json {
            let result = try await Collected.run(model, request)
            try Terminal.json(AskJSON(answer: result.text, finish_reason: result.finish.rawValue,
                                      usage: UsageJSON(result.usage), timings: TimingsJSON(result.timings)))
        } else {
            let result = try await Collected.run(model, request) { Terminal.write($0) }
            Terminal.write(result.text.hasSuffix("\n") ? "" : "\n")
        }
    }
}

private struct AskJSON: Encodable {
    var answer: String
    var finish_reason: String
    var usage: UsageJSON
    var timings: TimingsJSON
}
