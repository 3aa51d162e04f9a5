// `muse chat`: an interactive conversation that keeps its history (and its KV cache) between turns.
import ArgumentParser
import Foundation
import MuseCore
import MuseEngine

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk with the model. /reset starts over, /exit (or end of input) leaves.")

    @Option(help: "A system prompt.")
    var system: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup var sampling: SamplingOptions

    func run() async throws {
        let model = try await backendOptions.languageModel(modelOptions)
        let start: [ChatMessage] = system.map { [.system($0)] } ?? []
        var history = start
        Terminal.status("\(model.name) — /reset to start over, /exit to leave.")
        while true {
            Terminal.write("> ")
            guard let line = readLine() else { break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/exit" || input == "/quit" { break }
            if input == "/reset" {
                history = start
                Terminal.status("(conversation cleared)")
                continue
            }
            history.append(.user(input))
            let request = GenerationRequest(prompt: .chat(history), sampling: sampling.parameters,
                                            maxTokens: sampling.maxTokens, stop: sampling.stop, format: try sampling.outputFormat())
            do {
                // A model's own reasoning goes to standard error, ahead of its answer.
                var reasoningOpen = false
                let reply = try await Collected.run(model, request, onText: { text in
                    if reasoningOpen { Terminal.status(""); reasoningOpen = false }
                    Terminal.write(text)
                }, onReasoning: { text in
                    if !reasoningOpen { Terminal.statusInline("[thinking] "); reasoningOpen = true }
                    Terminal.statusInline(text)
                })
                Terminal.write("\n")
                history.append(.assistant(reply.text))
            } catch {
                history.removeLast()
                Terminal.status("error: \(error)")
            }
        }
    }
}
