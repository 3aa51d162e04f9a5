// `muse ask`: one question, answered in the chosen mode, streamed (or as one JSON object).
import ArgumentParser
import Foundation
import MuseAgents
import MuseCore
import MuseEngine

struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer one question with the model's chat template.")

    @Argument(help: "The question.")
    var question: String

    @Option(help: "A system prompt.")
    var system: String?

    @Option(help: "instant (answer directly), thinking (reason, then answer) or contemplating (several agents in parallel, then one synthesis).")
    var mode = Mode.Kind.instant

    @Option(help: "Contemplating: how many agents (default 4).")
    var agents: Int?

    @Option(help: "Contemplating: rounds of parallel agents (default 1).")
    var rounds: Int?

    @Option(help: "Thinking, and each Contemplating agent: the most reasoning tokens (default 256).")
    var budget: Int?

    @Option(help: "Contemplating: a JSON file of perspectives [{\"role\": ..., \"instruction\": ...}].")
    var perspectives: String?

    @Option(name: .customLong("subagents"), help: "Split the task into at most N parts worked on by sub-agents at once, then answer from their results.")
    var subagents: Int?

    @Flag(help: "Show the agents, votes and reasoning as they happen (on standard error).")
    var trace = false

    @Flag(help: "Print one JSON object {answer, reasoning, mode, agents, usage, timings} instead of streaming text.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var toolOptions: ToolOptions

    func validate() throws {
        if let agents, !(1...32).contains(agents) { throw ValidationError("--agents must be between 1 and 32") }
        if let rounds, !(1...8).contains(rounds) { throw ValidationError("--rounds must be between 1 and 8") }
        if let budget, budget < 1 { throw ValidationError("--budget must be positive") }
        if let subagents, !(1...8).contains(subagents) { throw ValidationError("--subagents must be between 1 and 8") }
    }

    func run() async throws {
        let chosen = Mode(mode, agents: agents, budget: budget, rounds: rounds)
        var views = Perspective.defaults
        if let perspectives {
            do {
                views = try JSONDecoder().decode([Perspective].self, from: Data(contentsOf: URL(fileURLWithPath: perspectives)))
            } catch {
                throw ValidationError("cannot read perspectives from \(perspectives): \(error.localizedDescription)")
            }
        }
        let model = try await backendOptions.languageModel(modelOptions)
        var assistant = Assistant(model: model, sampling: sampling.parameters, maxAnswerTokens: sampling.maxTokens,
                                  perspectives: views)
        let base = assistant, subAgentLimits = SubAgentLimits(maxAgents: subagents ?? 3, maxTokens: sampling.maxTokens)
        let mcp = try await toolOptions.connectMCP(trace: trace && !json)
        do {
            assistant.tools = try toolOptions.settings(mcp: mcp) { SpawnAgentsTool(assistant: base, limits: subAgentLimits) }
            try await answer(assistant, mode: chosen)
        } catch {
            await mcp?.close()
            throw error
        }
        await mcp?.close()
    }

    private func answer(_ assistant: Assistant, mode chosen: Mode) async throws {
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        messages.append(.user(question))

        var result: AssistantResult?
        var streamedAnswer = false, reasoningOpen = false
        var calls: [AskJSON.Call] = []
        // With the spawn_agents tool the model splits the task itself; --subagents then only sets the limit.
        let planned = toolOptions.tools?.contains("spawn_agents") == true ? nil : subagents
        let events = planned.map { assistant.runWithSubAgents(messages, limits: SubAgentLimits(maxAgents: $0, maxTokens: sampling.maxTokens)) }
            ?? assistant.run(messages, mode: chosen)
        for try await event in events {
            switch event {
            case .answer(nil, let text):
                if reasoningOpen { Terminal.status(""); reasoningOpen = false }
                if !json { Terminal.write(text); streamedAnswer = true }
            case .reasoning(nil, let text):
                if trace && !json {
                    if !reasoningOpen { Terminal.statusInline("[thinking] "); reasoningOpen = true }
                    Terminal.statusInline(text)
                }
            case let .agentStarted(id, role, _):
                if trace && !json { Terminal.status("[agent \(id) \(role)] started") }
            case .agentFinished(let record):
                if trace && !json {
                    let outcome = record.failure.map { "failed: \($0)" } ?? record.answer.replacingOccurrences(of: "\n", with: " ")
                    Terminal.status(String(format: "[agent %d %@] %@ (%d tokens, %.2f s)", record.id, record.role, outcome, record.tokens, record.seconds))
                }
            case let .vote(winner, counts):
                if trace && !json {
                    Terminal.status("[vote] \(winner.isEmpty ? "tie" : winner) — " + counts.sorted { $0.value > $1.value }.map { "\($0.key)×\($0.value)" }.joined(separator: ", "))
                }
            case .distilled(let summary):
                if trace && !json { Terminal.status("[distilled] \(summary.replacingOccurrences(of: "\n", with: " "))") }
            case .refining:
                if trace && !json { Terminal.status("[refining]") }
            case let .subtaskStarted(id, role, task):
                if trace && !json { Terminal.status("[sub-agent \(id) \(role)] \(task)") }
            case .subtaskFinished(let record):
                if trace && !json {
                    let outcome = record.failure.map { "failed: \($0)" } ?? record.answer.replacingOccurrences(of: "\n", with: " ")
                    Terminal.status(String(format: "[sub-agent %d %@ done] %@ (%d tokens, %.2f s)", record.id, record.role, outcome, record.tokens, record.seconds))
                }
            case let .toolCall(_, call):
                calls.append(AskJSON.Call(id: call.id, name: call.name, arguments: call.arguments))
                if trace && !json { Terminal.status("[tool] \(call.name)(\(call.arguments))") }
            case let .toolResult(_, r):
                if let i = calls.firstIndex(where: { $0.id == r.callID }) {
                    calls[i].result = r.content
                    calls[i].error = r.isError
                }
                if trace && !json {
                    Terminal.status(String(format: "[tool] %@ → %@ (%.2f s)", r.name, r.content.replacingOccurrences(of: "\n", with: " "), r.seconds))
                }
            case let .unreadableToolCall(_, error):
                if trace && !json { Terminal.status("[tool] a call could not be read: \(error.replacingOccurrences(of: "\n", with: " "))") }
            case .done(let r):
                result = r
            case .answer, .reasoning:
                break
            }
        }
        guard let result else { return }
        if json {
            var out = AskJSON(result)
            out.tool_calls = calls
            try Terminal.json(out)
        } else if streamedAnswer {
            Terminal.write(result.answer.hasSuffix("\n") ? "" : "\n")
        }
    }
}

private struct AskJSON: Encodable {
    struct Agent: Encodable {
        var role: String
        var answer: String
        var tokens: Int
        var seconds: Double
        var error: String?
    }
    struct Timing: Encodable {
        var seconds: Double
    }
    struct Call: Encodable {
        var id: String
        var name: String
        var arguments: String
        var result: String?
        var error: Bool?
    }
    var answer: String
    var reasoning: String
    var mode: String
    var agents: [Agent]
    var usage: UsageJSON
    var timings: Timing
    var tool_calls: [Call] = []

    init(_ r: AssistantResult) {
        answer = r.answer
        reasoning = r.reasoning
        mode = r.mode
        agents = r.agents.map { Agent(role: $0.role, answer: $0.answer, tokens: $0.tokens, seconds: $0.seconds, error: $0.failure) }
        usage = UsageJSON(r.usage)
        timings = Timing(seconds: r.seconds)
    }
}
