// `muse eval`: accuracy, latency and tokens of a mode on a question set.
import ArgumentParser
import Foundation
import MuseAgents
import MuseEngine

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run {\"question\", \"answer\"} lines (JSON Lines) in a mode and report accuracy, latency and tokens.")

    @Argument(help: "A .jsonl file; the project ships evals/arithmetic.jsonl.")
    var file: String

    @Option(help: "instant, thinking or contemplating.")
    var mode = Mode.Kind.instant

    @Option(help: "Contemplating: how many agents (default 4).")
    var agents: Int?

    @Option(help: "Thinking, and each Contemplating agent: the most reasoning tokens (default 256).")
    var budget: Int?

    @Option(help: "Only the first N questions.")
    var limit: Int?

    @Flag(help: "Print one JSON object with the summary and every result.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup var sampling: SamplingOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
    }

    func run() async throws {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        var items = try Evaluation.load(text)
        if let limit { items = Array(items.prefix(limit)) }
        let chosen = Mode(mode, agents: agents, budget: budget)
        let model = try await backendOptions.languageModel(modelOptions)
        let assistant = Assistant(model: model, sampling: sampling.parameters, maxAnswerTokens: sampling.maxTokens)
        let report = try await Evaluation.run(items, assistant: assistant, mode: chosen) { i, r in
            if !json {
                let outcome = r.error.map { "failed: \($0)" } ?? r.answer.prefix(80).replacingOccurrences(of: "\n", with: " ")
                Terminal.status("\(i + 1)/\(items.count) \(r.correct ? "✓" : "✗") \(r.question) → \(outcome)")
            }
        }
        if json { return try Terminal.json(report) }
        Terminal.write(String(format: "%@: %d/%d correct (%.1f%%), %.2f s and %.0f tokens per question on average\n",
                              report.mode, report.correct, report.questions, report.accuracy * 100, report.meanSeconds, report.meanTokens))
        if report.failed > 0 { Terminal.write("\(report.failed) question(s) failed; `--json` gives each error\n") }
    }
}
