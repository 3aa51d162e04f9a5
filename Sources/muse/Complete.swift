// `muse complete`: continue raw text, no chat template.
import ArgumentParser
import MuseCore
import MuseEngine

struct Complete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Continue a raw prompt (no chat template).")

    @Argument(help: "The text to continue.")
    var prompt: String

    @Flag(help: "Print one JSON object {tokens, text} instead of streaming text.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup var sampling: SamplingOptions

    func run() async throws {
        let model = try await backendOptions.languageModel(modelOptions)
        let request = GenerationRequest(prompt: .text(prompt), sampling: sampling.parameters,
                                        maxTokens: sampling.maxTokens, stop: sampling.stop, format: try sampling.outputFormat())
        if json {
            let result = try await Collected.run(model, request)
            try Terminal.json(CompleteJSON(tokens: result.tokens, text: result.text, finish_reason: result.finish.rawValue,
                                           usage: UsageJSON(result.usage), timings: TimingsJSON(result.timings)))
        } else {
            Terminal.write(prompt)
            _ = try await Collected.run(model, request) { Terminal.write($0) }
            Terminal.write("\n")
        }
    }
}

private struct CompleteJSON: Encodable {
    var tokens: [Int32]
    var text: String
    var finish_reason: String
    var usage: UsageJSON
    var timings: TimingsJSON
}
