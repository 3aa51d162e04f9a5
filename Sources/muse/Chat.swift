// `muse chat`: an interactive conversation, answered in Instant mode, that keeps its history (and
// its KV cache) between turns.
import ArgumentParser
import Foundation
import MuseAgents
import MuseCore

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
        let assistant = Assistant(model: model, sampling: sampling.parameters, maxAnswerTokens: sampling.maxTokens)
        let options = InstantOptions(stop: sampling.stop, format: try sampling.outputFormat())
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
            do {
                // A model's own reasoning goes to standard error, ahead of its answer.
                var reasoningOpen = false, answer = ""
                for try await event in assistant.answer(history, options: options) {
                    switch event {
                    case .text(_, let text):
                        if reasoningOpen { Terminal.status(""); reasoningOpen = false }
                        Terminal.write(text)
                    case .reasoning(_, let text):
                        if !reasoningOpen { Terminal.statusInline("[thinking] "); reasoningOpen = true }
                        Terminal.statusInline(text)
                    case .finished(let choice): answer = choice.answer
                    case .token, .trace, .usage: break
                    }
                }
                Terminal.write("\n")
                history.append(.assistant(answer))
            } catch {
                history.removeLast()
                Terminal.status("error: \(error)")
            }
        }
    }
}
